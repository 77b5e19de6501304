package policy

import (
	"cmp"
	"context"
	"fmt"
	"strings"
	"sync"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/aws/arn"

	"github.com/eks-least-privilege/uploader/internal/creds"
	"github.com/eks-least-privilege/uploader/internal/token"
)

// TrustInputs are what a role's trust policy is rendered from, as given
// (the command's flags); [RoleTrust] fills the empty ones.
type TrustInputs struct {
	Mode                      creds.Mode // irsa, pod-identity or ModeAssumeRole
	Namespace, ServiceAccount string     // IRSA: the pod's
	Account                   string     // the role's AWS account
	Issuer                    string     // IRSA: the cluster's OIDC issuer URL
	Cluster                   string     // Pod Identity: the EKS cluster's name
	SourceRoleARN             string     // assume-role: the role that assumes this one
	ExternalID                string     // assume-role: the sts:ExternalId required
	// TagSession is assume-role's sts:TagSession; nil: allowed when the SDK
	// resolves pod-identity (EKS tags a target role's session).
	TagSession *bool
}

// ModeAssumeRole is the trust of a role assumed with sts:AssumeRole from
// another role: the bucket owner's writer role, reached from the pod's.
const ModeAssumeRole creds.Mode = "assume-role"

// RoleTrust renders the trust policy the role needs for in.Mode. What in
// leaves empty comes from env (os.Getenv in the pod: the downward API's
// namespace and service account, AWS_ROLE_ARN's account, the projected
// token's iss, namespace and service account), and the mode and account, if
// still unknown, from the identity the SDK resolves with awsCfg: asked only
// then, since it fails when the trust policy is what is wrong, but still
// names the mode tried.
func RoleTrust(ctx context.Context, awsCfg aws.Config, env func(key string) string, in TrustInputs) ([]byte, error) {
	if in.Mode == ModeAssumeRole {
		return assumeRoleTrust(ctx, awsCfg, in)
	}
	in.Namespace, in.ServiceAccount = cmp.Or(in.Namespace, env(creds.EnvPodNamespace)), cmp.Or(in.ServiceAccount, env(creds.EnvPodServiceAccount))
	if r, err := arn.Parse(env(creds.EnvRoleARN)); in.Account == "" && err == nil {
		in.Account = r.AccountID
	}
	if in.Mode == "" || in.Account == "" {
		id, _ := creds.Resolve(ctx, awsCfg)
		in.Mode, in.Account = cmp.Or(in.Mode, id.Mode), cmp.Or(in.Account, id.Account)
	}
	switch in.Mode {
	case creds.ModeIRSA:
		if c, err := token.Read(env(creds.EnvWebIdentityTokenFile)); err == nil {
			in.Issuer, in.Namespace, in.ServiceAccount = cmp.Or(in.Issuer, c.Issuer), cmp.Or(in.Namespace, c.Namespace), cmp.Or(in.ServiceAccount, c.ServiceAccount)
		}
		return IRSATrust{Account: in.Account, Issuer: in.Issuer, Namespace: in.Namespace, ServiceAccount: in.ServiceAccount}.Trust()
	case creds.ModePodIdentity:
		return PodIdentityTrust{Account: in.Account, Region: awsCfg.Region, Cluster: in.Cluster}.Trust()
	}
	return nil, fmt.Errorf("policy trust: the credentials are of mode %q: pass --mode irsa, pod-identity or assume-role", in.Mode)
}

// assumeRoleTrust fills in and renders [AssumeRoleTrust]: the source role
// is in's, else the first hop of the SDK's role chain, else the role the SDK
// resolves (the pod's own, before the chain exists); the external id is
// in's, else the profile's external_id.
func assumeRoleTrust(ctx context.Context, awsCfg aws.Config, in TrustInputs) ([]byte, error) {
	t := AssumeRoleTrust{SourceRoleARN: in.SourceRoleARN, ExternalID: in.ExternalID}
	if chain, ok := creds.ProfileChain(awsCfg); ok {
		t.ExternalID = cmp.Or(t.ExternalID, chain.ExternalID)
	}
	if t.SourceRoleARN == "" || in.TagSession == nil {
		id, err := creds.Resolve(ctx, awsCfg)
		if t.SourceRoleARN == "" {
			if t.SourceRoleARN = cmp.Or(id.SourceRoleARN, id.RoleARN); t.SourceRoleARN == "" {
				return nil, fmt.Errorf("policy trust: --source-role-arn not given and the SDK resolves no role (%v)", errOr(err, "mode "+string(id.Mode)))
			}
		}
		t.TagSession = id.Mode == creds.ModePodIdentity
	}
	if in.TagSession != nil {
		t.TagSession = *in.TagSession
	}
	return t.Trust()
}

// WriterInputs are what the writer role's documents take besides the
// [Target], as given (the command's flags); [Writer] fills the empty ones.
type WriterInputs struct {
	RoleARN string // key, bucket: the writer role
	Account string // bucket: the bucket owner's account
}

// Writer renders doc, "identity", "key" or "bucket", for t. What t and in
// leave empty comes from the identity the SDK resolves with awsCfg, asked
// only when needed: a key id's account (the caller's, where S3 looks it
// up), the writer role (the role resolved, the last of a chain) and the
// owner's account (the caller's).
func Writer(ctx context.Context, awsCfg aws.Config, doc string, t Target, in WriterInputs) ([]byte, error) {
	resolved := sync.OnceValues(func() (creds.Identity, error) { return creds.Resolve(ctx, awsCfg) })
	if t.kms() && t.KeyAccount == "" && !strings.HasPrefix(t.KMSKeyID, "arn:") && !strings.HasPrefix(t.KMSKeyID, "alias/") {
		id, err := resolved()
		if err != nil || id.Account == "" {
			return nil, fmt.Errorf("policy %s: key id %s is in the caller's account, which is unknown (%v): give --kms-key as a key ARN", doc, t.KMSKeyID, errOr(err, "no account"))
		}
		t.KeyAccount = id.Account
	}
	if doc == "identity" {
		return t.Identity()
	}
	if in.RoleARN == "" {
		id, err := resolved()
		if in.RoleARN = id.RoleARN; err != nil || in.RoleARN == "" {
			return nil, fmt.Errorf("policy %s: --role-arn not given and the SDK resolves no role (%v)", doc, errOr(err, "mode "+string(id.Mode)))
		}
	}
	switch doc {
	case "key":
		return t.KeyStatement(in.RoleARN)
	case "bucket":
		if in.Account == "" {
			id, err := resolved()
			if in.Account = id.Account; err != nil || in.Account == "" {
				return nil, fmt.Errorf("policy bucket: --account not given and the caller's account is unknown (%v)", errOr(err, "no account"))
			}
		}
		return t.BucketPolicy(in.RoleARN, in.Account)
	}
	return nil, fmt.Errorf("policy: no writer document %q: want identity, key or bucket", doc)
}

// errOr is err, or why when err is nil, for a message.
func errOr(err error, why string) any {
	if err != nil {
		return err
	}
	return why
}
