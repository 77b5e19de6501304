package creds

import (
	"context"
	"errors"
	"fmt"
	"net"
	"os"
	"strings"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/feature/ec2/imds"
	"github.com/aws/smithy-go"

	"github.com/eks-least-privilege/uploader/internal/failure"
)

// Reasons a credential error is classified under (see [Reason]). The set is
// fixed so it can label a metric.
const (
	ReasonNotFound            = "not_found"            // nothing configured, no instance role, missing token file
	ReasonExpired             = "expired"              // an expired token or credentials
	ReasonDenied              = "denied"               // the credential service refused (403, AccessDenied)
	ReasonIMDSUnreachable     = "imds_unreachable"     // instance metadata did not answer (hop limit, network)
	ReasonEndpointUnreachable = "endpoint_unreachable" // STS or the container endpoint did not answer
	ReasonInvalid             = "invalid"              // malformed token, unknown key, bad signature
	ReasonOther               = "other"                // anything else
)

// Reasons lists every reason [Reason] can return for a non-nil error, to
// initialise metric labels to zero.
var Reasons = []string{ReasonNotFound, ReasonExpired, ReasonDenied, ReasonIMDSUnreachable, ReasonEndpointUnreachable, ReasonInvalid, ReasonOther}

// imdsHint names the usual cause of IMDS failures from a pod.
const imdsHint = "IMDSv2 from a container needs the instance metadata hop limit set to 2 (HttpPutResponseHopLimit)"

// Error is a failure to retrieve credentials, with the mode the SDK was trying.
type Error struct {
	Mode   Mode   // the mode of the provider that failed
	Source string // the provider's source name, when known
	Reason string // one of Reasons
	Err    error  // the SDK's error
}

// Error returns a message naming the mode, the SDK's error and a hint.
func (e *Error) Error() string {
	var b strings.Builder
	fmt.Fprintf(&b, "retrieve aws credentials (mode %s", e.Mode)
	if e.Source != "" {
		fmt.Fprintf(&b, ", source %s", e.Source)
	}
	fmt.Fprintf(&b, "): %v", e.Err)
	if h := hint(e.Mode, e.Reason, failure.HTTPStatus(e.Err)); h != "" {
		b.WriteString(": " + h)
	}
	return b.String()
}

// Unwrap returns the SDK's error.
func (e *Error) Unwrap() error { return e.Err }

// hint names what to look at for a failure of mode m; status is the HTTP
// status of the service's answer (0: none). A server error or no answer is
// not the trust policy's doing.
func hint(m Mode, reason string, status int) string {
	switch {
	case status >= 500:
		return fmt.Sprintf("the credential service failed on its side (HTTP %d) after the SDK's retries: a service error, not a refusal; the next cycle tries again", status)
	case m == ModeIRSA && reason == ReasonEndpointUnreachable:
		return "STS did not answer: check that it is reachable from the pod (an STS VPC endpoint, egress to 443 in the NetworkPolicy, AWS_ENDPOINT_URL_STS)"
	case m == ModeNodeRole && reason == ReasonNotFound:
		return "no credentials configured (no keys, no IRSA or Pod Identity) and no instance role available"
	case m == ModeNodeRole:
		return imdsHint
	case m == ModeIRSA:
		return "check AWS_ROLE_ARN, the projected token file and the role's trust policy for this service account"
	case m == ModePodIdentity:
		return "check the Pod Identity association and that the eks-pod-identity-agent runs on the node"
	case reason == ReasonNotFound:
		return "no credentials configured"
	}
	return ""
}

// Reason classifies a credential error into one of [Reasons]; it returns ""
// for nil.
func Reason(err error) string {
	if err == nil {
		return ""
	}
	var e *Error
	if errors.As(err, &e) && e.Reason != "" {
		return e.Reason
	}
	return classify(err)
}

func classify(err error) string {
	var op *smithy.OperationError
	imdsErr := errors.As(err, &op) && op.ServiceID == imds.ServiceID
	status := failure.HTTPStatus(err)
	var empty *credentials.StaticCredentialsEmptyError
	var netErr net.Error
	var canceled *aws.RequestCanceledError
	switch {
	case errors.As(err, &empty), errors.Is(err, os.ErrNotExist):
		return ReasonNotFound
	case tokenFileUnreadable(err):
		return ReasonNotFound
	case imdsErr && strings.Contains(err.Error(), "access disabled to EC2 IMDS"):
		return ReasonNotFound
	case imdsErr && status == 404:
		return ReasonNotFound
	case imdsErr:
		return ReasonIMDSUnreachable
	}
	if r, ok := kindReasons[failure.Classify(err)]; ok {
		return r
	}
	switch {
	case status == 404:
		return ReasonNotFound
	case errors.As(err, &netErr), errors.As(err, &canceled),
		errors.Is(err, context.DeadlineExceeded), errors.Is(err, context.Canceled):
		return ReasonEndpointUnreachable
	}
	return ReasonOther
}

// kindReasons maps the kinds of AWS errors (STS, S3, the container endpoint)
// to reasons; the other kinds are ReasonOther.
var kindReasons = map[failure.Kind]string{
	failure.KindExpired:            ReasonExpired,
	failure.KindDenied:             ReasonDenied,
	failure.KindInvalidKey:         ReasonInvalid,
	failure.KindInvalidToken:       ReasonInvalid,
	failure.KindUnavailable:        ReasonEndpointUnreachable,
	failure.KindNoSuchBucket:       ReasonOther,
	failure.KindNoSuchUpload:       ReasonOther,
	failure.KindThrottled:          ReasonOther,
	failure.KindClockSkew:          ReasonOther,
	failure.KindPreconditionFailed: ReasonOther,
	failure.KindKMS:                ReasonOther,
}

// tokenFileUnreadable recognises the SDK's failures to read a projected token
// file (IRSA, Pod Identity): both providers format the os error with %v, so
// errors.Is(err, fs.ErrNotExist) cannot see it.
func tokenFileUnreadable(err error) bool {
	msg := err.Error()
	return strings.Contains(msg, "failed to retrieve jwt from provide source") ||
		strings.Contains(msg, "failed to read authorization token from")
}
