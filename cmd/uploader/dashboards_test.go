package main

import (
	"io"
	"log/slog"
	"maps"
	"regexp"
	"slices"
	"strings"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/prometheus/client_golang/prometheus"

	"github.com/eks-least-privilege/uploader/internal/creds"
	"github.com/eks-least-privilege/uploader/internal/cycle"
	"github.com/eks-least-privilege/uploader/internal/privilege"
	"github.com/eks-least-privilege/uploader/test/testenv"
)

// servedMetrics gathers the names of every metric family the daemon
// registers, from the same constructors run uses.
func servedMetrics(t *testing.T) []string {
	t.Helper()
	reg := prometheus.NewRegistry()
	if _, err := cycle.NewMetrics(reg, version); err != nil {
		t.Fatal(err)
	}
	if _, err := creds.NewWatcher(aws.Config{}, slog.New(slog.NewTextHandler(io.Discard, nil)), reg); err != nil {
		t.Fatal(err)
	}
	if _, err := privilege.NewCheckMetric(reg); err != nil {
		t.Fatal(err)
	}
	mfs, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, mf := range mfs {
		names = append(names, mf.GetName())
	}
	// Vectors without a child yet are not gathered: name them from the docs.
	for _, n := range []string{"uploader_aws_credentials_info", "uploader_least_privilege_ok"} {
		if !slices.Contains(names, n) {
			names = append(names, n)
		}
	}
	return names
}

var promQLMetric = regexp.MustCompile(`\b(?:uploader|process|go)_[a-z0-9_]+\b`)

// TestDashboardsQueryServedMetrics checks that the Grafana dashboard and the
// PrometheusRule alerts query only metrics the uploader really serves.
func TestDashboardsQueryServedMetrics(t *testing.T) {
	served := servedMetrics(t)
	files := testenv.RepoFiles(t, "deploy/components/monitoring/*.yaml", "deploy/grafana/dashboard.json")
	seen := 0
	for _, f := range slices.Sorted(maps.Keys(files)) {
		for _, name := range promQLMetric.FindAllString(files[f], -1) {
			seen++
			base := name
			for _, suffix := range []string{"_bucket", "_sum", "_count"} {
				if b, ok := strings.CutSuffix(name, suffix); ok && slices.Contains(served, b) {
					base = b
				}
			}
			if !slices.Contains(served, base) {
				t.Errorf("%s queries %s, which the uploader does not serve", f, name)
			}
		}
	}
	if seen < 10 {
		t.Errorf("found %d metric references in %v, want the dashboard and alerts", seen, files)
	}
}
