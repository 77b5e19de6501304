// Package failure holds what several packages need to classify the same
// errors the same way: the AWS error codes the uploader meets, each with one
// [Kind], and the kinds of a network failure. The packages that own the
// reasons (creds, upload, privilege, fetch) map a Kind to their own reason;
// none of them keeps its own list of AWS codes.
package failure

import (
	"context"
	"errors"
	"net"
	"net/http"
	"syscall"

	"github.com/aws/smithy-go"
)

// Kind is what an AWS error means for the caller, whichever API returned it.
type Kind int

// The kinds of AWS errors. KindUnknown is an error without a known code or a
// telling HTTP status.
const (
	KindUnknown            Kind = iota
	KindDenied                  // the policy refuses the action
	KindInvalidKey              // an access key id the service does not know, or a bad signature
	KindExpired                 // expired credentials or session token
	KindInvalidToken            // a session or web identity token the service rejects
	KindNoSuchBucket            // the bucket does not exist
	KindThrottled               // slow down, try later
	KindPreconditionFailed      // a conditional write found the key taken
	KindClockSkew               // the request's time is too far from the service's
	KindUnavailable             // the service (or its identity provider) did not serve
	KindNoSuchUpload            // the multipart upload is gone (aborted or completed)
	KindKMS                     // S3 cannot use the KMS key of an SSE-KMS write: missing, disabled, pending deletion
)

// Codes maps every AWS error code the uploader classifies to its kind: S3,
// STS, the container credentials endpoint, and MinIO's own codes.
var Codes = map[string]Kind{
	"AccessDenied":          KindDenied,
	"AccessDeniedException": KindDenied,
	"AllAccessDisabled":     KindDenied,
	"Forbidden":             KindDenied,
	"UnauthorizedOperation": KindDenied,
	"IDPRejectedClaim":      KindDenied,

	"InvalidAccessKeyId":          KindInvalidKey,
	"InvalidClientTokenId":        KindInvalidKey,
	"SignatureDoesNotMatch":       KindInvalidKey,
	"IncompleteSignature":         KindInvalidKey,
	"MissingAuthenticationToken":  KindInvalidKey,
	"UnrecognizedClientException": KindInvalidKey,

	"ExpiredToken":          KindExpired,
	"ExpiredTokenException": KindExpired,
	"RequestExpired":        KindExpired,
	"TokenRefreshRequired":  KindExpired,

	"InvalidToken":          KindInvalidToken,
	"InvalidTokenId":        KindInvalidToken, // MinIO: a session token it does not know
	"InvalidIdentityToken":  KindInvalidToken,
	"InvalidTokenException": KindInvalidToken, // the Pod Identity agent
	"ValidationError":       KindInvalidToken, // STS: a malformed web identity token or role

	"NoSuchBucket": KindNoSuchBucket,

	"NoSuchUpload": KindNoSuchUpload,

	"SlowDown":            KindThrottled,
	"Throttling":          KindThrottled,
	"ThrottlingException": KindThrottled,

	"PreconditionFailed": KindPreconditionFailed,

	"RequestTimeTooSkewed": KindClockSkew,

	// S3 relays KMS's refusal of the key (KMS.*), MinIO its own KMS's.
	"KMS.NotFoundException":        KindKMS,
	"KMS.DisabledException":        KindKMS,
	"KMS.KMSInvalidStateException": KindKMS,
	"kms:KeyNotFound":              KindKMS,

	"ServiceUnavailable":    KindUnavailable,
	"IDPCommunicationError": KindUnavailable,
}

// Classify returns the kind of an AWS error: by its error code when the code
// is one of [Codes], else by its HTTP status (401 and 403 are denials, 412 a
// failed precondition, 503 unavailable), else KindUnknown.
func Classify(err error) Kind {
	var api smithy.APIError
	if errors.As(err, &api) {
		if k, ok := Codes[api.ErrorCode()]; ok {
			return k
		}
	}
	switch HTTPStatus(err) {
	case http.StatusUnauthorized, http.StatusForbidden:
		return KindDenied
	case http.StatusPreconditionFailed:
		return KindPreconditionFailed
	case http.StatusServiceUnavailable:
		return KindUnavailable
	}
	return KindUnknown
}

// HTTPStatus returns the HTTP status of the response behind err, 0 when there
// was none.
func HTTPStatus(err error) int {
	var status interface{ HTTPStatusCode() int }
	if errors.As(err, &status) {
		return status.HTTPStatusCode()
	}
	return 0
}

// Credentials reports whether a kind says the credentials themselves are bad
// (unknown key, bad signature, expired or invalid token), which tells nothing
// about what a policy allows.
func (k Kind) Credentials() bool {
	return k == KindInvalidKey || k == KindExpired || k == KindInvalidToken
}

// The reasons of a network failure, shared by every package that makes
// requests.
const (
	ReasonTimeout = "timeout"
	ReasonNetwork = "network"
	ReasonOther   = "other"
)

// NetworkCause names why a request got no answer in a few words, read from
// the error's type, never its text: "timeout", "connection refused",
// "connection reset", "no route to host", "network is unreachable" or
// "no such host"; for any other error what [Network] says ("network" or
// "other"). It is for messages; a metric label takes [Network].
func NetworkCause(err error) string {
	var dns *net.DNSError
	switch {
	case Network(err) == ReasonTimeout:
		return ReasonTimeout
	case errors.Is(err, syscall.ECONNREFUSED):
		return "connection refused"
	case errors.Is(err, syscall.ECONNRESET):
		return "connection reset"
	case errors.Is(err, syscall.EHOSTUNREACH):
		return "no route to host"
	case errors.Is(err, syscall.ENETUNREACH):
		return "network is unreachable"
	case errors.As(err, &dns) && dns.IsNotFound:
		return "no such host"
	}
	return Network(err)
}

// Network returns ReasonTimeout for a deadline or a network timeout,
// ReasonNetwork for another network error, ReasonOther for anything else.
func Network(err error) string {
	var netErr net.Error
	switch {
	case errors.Is(err, context.DeadlineExceeded), errors.As(err, &netErr) && netErr.Timeout():
		return ReasonTimeout
	case errors.As(err, &netErr):
		return ReasonNetwork
	}
	return ReasonOther
}
