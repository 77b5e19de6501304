package cycle

import (
	"math"
	"sync/atomic"
	"time"
)

// staleSlack is added to the liveness window: a cycle may overrun its
// deadline a little while it logs and counts.
const staleSlack = 10 * time.Second

// Health is what /healthz and /readyz report. Only this package writes it:
// the loop beats and records each cycle's outcome, the [Gate] records whether
// credentials resolve.
type Health struct {
	start     time.Time
	stale     time.Duration // the loop is dead when it has not beaten for this long
	firstWait time.Duration // ready before the first success until start+firstWait
	lastBeat  atomic.Int64  // unix nanoseconds
	credsOK   atomic.Bool
	lastOK    atomic.Bool
	stopped   atomic.Bool
}

// NewHealth returns the health of a loop that starts at start and runs a
// cycle (of at most cycleTimeout) every interval. It is alive from start and
// not ready until credentials resolve.
func NewHealth(start time.Time, interval, cycleTimeout time.Duration) *Health {
	h := &Health{start: start, stale: addSat(addSat(interval, cycleTimeout), staleSlack), firstWait: interval}
	h.beat(start)
	return h
}

// addSat adds two non-negative durations, saturating instead of overflowing.
func addSat(a, b time.Duration) time.Duration {
	if a > math.MaxInt64-b {
		return math.MaxInt64
	}
	return a + b
}

func (h *Health) beat(t time.Time) { h.lastBeat.Store(t.UnixNano()) }

// Alive reports whether the loop still runs and is not stuck.
func (h *Health) Alive(now time.Time) bool {
	return !h.stopped.Load() && now.Sub(time.Unix(0, h.lastBeat.Load())) <= h.stale
}

// Ready reports whether credentials resolved and the last cycle succeeded,
// or the process is still within its first interval.
func (h *Health) Ready(now time.Time) bool {
	return h.credsOK.Load() && (h.lastOK.Load() || now.Sub(h.start) < h.firstWait)
}
