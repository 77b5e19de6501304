// Package deploy holds the delivery files of the uploader: the kustomize
// bases, credential-mode components and overlays, the AWS policies and EKS
// demo scripts, the Grafana and Prometheus files. Its only code embeds the
// policy templates of aws/ so that the program and the test harness render
// the very files an operator applies (see internal/policy). Its tests render
// and check all of the files, and the compose file and scripts at the
// repository root, offline.
package deploy

import _ "embed"

// IdentityPolicyTemplate is aws/iam-policy.json: the uploader's put-only
// identity policy, with {{BUCKET}} and {{PREFIX}} placeholders.
//
//go:embed aws/iam-policy.json
var IdentityPolicyTemplate string
