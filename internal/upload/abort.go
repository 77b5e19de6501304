package upload

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/prometheus/client_golang/prometheus"

	"github.com/eks-least-privilege/uploader/internal/failure"
)

// ReasonUnavailable is an abort S3 did not serve: a 5xx answer or a request
// to slow down.
const ReasonUnavailable = "unavailable"

// AbortReasons lists every reason [AbortReason] can return: the reason label
// of uploader_multipart_abort_failures_total.
var AbortReasons = []string{ReasonDenied, ReasonNoSuchBucket, ReasonUnavailable, ReasonTimeout, ReasonNetwork, ReasonOther}

// AbortReason classifies why AbortMultipartUpload failed, as [Reason] does
// for an upload, with S3's 5xx and throttling apart (ReasonUnavailable):
// those, timeouts and network errors are transient and retried.
func AbortReason(err error) string {
	switch k := failure.Classify(err); {
	case k == failure.KindDenied, k.Credentials():
		return ReasonDenied
	case k == failure.KindNoSuchBucket:
		return ReasonNoSuchBucket
	case k == failure.KindThrottled, k == failure.KindUnavailable, failure.HTTPStatus(err) >= 500:
		return ReasonUnavailable
	case k != failure.KindUnknown:
		return ReasonOther
	}
	return failure.Network(err)
}

func transient(reason string) bool {
	return reason == ReasonUnavailable || reason == ReasonTimeout || reason == ReasonNetwork
}

// NewAbortFailures registers uploader_multipart_abort_failures_total{reason}
// with reg, every reason of AbortReasons at zero, for Options.AbortFailures.
func NewAbortFailures(reg prometheus.Registerer) (*prometheus.CounterVec, error) {
	c := prometheus.NewCounterVec(prometheus.CounterOpts{
		Namespace: "uploader", Name: "multipart_abort_failures_total",
		Help: "Multipart uploads left behind because AbortMultipartUpload failed, by reason; the bucket's lifecycle rule removes them.",
	}, []string{"reason"})
	for _, r := range AbortReasons {
		c.WithLabelValues(r)
	}
	if err := reg.Register(c); err != nil {
		return nil, fmt.Errorf("register abort metrics: %w", err)
	}
	return c, nil
}

// Backoff between abort attempts: 100ms, doubling up to 1s, until the
// transfer manager's context (Options.AbortTimeout) ends.
const (
	abortFirstRetry = 100 * time.Millisecond
	abortMaxRetry   = time.Second
)

// tmClient adapts API to the transfer manager's client interface, which also
// lists download calls that uploads never make, and takes over its abort.
type tmClient struct {
	API
	logger   *slog.Logger
	failures *prometheus.CounterVec // nil: not counted
}

// AbortMultipartUpload aborts the multipart upload, retrying transient
// failures with backoff within ctx (the transfer manager's fresh context,
// bounded by Options.AbortTimeout). An upload that could not be aborted is
// logged at WARN with its key, upload id and why, and counted; it stays
// invisible (never completed) until the bucket's lifecycle rule removes it.
// The failure is handled here, so nil is returned: the upload's own error,
// which the transfer manager would otherwise fold into text, keeps its cause.
func (c tmClient) AbortMultipartUpload(ctx context.Context, in *s3.AbortMultipartUploadInput, opts ...func(*s3.Options)) (*s3.AbortMultipartUploadOutput, error) {
	delay := abortFirstRetry
	for attempt := 1; ; attempt++ {
		_, err := c.API.AbortMultipartUpload(ctx, in, opts...)
		if err == nil || failure.Classify(err) == failure.KindNoSuchUpload {
			// NoSuchUpload: an earlier attempt went through, its
			// answer lost; nothing is left either way.
			return &s3.AbortMultipartUploadOutput{}, nil
		}
		reason := AbortReason(err)
		if transient(reason) && sleep(ctx, delay) {
			delay = min(2*delay, abortMaxRetry)
			continue
		}
		c.logger.Warn("multipart upload not aborted", "key", aws.ToString(in.Key), "upload_id", aws.ToString(in.UploadId),
			"reason", reason, "attempts", attempt, "err", err)
		if c.failures != nil {
			c.failures.WithLabelValues(reason).Inc()
		}
		return &s3.AbortMultipartUploadOutput{}, nil
	}
}

// sleep waits d unless ctx ends first, or would end before d is over; it
// reports whether there is time left for another attempt.
func sleep(ctx context.Context, d time.Duration) bool {
	if deadline, ok := ctx.Deadline(); ok && time.Until(deadline) < d {
		return false
	}
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return false
	case <-t.C:
		return true
	}
}

var errNotUsed = errors.New("upload: operation not used by uploads")

func (tmClient) GetObject(context.Context, *s3.GetObjectInput, ...func(*s3.Options)) (*s3.GetObjectOutput, error) {
	return nil, errNotUsed
}

func (tmClient) HeadObject(context.Context, *s3.HeadObjectInput, ...func(*s3.Options)) (*s3.HeadObjectOutput, error) {
	return nil, errNotUsed
}

func (tmClient) ListObjectsV2(context.Context, *s3.ListObjectsV2Input, ...func(*s3.Options)) (*s3.ListObjectsV2Output, error) {
	return nil, errNotUsed
}
