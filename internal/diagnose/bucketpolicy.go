package diagnose

import (
	"errors"
	"fmt"
	"slices"
	"strings"

	"github.com/aws/smithy-go"

	"github.com/eks-least-privilege/uploader/internal/failure"
	"github.com/eks-least-privilege/uploader/internal/upload"
)

// What AWS writes in a denial that a resource-based policy (the bucket
// policy) explicitly denied, and in any explicit deny.
const (
	resourceDeny = "explicit deny in a resource-based policy"
	explicitDeny = "explicit deny"
)

// writes are the S3 operations that carry the encryption headers.
var writes = []string{"PutObject", "CreateMultipartUpload"}

// bucketPolicy diagnoses an S3 request denied explicitly, as AWS's message
// says: encryption_required when a write that asked for no KMS key (S3_SSE
// empty or AES256, or aws:kms without a key) was explicitly denied, the
// usual bucket policy of hardened accounts; bucket_policy_denied when the
// bucket policy (a resource-based policy) denied it, whatever the request.
// MinIO says only "Access Denied.": neither is diagnosed there.
func bucketPolicy(err error, enc upload.Encryption) []Diagnosis {
	var api smithy.APIError
	if err == nil || !errors.As(err, &api) || failure.Classify(err) != failure.KindDenied {
		return nil
	}
	msg := api.ErrorMessage()
	lower := strings.ToLower(msg)
	if !strings.Contains(lower, explicitDeny) {
		return nil
	}
	op := operationOf(err)
	var out []Diagnosis
	if isWrite(op) && (!enc.SSE.KMS() || enc.KMSKeyID == "") {
		out = append(out, Diagnosis{
			Name: EncryptionRequired,
			Observed: fmt.Sprintf("%s asking encryption %q was explicitly denied (%s %q): buckets that enforce encryption deny a put "+
				"without x-amz-server-side-encryption, or with another algorithm or key", op, enc.String(), api.ErrorCode(), truncate(msg, 300)),
			Fix: "set S3_SSE (and S3_SSE_KMS_KEY_ID) to what the bucket policy demands: its Deny statements' conditions on " +
				"s3:x-amz-server-side-encryption and s3:x-amz-server-side-encryption-aws-kms-key-id (aws s3api get-bucket-policy, in the owner's account); " +
				"uploader policy bucket prints such a statement for the configured encryption",
		})
	}
	if strings.Contains(lower, resourceDeny) {
		out = append(out, Diagnosis{
			Name:     BucketPolicyDenied,
			Observed: fmt.Sprintf("the bucket policy explicitly denied %s: %s %q", orRequest(op), api.ErrorCode(), truncate(msg, 300)),
			Fix: "an explicit deny wins over any allow: meet its condition or have the bucket owner change it (aws s3api get-bucket-policy); " +
				"the usual ones: aws:SecureTransport (an https endpoint), s3:x-amz-server-side-encryption (S3_SSE, S3_SSE_KMS_KEY_ID), " +
				"aws:SourceVpce or aws:SourceVpc (requests through the VPC endpoint), aws:PrincipalArn (the role); " +
				"uploader policy bucket prints the statements a bucket in another account needs for this role",
		})
	}
	return out
}

// operationOf returns the SDK operation of err ("PutObject"), or "".
func operationOf(err error) string {
	var op *smithy.OperationError
	if errors.As(err, &op) {
		return op.OperationName
	}
	return ""
}

func isWrite(op string) bool { return slices.Contains(writes, op) }

func orRequest(op string) string {
	if op == "" {
		return "the request"
	}
	return op
}
