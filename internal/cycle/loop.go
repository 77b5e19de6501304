package cycle

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"math/rand/v2"
	"time"

	"github.com/eks-least-privilege/uploader/internal/diagnose"
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
// a failed cycle of a stage, as attributes of its line, the end of the
// upload diagnoses once an image is stored; for the start, the diagnoses in
// force and those of a failed S3 call.
type Explainer interface {
	Failed(stage string, err error) []slog.Attr
	Succeeded()
	List() diagnose.List
	Storage(err error) diagnose.List
}

// Timing is when cycles run and how long each may take. Every field is
// required: Interval and CycleTimeout above zero, ShutdownTimeout zero or
// more (zero: the cycle in flight ends with ctx).
type Timing struct {
	Interval        time.Duration // between the starts of two cycles
	CycleTimeout    time.Duration // deadline of one cycle
	ShutdownTimeout time.Duration // what the cycle in flight gets after ctx ends
}

// Options are the loop's optional knobs; each zero value is documented.
type Options struct {
	Count       int              // uploads before Run returns; 0: forever
	MaxFailures int              // with a Count, failed cycles in a row before Run gives up; 0: the first
	Explain     Explainer        // nil: failure lines carry no diagnoses
	Now         func() time.Time // nil: time.Now
	Jitter      func() float64   // in [0, 1) for backoffs; nil: math/rand
}

// Loop runs cycles of credentials, fetch and upload, one at a time. Make one
// with [New].
type Loop struct {
	creds    CredentialGate
	fetcher  Fetcher
	uploader Uploader
	keys     func(ext string) string // a fresh object key for an extension
	timing   Timing
	metrics  *Metrics
	health   *Health
	logger   *slog.Logger
	opts     Options
}

// New returns a Loop that checks the credentials with gate, fetches with
// fetcher and stores with uploader under the keys keys makes, on timing;
// it counts in metrics, reports to health and logs to logger. Every
// parameter but opts is required.
func New(gate CredentialGate, fetcher Fetcher, uploader Uploader, keys func(ext string) string,
	timing Timing, metrics *Metrics, health *Health, logger *slog.Logger, opts Options) (*Loop, error) {
	var problems []error
	for _, dep := range []struct {
		name    string
		missing bool
	}{
		{"credential gate", gate == nil}, {"fetcher", fetcher == nil}, {"uploader", uploader == nil}, {"keys", keys == nil},
		{"metrics", metrics == nil}, {"health", health == nil}, {"logger", logger == nil},
	} {
		if dep.missing {
			problems = append(problems, fmt.Errorf("%s: required, nil", dep.name))
		}
	}
	if timing.Interval <= 0 || timing.CycleTimeout <= 0 || timing.ShutdownTimeout < 0 {
		problems = append(problems, fmt.Errorf("timing: interval and cycle timeout must be > 0, shutdown timeout >= 0, got %+v", timing))
	}
	if err := errors.Join(problems...); err != nil {
		return nil, fmt.Errorf("new loop: %w", err)
	}
	if opts.Now == nil {
		opts.Now = time.Now
	}
	if opts.Jitter == nil {
		opts.Jitter = rand.Float64
	}
	return &Loop{creds: gate, fetcher: fetcher, uploader: uploader, keys: keys, timing: timing,
		metrics: metrics, health: health, logger: logger, opts: opts}, nil
}

// ErrTooManyFailures ends a Job that failed MaxFailures cycles in a row.
var ErrTooManyFailures = errors.New("too many consecutive failures")

// Run runs cycles until ctx is cancelled (returns nil), Count uploads are
// done (nil), or, with a Count, MaxFailures cycles in a row failed. When it
// returns, the health reports the loop dead.
func (l *Loop) Run(ctx context.Context) error {
	defer l.health.stopped.Store(true)
	var done, failed, consecutive int
	timer := time.NewTimer(0) // the first cycle starts at once
	defer timer.Stop()
	for {
		l.health.beat(l.opts.Now())
		select {
		case <-ctx.Done():
			return nil
		case <-timer.C:
		}
		if ctx.Err() != nil {
			// Both were ready: never start a cycle after the stop signal.
			return nil
		}
		start := l.opts.Now()
		l.health.beat(start)
		if l.cycle(ctx) {
			done++
			consecutive = 0
			l.health.lastOK.Store(true)
			if l.opts.Count > 0 && done >= l.opts.Count {
				l.logger.Info("upload count reached, exiting", "uploads", done, "failures", failed)
				return nil
			}
			timer.Reset(max(0, l.timing.Interval-l.opts.Now().Sub(start)))
			continue
		}
		if ctx.Err() != nil {
			// Stopped during the cycle: a shutdown, not a failure to give up on.
			return nil
		}
		failed++
		consecutive++
		l.health.lastOK.Store(false)
		if l.opts.Count > 0 && consecutive >= l.opts.MaxFailures {
			l.logger.Error("giving up", "uploads", done, "failures", failed, "consecutive_failures", consecutive)
			return fmt.Errorf("%w: %d in a row (%d uploads done of %d)", ErrTooManyFailures, consecutive, done, l.opts.Count)
		}
		timer.Reset(l.backoff(consecutive))
	}
}

// backoff is exponential from 1s (or the interval when shorter), with full
// jitter in its upper half, and never more than the interval: a failing
// source is never hammered, and recovery is never slower than the schedule.
func (l *Loop) backoff(consecutive int) time.Duration {
	base := min(time.Second, l.timing.Interval)
	d := l.timing.Interval
	if consecutive < 30 {
		d = min(l.timing.Interval, base<<(consecutive-1))
	}
	return d/2 + time.Duration(l.opts.Jitter()*float64(d/2))
}
