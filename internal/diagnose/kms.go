package diagnose

import (
	"errors"
	"fmt"
	"regexp"
	"strings"

	"github.com/aws/smithy-go"

	"github.com/eks-least-privilege/uploader/internal/failure"
	"github.com/eks-least-privilege/uploader/internal/upload"
)

// kmsAction finds the KMS permission an AWS denial names
// ("... not authorized to perform: kms:GenerateDataKey on resource: ...").
var kmsAction = regexp.MustCompile(`\bkms:[A-Za-z]+\b`)

// kmsKeyARN finds a KMS key or alias ARN in a message.
var kmsKeyARN = regexp.MustCompile(`arn:aws[a-z-]*:kms:[a-z0-9-]*:[0-9]{12}:(key|alias)/[A-Za-z0-9/_+=.@-]+`)

// kmsRefusal diagnoses an S3 write refused because of its KMS key: a denial that
// names a kms: permission (S3 relays KMS's AccessDenied for
// kms:GenerateDataKey on the put, kms:Decrypt on a multipart upload), or a
// kmsRefusal error code (failure.KindKMS: the key does not exist, is disabled or
// pending deletion). enc is what the write asked for.
func kmsRefusal(err error, enc upload.Encryption) []Diagnosis {
	var api smithy.APIError
	if err == nil || !errors.As(err, &api) {
		return nil
	}
	msg := api.ErrorMessage()
	action := kmsAction.FindString(msg)
	keyErr := failure.Classify(err) == failure.KindKMS
	if !keyErr && (action == "" || failure.Classify(err) != failure.KindDenied) {
		return nil
	}
	key := enc.KMSKeyID
	if arn := kmsKeyARN.FindString(msg); arn != "" {
		key = arn
	}
	if key == "" {
		key = "the bucket's default key (S3_SSE_KMS_KEY_ID not set)"
	}
	policies := "the identity policy must allow kms:GenerateDataKey and kms:Decrypt (multipart uploads with SSE-KMS need it) on the key, " +
		"conditioned on kms:ViaService s3.REGION.amazonaws.com and the kms:EncryptionContext:aws:s3:arn of the objects " +
		"(the bucket's ARN with S3_BUCKET_KEY_ENABLED): uploader policy identity prints it; " +
		"a key in another account must also allow the role in its key policy: uploader policy key prints the statement"
	if keyErr {
		return []Diagnosis{{
			Name:     KMSAccessDenied,
			Observed: fmt.Sprintf("S3 could not use the KMS key %s: %s %q", key, api.ErrorCode(), truncate(msg, 200)),
			Fix: "S3_SSE_KMS_KEY_ID must name an enabled key in the bucket's region (a key in another account by its key ARN: " +
				"an alias name resolves in the caller's account, and aws/s3 cannot be used across accounts); " +
				"a key that exists but is not granted to the role is reported as not found too: " + policies,
		}}
	}
	return []Diagnosis{{
		Name:     KMSAccessDenied,
		Observed: fmt.Sprintf("the role may not use the KMS key %s: %s lacks %s (%s %q)", key, whoOf(msg), action, api.ErrorCode(), truncate(msg, 300)),
		Fix:      policies,
	}}
}

// whoOf returns the principal an AWS denial names ("User: ARN is not
// authorized ..."), or "the caller".
func whoOf(msg string) string {
	if rest, ok := strings.CutPrefix(msg, "User: "); ok {
		if who, _, ok := strings.Cut(rest, " "); ok {
			return who
		}
	}
	return "the caller"
}
