package deploy

import _ "embed" // the trust policy templates

// IRSATrustPolicyTemplate is aws/irsa-trust-policy.json: the trust policy of
// the IRSA role, with {{ACCOUNT_ID}}, {{OIDC_PROVIDER}}, {{NAMESPACE}} and
// {{SERVICE_ACCOUNT}} placeholders.
//
//go:embed aws/irsa-trust-policy.json
var IRSATrustPolicyTemplate string

// PodIdentityTrustPolicyTemplate is aws/pod-identity-trust-policy.json: the
// trust policy of the EKS Pod Identity role, with {{ACCOUNT_ID}}, {{REGION}}
// and {{CLUSTER_NAME}} placeholders.
//
//go:embed aws/pod-identity-trust-policy.json
var PodIdentityTrustPolicyTemplate string
