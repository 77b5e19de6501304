package creds

import (
	"context"
	"crypto/sha256"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"sync"

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
//
// The source label is the provider name without detail after a colon
// ("SharedConfigCredentials: /path" becomes "SharedConfigCredentials").
type Watcher struct {
	cfg    aws.Config
	sts    *sts.Client // asks for the caller identity
	logger *slog.Logger

	info      *prometheus.GaugeVec
	refreshes prometheus.Counter

	mu      sync.Mutex // guards last, keyHash, have
	last    Identity
	keyHash [sha256.Size]byte // of the raw access key id, which is never stored
	have    bool
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
	}
	for _, c := range []prometheus.Collector{w.info, w.refreshes} {
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
	id, keyID, err := retrieve(ctx, w.cfg.Credentials)
	if err != nil {
		return id, err
	}
	h := sha256.Sum256([]byte(keyID))

	w.mu.Lock()
	defer w.mu.Unlock()
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
	w.last, w.keyHash, w.have = id, h, true
	w.logger.LogAttrs(ctx, slog.LevelInfo, "aws credentials resolved", id.LogValue().Group()...)
	return id, nil
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
