package upload

import (
	"context"
	"errors"

	"github.com/eks-least-privilege/uploader/internal/failure"
)

// Reasons an upload error is classified under (see [Reason]).
const (
	ReasonExists       = "exists"         // the key is taken (ErrExists)
	ReasonDenied       = "denied"         // refused by policy, or credentials S3 does not accept (creds.ReasonDenied's label)
	ReasonNoSuchBucket = "no_such_bucket" // the bucket does not exist
	ReasonTimeout      = failure.ReasonTimeout
	ReasonNetwork      = failure.ReasonNetwork
	ReasonCanceled     = "canceled" // the context was cancelled
	ReasonOther        = failure.ReasonOther
)

// Reasons lists every reason [Reason] can return, to label a metric.
var Reasons = []string{ReasonExists, ReasonDenied, ReasonNoSuchBucket, ReasonTimeout, ReasonNetwork, ReasonCanceled, ReasonOther}

// Reason classifies an upload error: by the AWS error code, then the HTTP
// status (401 and 403 are denials), then the network error. A body that
// failed (a *BodyError) is the source's fault: classify its Err with the
// source's reasons instead.
func Reason(err error) string {
	if errors.Is(err, ErrExists) {
		return ReasonExists
	}
	switch k := failure.Classify(err); {
	case k == failure.KindDenied, k.Credentials():
		return ReasonDenied
	case k == failure.KindNoSuchBucket:
		return ReasonNoSuchBucket
	case k == failure.KindPreconditionFailed:
		return ReasonExists
	case k != failure.KindUnknown:
		return ReasonOther
	}
	if errors.Is(err, context.Canceled) {
		return ReasonCanceled
	}
	return failure.Network(err)
}
