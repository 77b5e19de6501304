package cycle

import (
	"fmt"
	"runtime"
	"slices"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"

	"github.com/eks-least-privilege/uploader/internal/creds"
	"github.com/eks-least-privilege/uploader/internal/fetch"
	"github.com/eks-least-privilege/uploader/internal/upload"
)

// Stages of a cycle, the stage label of uploader_upload_failures_total.
const (
	StageCredentials = "credentials"
	StageFetch       = fetch.StageFetch
	StageValidate    = fetch.StageValidate
	StageUpload      = "upload"
)

// ReasonCycleTimeout counts cycles that UPLOAD_TIMEOUT, the cycle's own
// deadline, ended; whichever error the step in progress then returned.
const ReasonCycleTimeout = "cycle_timeout"

// Reasons is the fixed set of reason labels per stage, built from the sets
// the classifying packages export; every pair is initialised to zero so that
// rate() and alerts see the series from the start.
var Reasons = map[string][]string{
	StageCredentials: append(slices.Clone(creds.Reasons), ReasonModeNotAllowed, ReasonCycleTimeout),
	StageFetch:       append(slices.Clone(fetch.FetchReasons), ReasonCycleTimeout),
	StageValidate:    slices.Clone(fetch.ValidateReasons),
	StageUpload:      append(slices.Clone(upload.Reasons), ReasonCycleTimeout),
}

// Metrics are the loop's Prometheus metrics.
type Metrics struct {
	uploads        prometheus.Counter
	failures       *prometheus.CounterVec
	bytes          prometheus.Counter
	fetchDuration  prometheus.Histogram
	uploadDuration prometheus.Histogram
	lastSuccess    prometheus.Gauge
}

// seconds is a histogram of durations, one bucket layout for every step of a
// cycle: 10ms to about 38s.
func seconds(name, help string) prometheus.Histogram {
	return prometheus.NewHistogram(prometheus.HistogramOpts{
		Namespace: "uploader", Name: name, Help: help,
		Buckets: prometheus.ExponentialBuckets(0.01, 2.5, 10),
	})
}

// NewMetrics registers the loop's metrics, uploader_build_info for version,
// and the Go and process collectors with reg.
func NewMetrics(reg prometheus.Registerer, version string) (*Metrics, error) {
	m := &Metrics{
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
		fetchDuration:  seconds("fetch_duration_seconds", "Time from the image request to its first bytes checked."),
		uploadDuration: seconds("upload_duration_seconds", "Time to stream one image into the bucket, download included."),
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
	for stage, rs := range Reasons {
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
