package diagnose

import (
	"fmt"
	"strings"

	"github.com/eks-least-privilege/uploader/internal/issuer"
	"github.com/eks-least-privilege/uploader/internal/policy"
)

// Signature diagnoses the check of the token in the file named by tokenVar
// against its issuer's published keys (issuer.Client.Examine):
// token_signature_invalid when it does not verify. A check that could not be
// made (the issuer unreachable) is no diagnosis: `uploader check` shows it
// as information, and the daemon never waits on it.
func Signature(r issuer.Report, tokenVar string) []Diagnosis {
	if r.Result != issuer.NotVerified {
		return nil
	}
	return []Diagnosis{{
		Name: TokenSignatureInvalid,
		Observed: fmt.Sprintf("the token in %s (kid %s, alg %s) does not verify against the keys issuer %s publishes: %s",
			tokenVar, dash(r.KeyID), dash(r.Algorithm), dash(r.Issuer), r.Reason),
		Fix: "STS checks the same keys and refuses such a token (InvalidIdentityToken). When no published key has the token's kid, the issuer rotated its signing keys " +
			"(kube-apiserver --service-account-signing-key-file) and publishes only the new one: keep the old public key in --service-account-key-file until every token it signed has expired, " +
			"and the kubelet's next rotation brings a token of the new key. A token that does not match its key is not the kubelet's projected token " +
			"(a copy, another cluster's, an edited file): mount the projected volume and do not replace it",
	}}
}

// IssuerAgreement diagnoses issuer_mismatch: the token's iss and the issuer
// its discovery document names must be the same string, as OIDC and STS
// require; roleProvider, the OIDC provider the role trusts (host and path,
// as IAM names it), must name that issuer too when it is known (empty:
// unknown, not compared).
func IssuerAgreement(r issuer.Report, roleProvider string) []Diagnosis {
	var seen []string
	if r.DiscoveryIssuer != "" && r.DiscoveryIssuer != r.Issuer {
		seen = append(seen, fmt.Sprintf("its discovery document %s names issuer %q", r.DiscoveryURL, r.DiscoveryIssuer))
	}
	if roleProvider != "" && r.Issuer != "" && policy.OIDCProvider(r.Issuer) != roleProvider {
		seen = append(seen, fmt.Sprintf("the role trusts the OIDC provider %q", roleProvider))
	}
	if len(seen) == 0 {
		return nil
	}
	return []Diagnosis{{
		Name:     IssuerMismatch,
		Observed: fmt.Sprintf("the token's iss is %q, but %s", r.Issuer, strings.Join(seen, ", and ")),
		Fix: "the three must be one URL, character for character: the cluster's --service-account-issuer (on EKS, the cluster's OIDC issuer URL), " +
			"the issuer its discovery document states, and the IAM OIDC provider in the role's Federated principal. " +
			"A role that trusts another provider trusts another cluster: `uploader policy trust` prints the trust policy for this token's issuer; " +
			"a discovery document that names another issuer is served for another issuer URL (kube-apiserver --service-account-issuer and --service-account-jwks-uri)",
	}}
}

func dash(s string) string {
	if s == "" {
		return "-"
	}
	return s
}
