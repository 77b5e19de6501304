package diagnose

import (
	"errors"
	"fmt"
	"net/http"
	"strings"

	"github.com/aws/smithy-go"

	"github.com/eks-least-privilege/uploader/internal/failure"
	"github.com/eks-least-privilege/uploader/internal/upload"
)

// policyNamed are the parts of AWS's access-denied messages that say which
// policy refused: such a 403 is that policy's, not an owner mismatch, which
// S3 answers with a bare "Access Denied".
var policyNamed = []string{"not authorized to perform", "explicit deny", "no identity-based policy", "no resource-based policy", "kms:"}

// bucketOwner diagnoses a 403 from S3 while S3_EXPECTED_BUCKET_OWNER is
// set and the refusal names no policy: S3 refuses every request whose
// expected owner is not the bucket's owner that way.
func bucketOwner(err error, owner upload.AccountID) []Diagnosis {
	if err == nil || owner == "" || failure.HTTPStatus(err) != http.StatusForbidden || failure.Classify(err) != failure.KindDenied {
		return nil
	}
	code, msg := "", ""
	var api smithy.APIError
	if errors.As(err, &api) {
		code, msg = api.ErrorCode(), api.ErrorMessage()
	}
	lower := strings.ToLower(msg)
	for _, p := range policyNamed {
		if strings.Contains(lower, p) {
			return nil
		}
	}
	return []Diagnosis{{
		Name: BucketOwnerMismatch,
		Observed: fmt.Sprintf("S3 refused %s with 403 %s %q while S3_EXPECTED_BUCKET_OWNER=%s: S3 answers so when the bucket belongs to another account",
			orRequest(operationOf(err)), code, truncate(msg, 200), owner),
		Fix: "this is what the setting protects against: a bucket of that name owned by another account (deleted and re-created by someone else, " +
			"or a typo in S3_BUCKET_NAME) never receives the images; check who owns the bucket (in its owner's account: aws s3api get-bucket-acl, " +
			"Owner.ID; or aws s3api head-bucket --expected-bucket-owner ACCOUNT) and set S3_EXPECTED_BUCKET_OWNER to the account that should own it; " +
			"if the owner is right, the 403 is a policy's: uploader check shows which actions are denied",
	}}
}
