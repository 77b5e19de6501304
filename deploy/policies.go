package deploy

import _ "embed" // the encryption, bucket and assume-role policy templates

// IdentityKMSPolicyTemplate is aws/iam-policy-kms.json: what the identity
// policy adds for SSE-KMS with a customer managed key, kms:GenerateDataKey and
// kms:Decrypt on {{KEY_ARN}} through S3 in {{REGION}} for the encryption
// context {{ENCRYPTION_CONTEXT_PATTERN}}.
//
//go:embed aws/iam-policy-kms.json
var IdentityKMSPolicyTemplate string

// KeyPolicyStatementTemplate is aws/kms-key-policy-statement.json: the one
// statement the key's policy adds for {{ROLE_ARN}}, with the identity
// policy's KMS conditions.
//
//go:embed aws/kms-key-policy-statement.json
var KeyPolicyStatementTemplate string

// BucketPolicyTemplate is aws/bucket-policy.json: the bucket owner's
// statements, each named by its Sid: the writer role's put from another
// account, the deny of requests without TLS, the denies of puts without the
// configured encryption ({{SSE}}) or key ({{KEY_ARN}}).
//
//go:embed aws/bucket-policy.json
var BucketPolicyTemplate string

// AssumeRoleTrustPolicyTemplate is aws/assume-role-trust-policy.json: the
// trust policy of a role assumed from {{SOURCE_ROLE_ARN}}, with
// sts:ExternalId {{EXTERNAL_ID}}, and the sts:TagSession that EKS Pod
// Identity needs for a target role.
//
//go:embed aws/assume-role-trust-policy.json
var AssumeRoleTrustPolicyTemplate string
