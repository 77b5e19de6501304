package cycle

import (
	"context"
	"errors"
	"time"

	"github.com/eks-least-privilege/uploader/internal/fetch"
	"github.com/eks-least-privilege/uploader/internal/upload"
)

// cycle runs one credentials check, fetch and upload under its own deadline,
// which a cancelled ctx shortens to ShutdownTimeout: the upload in flight may
// finish.
func (l *Loop) cycle(ctx context.Context) bool {
	cctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), l.timing.CycleTimeout)
	defer cancel()
	stop := context.AfterFunc(ctx, func() {
		grace := time.NewTimer(l.timing.ShutdownTimeout)
		defer grace.Stop()
		select {
		case <-grace.C:
			cancel()
		case <-cctx.Done():
		}
	})
	defer stop()
	// The cycle's own deadline ended the step in progress, whatever error
	// that step returned (a body read, an S3 request, a credential lookup).
	expired := func() bool { return errors.Is(cctx.Err(), context.DeadlineExceeded) }

	if reason, err := l.creds.Check(cctx); err != nil {
		if expired() {
			reason = ReasonCycleTimeout
		}
		l.failure(StageCredentials, reason, err)
		return false
	}

	start := l.opts.Now()
	img, err := l.fetcher.Fetch(cctx)
	if err != nil {
		stage, reason := fetch.Reason(err)
		if expired() {
			stage, reason = StageFetch, ReasonCycleTimeout
		}
		l.failure(stage, reason, err)
		return false
	}
	defer img.Body.Close()
	fetched := l.opts.Now()
	l.metrics.fetchDuration.Observe(fetched.Sub(start).Seconds())

	key := l.keys(img.Ext)
	meta := upload.Metadata{ContentType: img.ContentType, Width: img.Width, Height: img.Height}
	res, err := l.uploader.Upload(cctx, key, img.Body, img.Size, meta)
	if err != nil {
		stage, reason := uploadReason(ctx, err)
		if expired() {
			stage, reason = StageUpload, ReasonCycleTimeout
		}
		l.failure(stage, reason, err, "key", key)
		return false
	}
	end := l.opts.Now()
	l.metrics.uploadDuration.Observe(end.Sub(fetched).Seconds())
	l.metrics.uploads.Inc()
	l.metrics.bytes.Add(float64(res.Bytes))
	l.metrics.lastSuccess.Set(float64(end.UnixNano()) / 1e9)
	if l.opts.Explain != nil {
		l.opts.Explain.Succeeded()
	}
	l.logger.Info("object uploaded", "key", key, "bytes", res.Bytes, "content_type", img.ContentType,
		"width", img.Width, "height", img.Height, "fetch_seconds", fetched.Sub(start).Seconds(), "upload_seconds", end.Sub(fetched).Seconds())
	return true
}

// uploadReason classifies a failed upload: the shutdown's cancellation, the
// source's fault when its body failed mid-stream, else S3's.
func uploadReason(ctx context.Context, err error) (stage, reason string) {
	if ctx.Err() != nil && errors.Is(err, context.Canceled) {
		return StageUpload, upload.ReasonCanceled
	}
	if bodyErr := (*upload.BodyError)(nil); errors.As(err, &bodyErr) {
		return fetch.Reason(bodyErr.Err)
	}
	return StageUpload, upload.Reason(err)
}

func (l *Loop) failure(stage, reason string, err error, attrs ...any) {
	l.metrics.failures.WithLabelValues(stage, reason).Inc()
	if l.opts.Explain != nil {
		for _, a := range l.opts.Explain.Failed(stage, err) {
			attrs = append(attrs, a)
		}
	}
	l.logger.Warn("cycle failed", append([]any{"stage", stage, "reason", reason, "err", err}, attrs...)...)
}
