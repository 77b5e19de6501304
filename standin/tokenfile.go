package standin

import (
	"context"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"sync/atomic"
	"time"
)

// dataDir is the symlink the kubelet's atomic writer swaps to publish a new
// version of a projected volume.
const dataDir = "..data"

// WriteTokenFile publishes data at path the way the kubelet updates a
// projected service-account token: it writes a new timestamped directory next
// to path, points the ..data symlink at it with an atomic rename, and makes
// path a symlink to ..data/<name>. A reader opening path sees the old token or
// the new one, never a partial file. data is written as given, so a token
// must not end in a newline (the SDK refuses a Pod Identity token that does).
func WriteTokenFile(path string, data []byte) error {
	dir, name := filepath.Split(path)
	if dir == "" {
		dir = "."
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return fmt.Errorf("write token %s: %w", path, err)
	}
	old, _ := os.Readlink(filepath.Join(dir, dataDir))
	ts, err := os.MkdirTemp(dir, time.Now().UTC().Format("..2006_01_02_15_04_05."))
	if err != nil {
		return fmt.Errorf("write token %s: %w", path, err)
	}
	// 0644 is the kubelet's default mode for projected tokens (defaultMode 420).
	if err := os.WriteFile(filepath.Join(ts, name), data, 0o644); err != nil {
		os.RemoveAll(ts)
		return fmt.Errorf("write token %s: %w", path, err)
	}
	if err := os.Chmod(ts, 0o755); err != nil {
		os.RemoveAll(ts)
		return fmt.Errorf("write token %s: %w", path, err)
	}
	tmp := filepath.Join(dir, dataDir+"_tmp")
	_ = os.Remove(tmp)
	if err := os.Symlink(filepath.Base(ts), tmp); err != nil {
		os.RemoveAll(ts)
		return fmt.Errorf("write token %s: %w", path, err)
	}
	if err := os.Rename(tmp, filepath.Join(dir, dataDir)); err != nil {
		os.Remove(tmp)
		os.RemoveAll(ts)
		return fmt.Errorf("write token %s: %w", path, err)
	}
	if target, err := os.Readlink(path); err != nil || target != filepath.Join(dataDir, name) {
		_ = os.Remove(path)
		if err := os.Symlink(filepath.Join(dataDir, name), path); err != nil {
			return fmt.Errorf("write token %s: %w", path, err)
		}
	}
	if old != "" && old != filepath.Base(ts) && strings.HasPrefix(old, "..") {
		_ = os.RemoveAll(filepath.Join(dir, old))
	}
	return nil
}

// TokenFunc returns a new token and how long it lives.
type TokenFunc func() (token string, lifetime time.Duration, err error)

// TokenWriterOptions change a TokenWriter.
type TokenWriterOptions struct {
	// RefreshFraction is the part of a token's lifetime after which it is
	// rewritten. Zero: 0.8, as the kubelet does.
	RefreshFraction float64
	// RetryInterval is the wait after a failed write. Zero: 1s.
	RetryInterval time.Duration
	// Logger logs writes (never the token). Zero: none.
	Logger *slog.Logger
}

// TokenWriter keeps a token file fresh, as the kubelet keeps a projected
// service-account token.
type TokenWriter struct {
	path   string
	next   TokenFunc
	opts   TokenWriterOptions
	writes atomic.Int64
	// life is the lifetime of the token last written, in nanoseconds.
	life atomic.Int64
}

// NewTokenWriter returns a writer of tokens from next into path.
func NewTokenWriter(path string, next TokenFunc, opts TokenWriterOptions) *TokenWriter {
	if opts.RefreshFraction <= 0 || opts.RefreshFraction >= 1 {
		opts.RefreshFraction = 0.8
	}
	if opts.RetryInterval <= 0 {
		opts.RetryInterval = time.Second
	}
	return &TokenWriter{path: path, next: next, opts: opts}
}

// Path returns the token file path.
func (w *TokenWriter) Path() string { return w.path }

// Writes returns how many tokens have been written.
func (w *TokenWriter) Writes() int64 { return w.writes.Load() }

// Write writes a new token now.
func (w *TokenWriter) Write() error {
	token, life, err := w.next()
	if err != nil {
		return fmt.Errorf("write token %s: %w", w.path, err)
	}
	if strings.ContainsAny(token, "\r\n") {
		return fmt.Errorf("write token %s: token contains a newline", w.path)
	}
	if err := WriteTokenFile(w.path, []byte(token)); err != nil {
		return err
	}
	w.life.Store(int64(life))
	n := w.writes.Add(1)
	if w.opts.Logger != nil {
		w.opts.Logger.Info("token written", "path", w.path, "lifetime_seconds", life.Seconds(), "writes", n)
	}
	return nil
}

// Run rewrites the token at RefreshFraction of each token's lifetime until
// ctx ends, writing one first if Write has not been called. It returns nil
// when ctx ends; failed writes are logged and retried.
func (w *TokenWriter) Run(ctx context.Context) error {
	if w.writes.Load() == 0 {
		if err := w.Write(); err != nil {
			return err
		}
	}
	wait := w.refreshIn()
	for {
		t := time.NewTimer(wait)
		select {
		case <-ctx.Done():
			t.Stop()
			return nil
		case <-t.C:
		}
		if err := w.Write(); err != nil {
			if w.opts.Logger != nil {
				w.opts.Logger.Warn("token write failed", "path", w.path, "err", err)
			}
			wait = w.opts.RetryInterval
			continue
		}
		wait = w.refreshIn()
	}
}

func (w *TokenWriter) refreshIn() time.Duration {
	d := time.Duration(float64(w.life.Load()) * w.opts.RefreshFraction)
	return max(d, 10*time.Millisecond)
}
