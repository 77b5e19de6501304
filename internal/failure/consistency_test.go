package failure_test

import (
	"fmt"
	"slices"
	"testing"

	"github.com/aws/smithy-go"

	"github.com/eks-least-privilege/uploader/internal/creds"
	"github.com/eks-least-privilege/uploader/internal/failure"
	"github.com/eks-least-privilege/uploader/internal/privilege"
	"github.com/eks-least-privilege/uploader/internal/upload"
)

// statusErr is an error with only an HTTP status.
type statusErr struct{ code int }

func (e statusErr) Error() string       { return fmt.Sprintf("http %d", e.code) }
func (e statusErr) HTTPStatusCode() int { return e.code }

// apiErr is an AWS error with a code and a status, as the SDK returns them.
type apiErr struct {
	*smithy.GenericAPIError
	statusErr
}

func (e apiErr) Error() string { return e.GenericAPIError.Error() }

// Every place that classifies AWS errors gives one verdict per code: the
// upload reason, the credential reason and the least-privilege outcome all
// follow the code's Kind.
func TestOneVerdictPerCode(t *testing.T) {
	tests := []struct {
		code      string
		status    int
		kind      failure.Kind
		upload    string
		creds     string
		privilege privilege.Outcome
	}{
		{"AccessDenied", 403, failure.KindDenied, "denied", "denied", privilege.Denied},
		{"InvalidAccessKeyId", 403, failure.KindInvalidKey, "denied", "invalid", privilege.Errored},
		{"SignatureDoesNotMatch", 403, failure.KindInvalidKey, "denied", "invalid", privilege.Errored},
		{"ExpiredToken", 400, failure.KindExpired, "denied", "expired", privilege.Errored},
		{"InvalidToken", 400, failure.KindInvalidToken, "denied", "invalid", privilege.Errored},
		{"InvalidTokenId", 403, failure.KindInvalidToken, "denied", "invalid", privilege.Errored},
		{"NoSuchBucket", 404, failure.KindNoSuchBucket, "no_such_bucket", "other", privilege.Errored},
		{"NoSuchUpload", 404, failure.KindNoSuchUpload, "other", "other", privilege.Errored},
		{"SlowDown", 503, failure.KindThrottled, "other", "other", privilege.Errored},
		{"PreconditionFailed", 412, failure.KindPreconditionFailed, "exists", "other", privilege.Errored},
		{"RequestTimeTooSkewed", 403, failure.KindClockSkew, "other", "other", privilege.Errored},
		// The key, not the policy: the put's permission is not shown either way.
		{"KMS.NotFoundException", 400, failure.KindKMS, "other", "other", privilege.Errored},
		{"kms:KeyNotFound", 400, failure.KindKMS, "other", "other", privilege.Errored},
		// No known code: the status decides.
		{"", 403, failure.KindDenied, "denied", "denied", privilege.Denied},
		{"", 401, failure.KindDenied, "denied", "denied", privilege.Denied},
		{"XMinioSomethingNew", 403, failure.KindDenied, "denied", "denied", privilege.Denied},
	}
	for _, tt := range tests {
		t.Run(fmt.Sprintf("%s %d", tt.code, tt.status), func(t *testing.T) {
			var err error = statusErr{tt.status}
			if tt.code != "" {
				err = apiErr{&smithy.GenericAPIError{Code: tt.code, Message: "m"}, statusErr{tt.status}}
			}
			err = fmt.Errorf("operation: %w", err)
			if got := failure.Classify(err); got != tt.kind {
				t.Errorf("kind: got %v, want %v", got, tt.kind)
			}
			if got := upload.Reason(err); got != tt.upload {
				t.Errorf("upload.Reason: got %q, want %q", got, tt.upload)
			}
			if got := creds.Reason(err); got != tt.creds {
				t.Errorf("creds.Reason: got %q, want %q", got, tt.creds)
			}
			if got := privilege.OutcomeOf(err); got != tt.privilege {
				t.Errorf("privilege outcome: got %q, want %q", got, tt.privilege)
			}
		})
	}
	// Every code of the shared list is in the table or has a kind the
	// table covers.
	var kinds []failure.Kind
	for _, tt := range tests {
		kinds = append(kinds, tt.kind)
	}
	for code, k := range failure.Codes {
		if k != failure.KindUnavailable && !slices.Contains(kinds, k) {
			t.Errorf("code %s: kind %v has no row", code, k)
		}
	}
}
