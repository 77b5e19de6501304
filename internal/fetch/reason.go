package fetch

import (
	"errors"

	"github.com/eks-least-privilege/uploader/internal/failure"
)

// The stages a fetch error belongs to: the download itself, or the check
// that the body is an image within limits.
const (
	StageFetch    = "fetch"
	StageValidate = "validate"
)

// Reasons a fetch error is classified under (see [Reason]), by stage.
const (
	ReasonStatus         = "status"          // the source answered another status than 200 (ErrStatus)
	ReasonBlockedAddress = "blocked_address" // a link-local or metadata address (ErrBlockedAddress)
	ReasonRedirects      = "redirects"       // more redirects than allowed (ErrRedirects)
	ReasonTimeout        = failure.ReasonTimeout
	ReasonNetwork        = failure.ReasonNetwork
	ReasonOther          = failure.ReasonOther

	ReasonNotImage  = "not_image" // not a JPEG, PNG, GIF or WebP whose header parses (ErrNotImage)
	ReasonEmpty     = "empty"     // no body (ErrEmpty)
	ReasonTooLarge  = "too_large" // over MAX_IMAGE_BYTES, declared or read (ErrTooLarge)
	ReasonTruncated = "truncated" // shorter than its declared length (ErrTruncated)
)

// FetchReasons lists every reason [Reason] can return with StageFetch, and
// ValidateReasons every one with StageValidate, to label a metric.
var (
	FetchReasons    = []string{ReasonStatus, ReasonBlockedAddress, ReasonRedirects, ReasonTimeout, ReasonNetwork, ReasonOther}
	ValidateReasons = []string{ReasonNotImage, ReasonEmpty, ReasonTooLarge, ReasonTruncated}
)

// reasons maps each sentinel error to its stage and reason.
var reasons = []struct {
	err           error
	stage, reason string
}{
	{ErrNotImage, StageValidate, ReasonNotImage},
	{ErrEmpty, StageValidate, ReasonEmpty},
	{ErrTooLarge, StageValidate, ReasonTooLarge},
	{ErrTruncated, StageValidate, ReasonTruncated},
	{ErrStatus, StageFetch, ReasonStatus},
	{ErrBlockedAddress, StageFetch, ReasonBlockedAddress},
	{ErrRedirects, StageFetch, ReasonRedirects},
}

// Reason classifies an error of [Client.Fetch], or of reading an
// [Image.Body], into its stage and reason.
func Reason(err error) (stage, reason string) {
	for _, r := range reasons {
		if errors.Is(err, r.err) {
			return r.stage, r.reason
		}
	}
	return StageFetch, failure.Network(err)
}
