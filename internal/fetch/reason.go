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

// Reasons lists, per stage, every reason [Reason] can return, to label a
// metric.
var Reasons = map[string][]string{
	StageFetch:    {"status", "blocked_address", "redirects", failure.ReasonTimeout, failure.ReasonNetwork, failure.ReasonOther},
	StageValidate: {"not_image", "empty", "too_large", "truncated"},
}

// reasons maps each sentinel error to its stage and reason.
var reasons = []struct {
	err           error
	stage, reason string
}{
	{ErrNotImage, StageValidate, "not_image"},
	{ErrEmpty, StageValidate, "empty"},
	{ErrTooLarge, StageValidate, "too_large"},
	{ErrTruncated, StageValidate, "truncated"},
	{ErrStatus, StageFetch, "status"},
	{ErrBlockedAddress, StageFetch, "blocked_address"},
	{ErrRedirects, StageFetch, "redirects"},
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
