package main

import (
	"cmp"
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"strings"
	"sync"

	"github.com/aws/aws-sdk-go-v2/aws"

	"github.com/eks-least-privilege/uploader/internal/creds"
	"github.com/eks-least-privilege/uploader/internal/policy"
)

// modeAssumeRole is `policy trust --mode assume-role`: the trust policy of a
// role assumed from another role (the bucket owner's writer role).
const modeAssumeRole = "assume-role"

// policyDocs are the documents `uploader policy` prints.
var policyDocs = []string{"identity", "key", "bucket", "trust"}

// policyRequest is a parsed `uploader policy` command line: which document,
// and the inputs its flags give (empty: found from the configuration and the
// identity the SDK resolves).
type policyRequest struct {
	doc     string // one of policyDocs
	trust   policy.TrustInputs
	roleARN string // key, bucket: the writer role
	account string // bucket: the bucket owner's account
	kmsKey  string // identity, key, bucket: the KMS key
	// trust --mode assume-role
	sourceRoleARN string
	externalID    string
	tagSession    bool
	tagSessionSet bool // --tag-session was given
}

// parsePolicy reads the arguments of `uploader policy`. It needs no
// configuration, so `uploader policy [DOC] --help` works without
// S3_BUCKET_NAME or AWS_REGION. It returns flag.ErrHelp when help was asked
// for and printed; without a document name it prints the usage and fails.
func parsePolicy(args []string, stdout io.Writer) (policyRequest, error) {
	usage := func() {
		fmt.Fprint(stdout, "usage: uploader policy identity|key|bucket|trust [flags]\n\n"+
			"  identity  the writer role's IAM policy: s3:PutObject under S3_KEY_PREFIX in S3_BUCKET_NAME and,\n"+
			"            with S3_SSE=aws:kms* and a key, exactly the KMS calls a put makes\n"+
			"  key       the statement the KMS key's policy adds for the writer role\n"+
			"  bucket    the bucket owner's bucket-policy statements: the writer role's put from another\n"+
			"            account, denies without TLS and without the configured encryption\n"+
			"  trust     the role's trust policy for the credential mode (irsa, pod-identity, assume-role)\n\n"+
			"`uploader policy DOC --help` lists its flags.\n")
	}
	want := "policy: want " + strings.Join(policyDocs, ", ")
	if len(args) == 0 || isHelp(args[0]) {
		usage()
		if len(args) == 0 {
			return policyRequest{}, errors.New(want)
		}
		return policyRequest{}, flag.ErrHelp
	}
	req := policyRequest{doc: args[0]}
	fs := flag.NewFlagSet("uploader policy "+args[0], flag.ContinueOnError)
	fs.SetOutput(stdout)
	roleFlag := func() {
		fs.StringVar(&req.roleARN, "role-arn", "", "the writer role (default: the role the SDK resolves, the last of a chain)")
	}
	keyFlag := func() {
		fs.StringVar(&req.kmsKey, "kms-key", "", "the KMS key's ARN, or a key id in the caller's account (default: S3_SSE_KMS_KEY_ID; an alias cannot stand in a policy)")
	}
	var mode string
	switch req.doc {
	case "identity":
		keyFlag()
	case "key":
		roleFlag()
		keyFlag()
	case "bucket":
		roleFlag()
		keyFlag()
		fs.StringVar(&req.account, "account", "", "the bucket owner's account (default: the caller's)")
	case "trust":
		in := &req.trust
		fs.StringVar(&mode, "mode", "", "irsa, pod-identity or assume-role (default: the mode the SDK resolves)")
		fs.StringVar(&in.Namespace, "namespace", "", "the pod's namespace (default: $POD_NAMESPACE, else the token's)")
		fs.StringVar(&in.ServiceAccount, "service-account", "", "the pod's service account (default: $POD_SERVICE_ACCOUNT, else the token's)")
		fs.StringVar(&in.Account, "account", "", "the AWS account (default: AWS_ROLE_ARN's, else the caller's)")
		fs.StringVar(&in.Issuer, "issuer", "", "IRSA: the cluster's OIDC issuer URL (default: the token's iss)")
		fs.StringVar(&in.Cluster, "cluster", "", "Pod Identity: the EKS cluster's name")
		fs.StringVar(&req.sourceRoleARN, "source-role-arn", "", "assume-role: the role that assumes this one (default: the first hop of the SDK's chain, else the role it resolves)")
		fs.StringVar(&req.externalID, "external-id", "", "assume-role: the sts:ExternalId required (default: the profile's external_id); for a Pod Identity target role, the association's externalId")
		fs.BoolVar(&req.tagSession, "tag-session", false, "assume-role: also allow sts:TagSession, which EKS Pod Identity needs for a target role (default: when the SDK resolves pod-identity)")
	default:
		usage()
		return policyRequest{}, fmt.Errorf("%s, got %q", want, args[0])
	}
	if err := fs.Parse(args[1:]); err != nil {
		return policyRequest{}, err
	}
	if fs.NArg() > 0 {
		return policyRequest{}, fmt.Errorf("policy %s: unexpected arguments %q", req.doc, fs.Args())
	}
	fs.Visit(func(f *flag.Flag) { req.tagSessionSet = req.tagSessionSet || f.Name == "tag-session" })
	req.trust.Mode = creds.Mode(mode)
	return req, nil
}

// runPolicy prints one IAM policy document as JSON. What the flags leave
// out comes from the configuration (bucket, prefix, region, encryption) and
// from the identity the SDK resolves, asked only when needed.
func runPolicy(ctx context.Context, cfg config, awsCfg aws.Config, req policyRequest, stdout io.Writer) error {
	resolved := sync.OnceValues(func() (creds.Identity, error) { return creds.Resolve(ctx, awsCfg) })
	var doc []byte
	var err error
	switch {
	case req.doc == "trust" && req.trust.Mode == modeAssumeRole:
		doc, err = assumeRoleTrust(awsCfg, req, resolved)
	case req.doc == "trust":
		doc, err = policy.RoleTrust(ctx, awsCfg, os.Getenv, req.trust)
	default:
		doc, err = writerPolicy(cfg, awsCfg, req, resolved)
	}
	if err != nil {
		return err
	}
	_, err = stdout.Write(doc) // the document ends in a newline
	return err
}

// writerPolicy renders the identity policy, the key-policy statement or the
// bucket policy for the uploader's writes.
func writerPolicy(cfg config, awsCfg aws.Config, req policyRequest, resolved func() (creds.Identity, error)) ([]byte, error) {
	t := policy.Target{Bucket: cfg.Bucket, Prefix: cfg.KeyPrefix, Region: awsCfg.Region,
		SSE: string(cfg.SSE), KMSKeyID: cmp.Or(req.kmsKey, cfg.SSEKMSKeyID), BucketKey: cfg.BucketKey}
	if t.KMSKeyID != "" && !strings.HasPrefix(t.KMSKeyID, "arn:") && !strings.HasPrefix(t.KMSKeyID, "alias/") {
		// A bare key id is in the caller's account, where S3 looks it up.
		id, err := resolved()
		if err != nil || id.Account == "" {
			return nil, fmt.Errorf("policy %s: the account of key id %s is the caller's, which is unknown (%v): give --kms-key as a key ARN", req.doc, t.KMSKeyID, errOr(err, "no account"))
		}
		t.KeyAccount = id.Account
	}
	role := func() (string, error) {
		if req.roleARN != "" {
			return req.roleARN, nil
		}
		id, err := resolved()
		if err != nil || id.RoleARN == "" {
			return "", fmt.Errorf("policy %s: --role-arn not given and the SDK resolves no role (%v)", req.doc, errOr(err, "mode "+string(id.Mode)))
		}
		return id.RoleARN, nil
	}
	switch req.doc {
	case "identity":
		return t.Identity()
	case "key":
		r, err := role()
		if err != nil {
			return nil, err
		}
		return t.KeyStatement(r)
	}
	r, err := role()
	if err != nil {
		return nil, err
	}
	owner := req.account
	if owner == "" {
		id, err := resolved()
		if err != nil || id.Account == "" {
			return nil, fmt.Errorf("policy bucket: --account not given and the caller's account is unknown (%v)", errOr(err, "no account"))
		}
		owner = id.Account
	}
	return t.BucketPolicy(r, owner)
}

// assumeRoleTrust renders the trust policy of a role assumed from the
// source role: the flag's, else the first hop of the SDK's role chain, else
// the role the SDK resolves (the pod's own role, before the chain exists).
func assumeRoleTrust(awsCfg aws.Config, req policyRequest, resolved func() (creds.Identity, error)) ([]byte, error) {
	t := policy.AssumeRoleTrust{SourceRoleARN: req.sourceRoleARN, ExternalID: req.externalID, TagSession: req.tagSession}
	chain, chained := creds.ProfileChain(awsCfg)
	if t.ExternalID == "" && chained {
		t.ExternalID = chain.ExternalID
	}
	if t.SourceRoleARN == "" || !req.tagSessionSet {
		id, err := resolved()
		if t.SourceRoleARN == "" {
			t.SourceRoleARN = cmp.Or(id.SourceRoleARN, id.RoleARN)
			if err != nil || t.SourceRoleARN == "" {
				return nil, fmt.Errorf("policy trust: --source-role-arn not given and the SDK resolves no role (%v)", errOr(err, "mode "+string(id.Mode)))
			}
		}
		if !req.tagSessionSet {
			t.TagSession = id.Mode == creds.ModePodIdentity
		}
	}
	return t.Trust()
}

// errOr is err, or why when err is nil, for a message.
func errOr(err error, why string) any {
	if err != nil {
		return err
	}
	return why
}
