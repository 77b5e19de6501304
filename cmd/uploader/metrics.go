package main

import (
	"fmt"
	"runtime"
	"slices"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"

	"github.com/eks-least-privilege/uploader/internal/creds"
)

// Stages of a cycle, the stage label of uploader_upload_failures_total.
const (
	stageCredentials = "credentials"
	stageFetch       = "fetch"
	stageValidate    = "validate"
	stageUpload      = "upload"
)

// reasons is the fixed set of reason labels per stage; every pair is
// initialised to zero so that rate() and alerts see the series from the start.
var reasons = map[string][]string{
	stageCredentials: append(slices.Clone(creds.Reasons), reasonModeNotAllowed),
	stageFetch:       {"status", "blocked_address", "redirects", "timeout", "network", "other"},
	stageValidate:    {"not_image", "empty", "too_large", "truncated", "other"},
	stageUpload:      {"exists", "access_denied", "no_such_bucket", "timeout", "network", "canceled", "other"},
}

// reasonModeNotAllowed counts cycles whose credentials are of a mode that
// REQUIRE_CREDENTIAL_MODE does not allow.
const reasonModeNotAllowed = "mode_not_allowed"

// metrics are the loop's Prometheus metrics.
type metrics struct {
	uploads        prometheus.Counter
	failures       *prometheus.CounterVec
	bytes          prometheus.Counter
	fetchDuration  prometheus.Histogram
	uploadDuration prometheus.Histogram
	lastSuccess    prometheus.Gauge
}

func newMetrics(reg prometheus.Registerer) (*metrics, error) {
	m := &metrics{
		uploads: prometheus.NewCounter(prometheus.CounterOpts{
			Namespace: "uploader", Name: "uploads_total",
			Help: "Images stored in the bucket.",
		}),
		failures: prometheus.NewCounterVec(prometheus.CounterOpts{
			Namespace: "uploader", Name: "upload_failures_total",
			Help: "Failed cycles by stage (credentials, fetch, validate, upload) and reason.",
		}, []string{"stage", "reason"}),
		bytes: prometheus.NewCounter(prometheus.CounterOpts{
			Namespace: "uploader", Name: "uploaded_bytes_total",
			Help: "Bytes of the images stored in the bucket.",
		}),
		fetchDuration: prometheus.NewHistogram(prometheus.HistogramOpts{
			Namespace: "uploader", Name: "fetch_duration_seconds",
			Help:    "Time from the image request to its first bytes checked.",
			Buckets: prometheus.ExponentialBuckets(0.01, 2.5, 10),
		}),
		uploadDuration: prometheus.NewHistogram(prometheus.HistogramOpts{
			Namespace: "uploader", Name: "upload_duration_seconds",
			Help:    "Time to stream one image into the bucket, download included.",
			Buckets: prometheus.ExponentialBuckets(0.01, 2.5, 10),
		}),
		lastSuccess: prometheus.NewGauge(prometheus.GaugeOpts{
			Namespace: "uploader", Name: "last_success_timestamp_seconds",
			Help: "Unix time of the last image stored.",
		}),
	}
	buildInfo := prometheus.NewGaugeVec(prometheus.GaugeOpts{
		Namespace: "uploader", Name: "build_info",
		Help: "Build of the running uploader; always 1.",
	}, []string{"version", "goversion"})
	buildInfo.WithLabelValues(version, runtime.Version()).Set(1)
	for stage, rs := range reasons {
		for _, r := range rs {
			m.failures.WithLabelValues(stage, r)
		}
	}
	for _, c := range []prometheus.Collector{
		m.uploads, m.failures, m.bytes, m.fetchDuration, m.uploadDuration, m.lastSuccess, buildInfo,
		collectors.NewGoCollector(),
		collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}),
	} {
		if err := reg.Register(c); err != nil {
			return nil, fmt.Errorf("register metrics: %w", err)
		}
	}
	return m, nil
}

// fail counts a failed cycle, folding an unknown reason into "other".
func (m *metrics) fail(stage, reason string) {
	if !slices.Contains(reasons[stage], reason) {
		reason = "other"
	}
	m.failures.WithLabelValues(stage, reason).Inc()
}
