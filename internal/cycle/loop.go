package cycle

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"math/rand/v2"
	"time"

	"github.com/eks-least-privilege/uploader/internal/fetch"
	"github.com/eks-least-privilege/uploader/internal/upload"
)

// Fetcher produces one image per call (a *fetch.Client).
type Fetcher interface {
	Fetch(ctx context.Context) (*fetch.Image, error)
}

// Uploader stores one image under a key (an *upload.Uploader).
type Uploader interface {
	Upload(ctx context.Context, key string, body io.Reader, size int64, meta upload.Metadata) (upload.Result, error)
}

// CredentialGate checks the credentials before each cycle (a *Gate); it
// returns the reason of a failure, one of Reasons[StageCredentials].
type CredentialGate interface {
	Check(ctx context.Context) (reason string, err error)
}

// Explainer names known failures (a *diagnose.Explainer): the diagnoses of
// a failed cycle of a stage, as attributes of its line, and the end of the
// upload diagnoses once an image is stored.
type Explainer interface {
	Failed(stage string, err error) []slog.Attr
	Succeeded()
}

// Loop runs cycles of credentials, fetch and upload, one at a time. Every
// field but Count, Now, Jitter and Explain is required.
type Loop struct {
	Fetcher  Fetcher
	Uploader Uploader
	Creds    CredentialGate
	Keys     func(ext string) string // a fresh object key for an extension
	Metrics  *Metrics
	Health   *Health
	Logger   *slog.Logger

	Interval        time.Duration    // between the starts of two cycles
	Count           int              // uploads before Run returns; 0: forever
	MaxFailures     int              // with a Count, failed cycles in a row before Run gives up
	CycleTimeout    time.Duration    // deadline of one cycle
	ShutdownTimeout time.Duration    // what the cycle in flight gets after ctx ends
	Now             func() time.Time // nil: time.Now
	Jitter          func() float64   // in [0, 1) for backoffs; nil: math/rand
	Explain         Explainer        // nil: failure lines carry no diagnoses
}

// ErrTooManyFailures ends a Job that failed MaxFailures cycles in a row.
var ErrTooManyFailures = errors.New("too many consecutive failures")

// Run runs cycles until ctx is cancelled (returns nil), Count uploads are
// done (nil), or, with a Count, MaxFailures cycles in a row failed. When it
// returns, the health reports the loop dead.
func (l *Loop) Run(ctx context.Context) error {
	if l.Now == nil {
		l.Now = time.Now
	}
	if l.Jitter == nil {
		l.Jitter = rand.Float64
	}
	defer l.Health.stopped.Store(true)
	var done, failed, consecutive int
	timer := time.NewTimer(0) // the first cycle starts at once
	defer timer.Stop()
	for {
		l.Health.beat(l.Now())
		select {
		case <-ctx.Done():
			return nil
		case <-timer.C:
		}
		if ctx.Err() != nil {
			// Both were ready: never start a cycle after the stop signal.
			return nil
		}
		start := l.Now()
		l.Health.beat(start)
		if l.cycle(ctx) {
			done++
			consecutive = 0
			l.Health.lastOK.Store(true)
			if l.Count > 0 && done >= l.Count {
				l.Logger.Info("upload count reached, exiting", "uploads", done, "failures", failed)
				return nil
			}
			timer.Reset(max(0, l.Interval-l.Now().Sub(start)))
			continue
		}
		if ctx.Err() != nil {
			// Stopped during the cycle: a shutdown, not a failure to give up on.
			return nil
		}
		failed++
		consecutive++
		l.Health.lastOK.Store(false)
		if l.Count > 0 && consecutive >= l.MaxFailures {
			l.Logger.Error("giving up", "uploads", done, "failures", failed, "consecutive_failures", consecutive)
			return fmt.Errorf("%w: %d in a row (%d uploads done of %d)", ErrTooManyFailures, consecutive, done, l.Count)
		}
		timer.Reset(l.backoff(consecutive))
	}
}

// backoff is exponential from 1s (or the interval when shorter), with full
// jitter in its upper half, and never more than the interval: a failing
// source is never hammered, and recovery is never slower than the schedule.
func (l *Loop) backoff(consecutive int) time.Duration {
	base := min(time.Second, l.Interval)
	d := l.Interval
	if consecutive < 30 {
		d = min(l.Interval, base<<(consecutive-1))
	}
	return d/2 + time.Duration(l.Jitter()*float64(d/2))
}
