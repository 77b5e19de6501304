package deploy_test

import (
	"encoding/json"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"sigs.k8s.io/kustomize/kyaml/filesys"
	"sigs.k8s.io/yaml"
)

// metricRef finds metric names in PromQL.
var metricRef = regexp.MustCompile(`\b(?:uploader|process|go)_[a-z0-9_]+\b`)

// metricsIn returns the metrics expr queries, histograms by their base name.
// Whether the uploader serves them is checked against its real registry, in
// cmd/uploader (TestDashboardsQueryServedMetrics), not against a list here.
func metricsIn(expr string) []string {
	var found []string
	for _, name := range metricRef.FindAllString(expr, -1) {
		for _, suffix := range []string{"_bucket", "_sum", "_count"} {
			name = strings.TrimSuffix(name, suffix)
		}
		found = append(found, name)
	}
	return found
}

func TestDashboard(t *testing.T) {
	data, err := os.ReadFile("grafana/dashboard.json")
	if err != nil {
		t.Fatal(err)
	}
	var d struct {
		UID    string `json:"uid"`
		Panels []struct {
			Title      string `json:"title"`
			Datasource struct {
				UID string `json:"uid"`
			} `json:"datasource"`
			Targets []struct {
				Expr string `json:"expr"`
			} `json:"targets"`
		} `json:"panels"`
	}
	if err := json.Unmarshal(data, &d); err != nil {
		t.Fatalf("dashboard.json: %v", err)
	}
	var ds struct {
		Datasources []struct {
			UID string `json:"uid"`
		} `json:"datasources"`
	}
	dsData, err := os.ReadFile("grafana/provisioning/datasources/prometheus.yaml")
	if err != nil {
		t.Fatal(err)
	}
	if err := yaml.Unmarshal(dsData, &ds); err != nil {
		t.Fatalf("datasources: %v", err)
	}
	if len(ds.Datasources) != 1 {
		t.Fatalf("got %d provisioned data sources, want 1", len(ds.Datasources))
	}
	used := map[string]bool{}
	for _, p := range d.Panels {
		if p.Datasource.UID != ds.Datasources[0].UID {
			t.Errorf("panel %q: data source %q, want the provisioned %q", p.Title, p.Datasource.UID, ds.Datasources[0].UID)
		}
		if len(p.Targets) == 0 {
			t.Errorf("panel %q has no query", p.Title)
		}
		for _, target := range p.Targets {
			for _, name := range metricsIn(target.Expr) {
				used[name] = true
			}
		}
	}
	for _, name := range []string{
		"uploader_uploads_total", "uploader_upload_failures_total", "uploader_fetch_duration_seconds",
		"uploader_upload_duration_seconds", "uploader_last_success_timestamp_seconds", "uploader_aws_credentials_info",
	} {
		if !used[name] {
			t.Errorf("no panel shows %s", name)
		}
	}
}

// buildMonitoring renders the IRSA Deployment overlay with the monitoring
// component, from a copy of deploy/ so the test writes nothing into the tree.
func buildMonitoring(t *testing.T) manifest {
	t.Helper()
	dir := t.TempDir()
	if err := os.CopyFS(dir, os.DirFS(".")); err != nil {
		t.Fatal(err)
	}
	overlay := filepath.Join(dir, "overlays", "irsa-deployment-monitoring")
	if err := os.MkdirAll(overlay, 0o755); err != nil {
		t.Fatal(err)
	}
	k := "apiVersion: kustomize.config.k8s.io/v1beta1\nkind: Kustomization\nresources: [../../base/deployment]\n" +
		"components: [../../components/irsa, ../../components/monitoring]\n"
	if err := os.WriteFile(filepath.Join(overlay, "kustomization.yaml"), []byte(k), 0o644); err != nil {
		t.Fatal(err)
	}
	return build(t, filesys.MakeFsOnDisk(), overlay)
}

func TestMonitoringComponent(t *testing.T) {
	m := buildMonitoring(t)
	if len(m.rules) != 1 || len(m.monitors) != 1 {
		t.Fatalf("got %d PrometheusRules and %d ServiceMonitors, want 1 each", len(m.rules), len(m.monitors))
	}
	alerts := 0
	for _, g := range m.rules[0].Spec.Groups {
		for _, r := range g.Rules {
			if len(metricsIn(r.Expr)) == 0 {
				t.Errorf("alert %s: %q queries no uploader metric", r.Alert, r.Expr)
			}
			if r.Alert != "" {
				alerts++
			}
			if r.Labels["severity"] == "" {
				t.Errorf("alert %s has no severity", r.Alert)
			}
		}
	}
	if alerts < 4 {
		t.Errorf("got %d alerts, want at least 4 (failing, stale, credentials, least privilege)", alerts)
	}
	sm := m.monitors[0]
	if len(m.services) != 1 || len(sm.Spec.Endpoints) != 1 || sm.Spec.Endpoints[0].Port != m.services[0].Spec.Ports[0].Name {
		t.Errorf("ServiceMonitor endpoints %+v do not scrape the metrics Service port", sm.Spec.Endpoints)
	}
	for k, v := range sm.Spec.Selector.MatchLabels {
		if m.services[0].Labels[k] != v {
			t.Errorf("ServiceMonitor selects %s=%s, which the Service does not carry", k, v)
		}
	}
}
