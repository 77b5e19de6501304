package creds

import (
	"context"
	"crypto/sha256"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"sync"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/sts"
	"github.com/prometheus/client_golang/prometheus"
)

// Watcher checks the credentials each cycle and reports changes: it logs
// "aws credentials resolved" on the first success and whenever the mode,
// source or access key changes, and exports
//
//	uploader_aws_credentials_info{mode,source} 1          the current pair only
//	uploader_aws_credential_refreshes_total               access key id changes
//	uploader_aws_credentials_expiry_timestamp_seconds     when they expire (0: never)
//
// When a refresh fails while the credentials last resolved are still valid
// it warns "aws credentials refresh failing", with how long they have left.
//
// The source label is the provider name without detail after a colon
// ("SharedConfigCredentials: /path" becomes "SharedConfigCredentials").
type Watcher struct {
	cfg    aws.Config
	sts    *sts.Client // asks for the caller identity
	logger *slog.Logger

	info      *prometheus.GaugeVec
	refreshes prometheus.Counter
	expiry    prometheus.Gauge
	now       func() time.Time

	mu      sync.Mutex // guards last, keyHash, have, explain
	last    Identity
	keyHash [sha256.Size]byte // of the raw access key id, which is never stored
	have    bool
	explain ExplainFunc
}

// Event is what a [Watcher] saw, for an [ExplainFunc].
type Event struct {
	// Identity is the identity resolved; after a failure, the mode and
	// source that were tried.
	Identity Identity
	Err      error
	// Last is the identity resolved before, nil until the first success.
	Last *Identity
}

// ExplainFunc names what is wrong with an Event (internal/diagnose); its
// attributes join the "aws credentials resolved" line or the refresh
// warning. It must not log a secret.
type ExplainFunc func(ctx context.Context, ev Event) []slog.Attr

// Explain sets the hook called when the identity changes and after each
// failed retrieval; nil removes it.
func (w *Watcher) Explain(f ExplainFunc) {
	w.mu.Lock()
	defer w.mu.Unlock()
	w.explain = f
}

// NewWatcher returns a Watcher over cfg.Credentials that logs to logger and
// registers its metrics with reg.
func NewWatcher(cfg aws.Config, logger *slog.Logger, reg prometheus.Registerer) (*Watcher, error) {
	if logger == nil {
		return nil, errors.New("creds watcher: nil logger")
	}
	w := &Watcher{
		cfg:    cfg,
		sts:    newCallerClient(cfg),
		logger: logger,
		info: prometheus.NewGaugeVec(prometheus.GaugeOpts{
			Name: "uploader_aws_credentials_info",
			Help: "The AWS credential mode and provider source in use; 1 for the current pair.",
		}, []string{"mode", "source"}),
		refreshes: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "uploader_aws_credential_refreshes_total",
			Help: "Times the resolved AWS access key id changed (temporary credentials refreshed).",
		}),
		expiry: prometheus.NewGauge(prometheus.GaugeOpts{
			Name: "uploader_aws_credentials_expiry_timestamp_seconds",
			Help: "Unix time at which the AWS credentials in use expire; 0 for credentials that do not expire.",
		}),
		now: time.Now,
	}
	for _, c := range []prometheus.Collector{w.info, w.refreshes, w.expiry} {
		if err := reg.Register(c); err != nil {
			return nil, fmt.Errorf("register credential metrics: %w", err)
		}
	}
	return w, nil
}

// Check retrieves credentials through the SDK's cache — cheap unless they
// are near expiry — and returns the current identity. The caller identity is
// asked of STS only when the mode, source or key changes. A failure is
// returned (an *[Error]; see [Reason]) for the caller to log and count under
// stage "credentials"; the metrics keep the last good state.
func (w *Watcher) Check(ctx context.Context) (Identity, error) {
	id, keyID, err := retrieve(ctx, w.cfg)
	w.mu.Lock()
	defer w.mu.Unlock()
	if err != nil {
		w.failed(ctx, id, err)
		return id, err
	}
	h := sha256.Sum256([]byte(keyID))
	w.expiry.Set(0)
	if id.CanExpire {
		w.expiry.Set(float64(id.Expires.UnixNano()) / 1e9)
	}
	if w.have && w.last.Mode == id.Mode && w.last.Source == id.Source && w.keyHash == h {
		w.last.Expires, w.last.CanExpire = id.Expires, id.CanExpire
		return w.last, nil
	}
	lookupCaller(ctx, w.sts, &id)
	if w.have && w.keyHash != h {
		w.refreshes.Inc()
	}
	if !w.have || w.last.Mode != id.Mode || w.last.Source != id.Source {
		w.info.Reset()
		w.info.WithLabelValues(string(id.Mode), SourceLabel(id.Source)).Set(1)
	}
	attrs := id.LogValue().Group()
	if w.explain != nil {
		var last *Identity
		if w.have {
			last = &w.last
		}
		attrs = append(attrs, w.explain(ctx, Event{Identity: id, Last: last})...)
	}
	w.last, w.keyHash, w.have = id, h, true
	w.logger.LogAttrs(ctx, slog.LevelInfo, "aws credentials resolved", attrs...)
	return id, nil
}

// failed explains a failed retrieval and warns when the credentials last
// resolved still work: the SDK refreshes them ahead of their expiry, and the
// time left is the time to fix what the refresh needs. w.mu is held.
func (w *Watcher) failed(ctx context.Context, id Identity, err error) {
	var attrs []slog.Attr
	var last *Identity
	if w.have {
		last = &w.last
	}
	if w.explain != nil {
		attrs = w.explain(ctx, Event{Identity: id, Err: err, Last: last})
	}
	now := w.now()
	if last == nil || !last.CanExpire || !now.Before(last.Expires) {
		return
	}
	attrs = append([]slog.Attr{
		slog.String("mode", string(last.Mode)), slog.Time("expires", last.Expires),
		slog.Float64("remaining_seconds", last.Expires.Sub(now).Seconds()),
		slog.String("reason", Reason(err)), slog.Any("err", err),
	}, attrs...)
	w.logger.LogAttrs(ctx, slog.LevelWarn, "aws credentials refresh failing", attrs...)
}

// SourceLabel is the provider source as a metric label: the name before any
// colon, so a shared config file path does not become a label value.
func SourceLabel(source string) string {
	name, _, _ := strings.Cut(source, ":")
	if name = strings.TrimSpace(name); name == "" {
		return "none"
	}
	return name
}
