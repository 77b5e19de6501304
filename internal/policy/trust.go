package policy

import (
	"errors"
	"fmt"
	"regexp"
	"strings"

	"github.com/eks-least-privilege/uploader/deploy"
)

// IRSAAudience is the audience IRSA tokens carry and the trust policy
// requires.
const IRSAAudience = "sts.amazonaws.com"

// PodIdentityPrincipal is the service principal EKS Pod Identity assumes
// roles as.
const PodIdentityPrincipal = "pods.eks.amazonaws.com"

var (
	accountPattern = regexp.MustCompile(`^[0-9]{12}$`)
	// A DNS-1123 label (namespace) and subdomain (service account).
	labelPattern     = regexp.MustCompile(`^[a-z0-9]([-a-z0-9]{0,61}[a-z0-9])?$`)
	subdomainPattern = regexp.MustCompile(`^[a-z0-9]([-a-z0-9.]{0,251}[a-z0-9])?$`)
	regionPattern    = regexp.MustCompile(`^[a-z]{2}(-[a-z]+)+-[0-9]+$`)
	clusterPattern   = regexp.MustCompile(`^[0-9A-Za-z][A-Za-z0-9_-]{0,99}$`)
	issuerPattern    = regexp.MustCompile(`^[A-Za-z0-9.-]+(:[0-9]+)?(/[A-Za-z0-9._~-]+)*$`)
)

// IRSATrust is what the IRSA trust policy is rendered from.
type IRSATrust struct {
	Account string // the AWS account of the role and the OIDC provider
	// Issuer is the token's iss (https://oidc.eks.REGION.amazonaws.com/id/ID);
	// the provider is named without the scheme.
	Issuer         string
	Namespace      string
	ServiceAccount string
}

// Trust returns the IRSA trust policy for t: sts:AssumeRoleWithWebIdentity
// by the Federated principal arn:aws:iam::ACCOUNT:oidc-provider/ISSUER, only
// when ISSUER:sub is system:serviceaccount:NAMESPACE:SERVICE_ACCOUNT and
// ISSUER:aud is sts.amazonaws.com. The JSON is valid for
// aws iam create-role --assume-role-policy-document. Every problem of t is
// reported at once.
func (t IRSATrust) Trust() ([]byte, error) {
	provider := OIDCProvider(t.Issuer)
	problems := []error{
		match("account", t.Account, accountPattern, "12 digits"),
		match("issuer", provider, issuerPattern, "a host and path, such as oidc.eks.us-east-1.amazonaws.com/id/EXAMPLE"),
		match("namespace", t.Namespace, labelPattern, "a DNS label"),
		match("service account", t.ServiceAccount, subdomainPattern, "a DNS subdomain"),
	}
	if err := errors.Join(problems...); err != nil {
		return nil, fmt.Errorf("render irsa trust policy: %w", err)
	}
	return render(deploy.IRSATrustPolicyTemplate, map[string]string{
		"ACCOUNT_ID": t.Account, "OIDC_PROVIDER": provider,
		"NAMESPACE": t.Namespace, "SERVICE_ACCOUNT": t.ServiceAccount,
	}, "ACCOUNT_ID", "OIDC_PROVIDER", "NAMESPACE", "SERVICE_ACCOUNT")
}

// OIDCProvider is an issuer URL as IAM names its OIDC provider: without
// https:// and a trailing slash.
func OIDCProvider(issuer string) string {
	return strings.TrimSuffix(strings.TrimPrefix(issuer, "https://"), "/")
}

// PodIdentityTrust is what the EKS Pod Identity trust policy is rendered
// from.
type PodIdentityTrust struct {
	Account string // the account of the cluster (aws:SourceAccount)
	Region  string // the cluster's region
	Cluster string // the cluster's name
}

// Trust returns the EKS Pod Identity trust policy for t: sts:AssumeRole and
// sts:TagSession by the service principal pods.eks.amazonaws.com, only when
// aws:SourceAccount is ACCOUNT and aws:SourceArn is the cluster's ARN. The
// JSON is valid for aws iam create-role --assume-role-policy-document.
func (t PodIdentityTrust) Trust() ([]byte, error) {
	problems := []error{
		match("account", t.Account, accountPattern, "12 digits"),
		match("region", t.Region, regionPattern, "a region such as us-east-1"),
		match("cluster", t.Cluster, clusterPattern, "an EKS cluster name"),
	}
	if err := errors.Join(problems...); err != nil {
		return nil, fmt.Errorf("render pod identity trust policy: %w", err)
	}
	return render(deploy.PodIdentityTrustPolicyTemplate, map[string]string{
		"ACCOUNT_ID": t.Account, "REGION": t.Region, "CLUSTER_NAME": t.Cluster,
	}, "ACCOUNT_ID", "REGION", "CLUSTER_NAME")
}

func match(name, v string, re *regexp.Regexp, want string) error {
	switch {
	case v == "":
		return fmt.Errorf("%s: required, empty", name)
	case !re.MatchString(v):
		return fmt.Errorf("%s: must be %s, got %q", name, want, v)
	}
	return nil
}

// AssumeRoleTrust is what the trust policy of a role assumed with
// sts:AssumeRole from another role is rendered from: the bucket owner's
// writer role, reached from the pod's own role (IRSA followed by a profile's
// role_arn, or EKS Pod Identity's target role).
type AssumeRoleTrust struct {
	SourceRoleARN string // the role whose credentials call sts:AssumeRole
	// ExternalID is required in sts:ExternalId when set (the profile's
	// external_id; for an EKS Pod Identity target role, the association's
	// externalId).
	ExternalID string
	// TagSession also allows sts:TagSession, which EKS Pod Identity calls
	// when it assumes a target role with the pod's session tags.
	TagSession bool
}

// Trust returns the trust policy: sts:AssumeRole by the principal
// SourceRoleARN only, with sts:ExternalId equal to ExternalID when set, and
// sts:TagSession when TagSession.
func (t AssumeRoleTrust) Trust() ([]byte, error) {
	if err := checkRole("source role", t.SourceRoleARN); err != nil {
		return nil, fmt.Errorf("render assume-role trust policy: %w", err)
	}
	var doc document
	if err := parse(&doc, deploy.AssumeRoleTrustPolicyTemplate,
		map[string]string{"SOURCE_ROLE_ARN": t.SourceRoleARN, "EXTERNAL_ID": t.ExternalID}, "SOURCE_ROLE_ARN"); err != nil {
		return nil, err
	}
	if t.ExternalID == "" {
		doc.Statement[0].Condition = nil
	}
	if !t.TagSession {
		doc.keep(doc.Statement[0].Sid)
	}
	return marshal(doc)
}
