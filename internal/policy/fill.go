package policy

import (
	"cmp"
	"context"
	"fmt"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/aws/arn"

	"github.com/eks-least-privilege/uploader/internal/creds"
	"github.com/eks-least-privilege/uploader/internal/token"
)

// TrustInputs are what a role's trust policy is rendered from, as given
// (the command's flags); [RoleTrust] fills the empty ones.
type TrustInputs struct {
	Mode                      creds.Mode // irsa or pod-identity
	Namespace, ServiceAccount string     // IRSA: the pod's
	Account                   string     // the role's AWS account
	Issuer                    string     // IRSA: the cluster's OIDC issuer URL
	Cluster                   string     // Pod Identity: the EKS cluster's name
}

// RoleTrust renders the trust policy the role needs for in.Mode. What in
// leaves empty comes from env (os.Getenv in the pod: the downward API's
// namespace and service account, AWS_ROLE_ARN's account, the projected
// token's iss, namespace and service account), and the mode and account, if
// still unknown, from the identity the SDK resolves with awsCfg: asked only
// then, since it fails when the trust policy is what is wrong, but still
// names the mode tried.
func RoleTrust(ctx context.Context, awsCfg aws.Config, env func(key string) string, in TrustInputs) ([]byte, error) {
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
	return nil, fmt.Errorf("policy trust: the credentials are of mode %q: pass --mode irsa or --mode pod-identity", in.Mode)
}
