package privilege

import (
	"fmt"

	"github.com/prometheus/client_golang/prometheus"
)

// CheckMetric exports the outcome of the start-up least-privilege check as
// uploader_least_privilege_ok: 1 when least privilege holds, 0 otherwise.
// Register it only when the check runs, so 0 never means "not checked".
type CheckMetric struct {
	ok prometheus.Gauge
}

// NewCheckMetric registers uploader_least_privilege_ok with reg.
func NewCheckMetric(reg prometheus.Registerer) (*CheckMetric, error) {
	m := &CheckMetric{ok: prometheus.NewGauge(prometheus.GaugeOpts{
		Name: "uploader_least_privilege_ok",
		Help: "1 when the start-up check found least privilege in S3 (PutObject only), 0 otherwise.",
	})}
	if err := reg.Register(m.ok); err != nil {
		return nil, fmt.Errorf("register least-privilege metric: %w", err)
	}
	return m, nil
}

// Set records the result of [Check]: 1 only when the report [Report.Holds]
// and there was no error.
func (m *CheckMetric) Set(r Report, err error) {
	if err == nil && r.Holds() {
		m.ok.Set(1)
		return
	}
	m.ok.Set(0)
}
