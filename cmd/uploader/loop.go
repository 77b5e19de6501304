package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"math/rand/v2"
	"net"
	"sync/atomic"
	"time"

	"github.com/aws/smithy-go"

	"github.com/eks-least-privilege/uploader/internal/fetch"
	"github.com/eks-least-privilege/uploader/internal/upload"
)

// imageFetcher produces one image per call.
type imageFetcher interface {
	Fetch(ctx context.Context) (*fetch.Image, error)
}

// imageUploader stores one image under a key.
type imageUploader interface {
	Upload(ctx context.Context, key string, body io.Reader, size int64, contentType string) (upload.Result, error)
}

// credentialChecker resolves the credentials before each cycle; it returns a
// stage-classified error when they are unusable.
type credentialChecker interface {
	check(ctx context.Context) (reason string, err error)
}

// loop runs cycles of fetch, check and upload, one at a time.
type loop struct {
	fetcher  imageFetcher
	uploader imageUploader
	creds    credentialChecker
	keys     func(ext string) string
	metrics  *metrics
	health   *health
	logger   *slog.Logger

	interval        time.Duration
	count           int // 0: forever
	maxFailures     int // Job mode only
	cycleTimeout    time.Duration
	shutdownTimeout time.Duration
	now             func() time.Time
	jitter          func() float64 // in [0, 1)
}

// errTooManyFailures ends a Job that failed maxFailures cycles in a row.
var errTooManyFailures = errors.New("too many consecutive failures")

// run runs cycles until ctx is cancelled (returns nil), count uploads are done
// (nil), or, in Job mode, maxFailures cycles in a row failed.
func (l *loop) run(ctx context.Context) error {
	var done, failed, consecutive int
	timer := time.NewTimer(0) // the first cycle starts at once
	defer timer.Stop()
	for {
		l.health.beat(l.now())
		select {
		case <-ctx.Done():
			return nil
		case <-timer.C:
		}
		if ctx.Err() != nil {
			// Both were ready: never start a cycle after the stop signal.
			return nil
		}
		start := l.now()
		l.health.beat(start)
		if l.cycle(ctx) {
			done++
			consecutive = 0
			l.health.lastOK.Store(true)
			if l.count > 0 && done >= l.count {
				l.logger.Info("upload count reached, exiting", "uploads", done, "failures", failed)
				return nil
			}
			timer.Reset(max(0, l.interval-l.now().Sub(start)))
			continue
		}
		if ctx.Err() != nil {
			// Stopped during the cycle: a shutdown, not a failure to give up on.
			return nil
		}
		failed++
		consecutive++
		l.health.lastOK.Store(false)
		if l.count > 0 && consecutive >= l.maxFailures {
			l.logger.Error("giving up", "uploads", done, "failures", failed, "consecutive_failures", consecutive)
			return fmt.Errorf("%w: %d in a row (%d uploads done of %d)", errTooManyFailures, consecutive, done, l.count)
		}
		timer.Reset(l.backoff(consecutive))
	}
}

// backoff is exponential from 1s (or the interval when shorter), with full
// jitter in its upper half, and never more than the interval: a failing
// source is never hammered, and recovery is never slower than the schedule.
func (l *loop) backoff(consecutive int) time.Duration {
	base := min(time.Second, l.interval)
	d := l.interval
	if consecutive < 30 {
		d = min(l.interval, base<<(consecutive-1))
	}
	return d/2 + time.Duration(l.jitter()*float64(d/2))
}

// cycle runs one fetch, check and upload under its own deadline, which a
// cancelled ctx shortens to shutdownTimeout: the upload in flight may finish.
func (l *loop) cycle(ctx context.Context) bool {
	cctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), l.cycleTimeout)
	defer cancel()
	stop := context.AfterFunc(ctx, func() {
		grace := time.NewTimer(l.shutdownTimeout)
		defer grace.Stop()
		select {
		case <-grace.C:
			cancel()
		case <-cctx.Done():
		}
	})
	defer stop()

	if reason, err := l.creds.check(cctx); err != nil {
		l.failure(stageCredentials, reason, err)
		return false
	}

	start := l.now()
	img, err := l.fetcher.Fetch(cctx)
	if err != nil {
		stage, reason := classifyFetch(err)
		l.failure(stage, reason, err)
		return false
	}
	defer img.Body.Close()
	fetched := l.now()
	l.metrics.fetchDuration.Observe(fetched.Sub(start).Seconds())

	key := l.keys(img.Ext)
	res, err := l.uploader.Upload(cctx, key, img.Body, img.Size, img.ContentType)
	if err != nil {
		if ctx.Err() != nil && errors.Is(err, context.Canceled) {
			// The shutdown cancelled the upload (and so the body's reads).
			l.failure(stageUpload, "canceled", err, "key", key)
			return false
		}
		// A body that failed mid-stream is the source's fault, not S3's.
		if bodyErr := (*upload.BodyError)(nil); errors.As(err, &bodyErr) {
			stage, reason := classifyFetch(bodyErr.Err)
			l.failure(stage, reason, err, "key", key)
			return false
		}
		l.failure(stageUpload, classifyUpload(err), err, "key", key)
		return false
	}
	end := l.now()
	l.metrics.uploadDuration.Observe(end.Sub(fetched).Seconds())
	l.metrics.uploads.Inc()
	l.metrics.bytes.Add(float64(res.Bytes))
	l.metrics.lastSuccess.Set(float64(end.UnixNano()) / 1e9)
	l.logger.Info("object uploaded", "key", key, "bytes", res.Bytes, "content_type", img.ContentType,
		"fetch_seconds", fetched.Sub(start).Seconds(), "upload_seconds", end.Sub(fetched).Seconds())
	return true
}

func (l *loop) failure(stage, reason string, err error, attrs ...any) {
	l.metrics.fail(stage, reason)
	l.logger.Warn("cycle failed", append([]any{"stage", stage, "reason", reason, "err", err}, attrs...)...)
}

// classifyFetch maps a download error to its stage and reason.
func classifyFetch(err error) (stage, reason string) {
	switch {
	case errors.Is(err, fetch.ErrNotImage):
		return stageValidate, "not_image"
	case errors.Is(err, fetch.ErrEmpty):
		return stageValidate, "empty"
	case errors.Is(err, fetch.ErrTooLarge):
		return stageValidate, "too_large"
	case errors.Is(err, fetch.ErrTruncated):
		return stageValidate, "truncated"
	case errors.Is(err, fetch.ErrStatus):
		return stageFetch, "status"
	case errors.Is(err, fetch.ErrBlockedAddress):
		return stageFetch, "blocked_address"
	case errors.Is(err, fetch.ErrRedirects):
		return stageFetch, "redirects"
	}
	return stageFetch, networkReason(err)
}

// classifyUpload maps an S3 error to its reason.
func classifyUpload(err error) string {
	if errors.Is(err, upload.ErrExists) {
		return "exists"
	}
	var apiErr smithy.APIError
	if errors.As(err, &apiErr) {
		switch apiErr.ErrorCode() {
		case "AccessDenied", "Forbidden", "InvalidAccessKeyId", "SignatureDoesNotMatch", "ExpiredToken", "InvalidToken":
			return "access_denied"
		case "NoSuchBucket":
			return "no_such_bucket"
		}
		return "other"
	}
	if errors.Is(err, context.Canceled) {
		return "canceled"
	}
	return networkReason(err)
}

func networkReason(err error) string {
	var netErr net.Error
	switch {
	case errors.Is(err, context.DeadlineExceeded), errors.As(err, &netErr) && netErr.Timeout():
		return "timeout"
	case errors.As(err, &netErr):
		return "network"
	}
	return "other"
}

// health is what /healthz and /readyz report.
type health struct {
	start     time.Time
	stale     time.Duration // the loop is dead when it has not beaten for this long
	firstWait time.Duration // ready before the first success until start+firstWait
	lastBeat  atomic.Int64  // unix nanoseconds
	credsOK   atomic.Bool
	lastOK    atomic.Bool
	stopped   atomic.Bool
}

func (h *health) beat(t time.Time) { h.lastBeat.Store(t.UnixNano()) }

// alive reports whether the loop still runs and is not stuck.
func (h *health) alive(now time.Time) bool {
	return !h.stopped.Load() && now.Sub(time.Unix(0, h.lastBeat.Load())) <= h.stale
}

// ready reports whether credentials resolved and the last cycle succeeded,
// or the process is still within its first interval.
func (h *health) ready(now time.Time) bool {
	return h.credsOK.Load() && (h.lastOK.Load() || now.Sub(h.start) < h.firstWait)
}

// defaultJitter is the jitter of backoffs.
func defaultJitter() float64 { return rand.Float64() }
