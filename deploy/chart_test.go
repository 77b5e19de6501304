package deploy_test

import (
	"bytes"
	"flag"
	"fmt"
	"maps"
	"os"
	"os/exec"
	"path/filepath"
	"reflect"
	"regexp"
	"slices"
	"strings"
	"testing"

	corev1 "k8s.io/api/core/v1"
	networkingv1 "k8s.io/api/networking/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/yaml"
)

// The Helm chart (charts/uploader), rendered by the real helm binary that
// test/e2e/tools.sh builds from the Go module proxy (make test builds it
// first). Each ci/<mode>-<workload>-values.yaml of the chart says what the
// overlay deploy/overlays/<mode>-<workload> says; the chart's golden output
// is testdata/chart/<mode>-<workload>.yaml (go test ./deploy -run Chart -update
// rewrites it).

var update = flag.Bool("update", false, "rewrite the chart's golden helm template output under testdata/chart")

const (
	chartDir     = "../charts/uploader"
	chartRelease = "uploader" // release and namespace of the kustomize overlays
)

// helmLabels are the labels a Helm chart adds to the kustomize bases' (name
// and part-of): the release, which also joins the selectors so two releases
// in one namespace do not select each other's pods, and Helm's bookkeeping.
var helmLabels = []string{"app.kubernetes.io/instance", "app.kubernetes.io/managed-by", "app.kubernetes.io/version", "helm.sh/chart"}

// helm runs the helm binary: $HELM, else the one on PATH. Outside CI a
// machine without helm skips; with CI=true that fails.
func helm(t *testing.T, args ...string) ([]byte, error) {
	t.Helper()
	bin := os.Getenv("HELM")
	if bin == "" {
		var err error
		if bin, err = exec.LookPath("helm"); err != nil {
			msg := "no helm: run make test (it builds helm with test/e2e/tools.sh helm), or set HELM"
			if os.Getenv("CI") == "true" {
				t.Fatal(msg)
			}
			t.Skip(msg)
		}
	}
	cmd := exec.Command(bin, args...)
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		return out, fmt.Errorf("helm %s: %w: %s", strings.Join(args, " "), err, stderr.String())
	}
	return out, nil
}

// renderChart runs helm template for the release "uploader" in namespace
// "uploader" with the values file of mode-workload and args.
func renderChart(t *testing.T, name string, args ...string) ([]byte, error) {
	t.Helper()
	all := append([]string{"template", chartRelease, chartDir, "--namespace", chartRelease,
		"--values", valuesFile(name)}, args...)
	return helm(t, all...)
}

func valuesFile(name string) string {
	return filepath.Join(chartDir, "ci", name+"-values.yaml")
}

// parseChart decodes helm template output strictly, object by object.
func parseChart(t *testing.T, name string, out []byte) manifest {
	t.Helper()
	m := manifest{yaml: out}
	for _, doc := range regexp.MustCompile(`(?m)^---\s*$`).Split(string(out), -1) {
		var head struct {
			Kind     string `json:"kind"`
			Metadata struct {
				Name string `json:"name"`
			} `json:"metadata"`
		}
		if err := yaml.Unmarshal([]byte(doc), &head); err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		if head.Kind == "" {
			continue // a comment-only document (the source line)
		}
		m.add(t, "chart "+name+": "+head.Kind+"/"+head.Metadata.Name, head.Kind, []byte(doc))
	}
	return m
}

// charts renders the chart for every mode and workload, keyed mode-workload.
func charts(t *testing.T) map[string]manifest {
	t.Helper()
	out := make(map[string]manifest)
	for _, mode := range modes {
		for _, w := range workloads {
			name := mode + "-" + w
			data, err := renderChart(t, name)
			if err != nil {
				t.Fatal(err)
			}
			out[name] = parseChart(t, name, data)
		}
	}
	entries, err := os.ReadDir(filepath.Join(chartDir, "ci"))
	if err != nil {
		t.Fatal(err)
	}
	if got, want := len(entries), len(out); got != want {
		t.Errorf("%s/ci has %d values files, want %d (one per mode and workload)", chartDir, got, want)
	}
	return out
}

func TestChartLint(t *testing.T) {
	for _, mode := range modes {
		for _, w := range workloads {
			name := mode + "-" + w
			t.Run(name, func(t *testing.T) {
				if out, err := helm(t, "lint", "--strict", chartDir, "--namespace", chartRelease, "--values", valuesFile(name)); err != nil {
					t.Errorf("%v\n%s", err, out)
				}
			})
		}
	}
	// The chart's own defaults name no mode, bucket or region: lint fails.
	if _, err := helm(t, "lint", "--strict", chartDir); err == nil {
		t.Error("helm lint of the defaults passed, want the schema to refuse an empty mode, bucket and region")
	}
}

func TestChartGolden(t *testing.T) {
	for _, mode := range modes {
		for _, w := range workloads {
			name := mode + "-" + w
			t.Run(name, func(t *testing.T) {
				got, err := renderChart(t, name)
				if err != nil {
					t.Fatal(err)
				}
				file := filepath.Join("testdata", "chart", name+".yaml")
				if *update {
					if err := os.MkdirAll(filepath.Dir(file), 0o755); err != nil {
						t.Fatal(err)
					}
					if err := os.WriteFile(file, got, 0o644); err != nil {
						t.Fatal(err)
					}
				}
				want, err := os.ReadFile(file)
				if err != nil {
					t.Fatalf("%v (go test ./deploy -run ChartGolden -update writes it)", err)
				}
				if !bytes.Equal(got, want) {
					t.Errorf("helm template differs from %s (go test ./deploy -run ChartGolden -update rewrites it):\n%s",
						file, firstDiff(string(want), string(got)))
				}
			})
		}
	}
}

// firstDiff shows the first line where want and got differ, with context.
func firstDiff(want, got string) string {
	w, g := strings.Split(want, "\n"), strings.Split(got, "\n")
	for i := 0; i < max(len(w), len(g)); i++ {
		var wl, gl string
		if i < len(w) {
			wl = w[i]
		}
		if i < len(g) {
			gl = g[i]
		}
		if wl != gl {
			from := max(0, i-3)
			return fmt.Sprintf("line %d:\n  context: %s\n  want: %q\n  got:  %q", i+1,
				strings.Join(g[from:i], "\n           "), wl, gl)
		}
	}
	return "(no difference)"
}

// TestChartMatchesKustomize is the one source of truth between the chart and
// the kustomize overlays: for every mode and workload both render the same
// objects (the chart leaves the Namespace to helm), the same pod spec (env,
// probes, security contexts, volumes, resources, image), the same ConfigMap
// data, ServiceAccount, Service and NetworkPolicy rules, and the same labels
// apart from Helm's own (helmLabels). Change one, change the other.
func TestChartMatchesKustomize(t *testing.T) {
	kustomize := overlays(t)
	for name, h := range charts(t) {
		k := kustomize[name]
		t.Run(name, func(t *testing.T) {
			if got, want := objectNames(h), slices.DeleteFunc(objectNames(k), func(s string) bool {
				return strings.HasPrefix(s, "Namespace/")
			}); !slices.Equal(got, want) {
				t.Errorf("chart objects %v, kustomize %v", got, want)
			}
			cmName := func(m manifest) string {
				if len(m.configMaps) != 1 {
					t.Fatalf("got %d ConfigMaps, want 1", len(m.configMaps))
				}
				return m.configMaps[0].Name
			}
			if !reflect.DeepEqual(h.configMaps[0].Data, k.configMaps[0].Data) {
				t.Errorf("ConfigMap data:\nchart     %v\nkustomize %v", h.configMaps[0].Data, k.configMaps[0].Data)
			}
			checkLabels(t, "ConfigMap", h.configMaps[0].Labels, k.configMaps[0].Labels)

			hSpecs, kSpecs := podSpecs(h), podSpecs(k)
			for where, ks := range kSpecs {
				hs, ok := hSpecs[where]
				if !ok {
					t.Errorf("chart has no %s", where)
					continue
				}
				// kustomize names the ConfigMap by its content's hash; the
				// chart rolls the pods with a checksum annotation instead.
				sameEqual(t, where+" pod spec", renameConfigMap(hs, cmName(h)), renameConfigMap(ks, cmName(k)))
			}
			for _, pair := range workloadPairs(h, k) {
				checkLabels(t, pair.where, pair.chart.labels, pair.kustomize.labels)
				checkLabels(t, pair.where+" pod template", pair.chart.podLabels, pair.kustomize.podLabels)
				checkSelector(t, pair.where+" selector", pair.chart.selector, pair.kustomize.selector)
				sameEqual(t, pair.where+" spec (apart from the template)", pair.chart.rest, pair.kustomize.rest)
				if got := slices.Collect(maps.Keys(pair.chart.podAnnotations)); !slices.Equal(got, []string{"checksum/config"}) {
					t.Errorf("%s pod annotations %v, want only checksum/config", pair.where, got)
				}
			}

			hSA, kSA := h.serviceAccounts[0], k.serviceAccounts[0]
			checkLabels(t, "ServiceAccount", hSA.Labels, kSA.Labels)
			sameEqual(t, "ServiceAccount annotations", hSA.Annotations, kSA.Annotations)
			sameEqual(t, "ServiceAccount automount", hSA.AutomountServiceAccountToken, kSA.AutomountServiceAccountToken)

			if len(h.services) != len(k.services) {
				t.Fatalf("chart has %d Services, kustomize %d", len(h.services), len(k.services))
			}
			for i := range k.services {
				hs, ks := h.services[i], k.services[i]
				checkLabels(t, "Service", hs.Labels, ks.Labels)
				checkSelector(t, "Service selector", hs.Spec.Selector, ks.Spec.Selector)
				sameEqual(t, "Service ports", hs.Spec.Ports, ks.Spec.Ports)
			}

			knp := map[string]networkingv1.NetworkPolicy{}
			for _, np := range k.networkPolicies {
				knp[np.Name] = np
			}
			for _, np := range h.networkPolicies {
				want, ok := knp[np.Name]
				if !ok {
					t.Errorf("chart NetworkPolicy %s is not in kustomize", np.Name)
					continue
				}
				where := "NetworkPolicy " + np.Name
				checkLabels(t, where, np.Labels, want.Labels)
				checkSelector(t, where+" podSelector", np.Spec.PodSelector.MatchLabels, want.Spec.PodSelector.MatchLabels)
				hs, ks := np.Spec, want.Spec
				hs.PodSelector, ks.PodSelector = metav1.LabelSelector{}, metav1.LabelSelector{} // compared above
				sameEqual(t, where+" rules", hs, ks)
			}
		})
	}
}

// TestChartMonitoringMatchesKustomize: the chart's ServiceMonitor and
// PrometheusRule are the monitoring component's (the rules are one file,
// linked into the chart as files/prometheusrule.yaml).
func TestChartMonitoringMatchesKustomize(t *testing.T) {
	k := buildMonitoring(t)
	out, err := renderChart(t, "irsa-deployment", "--set", "serviceMonitor.enabled=true,prometheusRule.enabled=true")
	if err != nil {
		t.Fatal(err)
	}
	h := parseChart(t, "irsa-deployment", out)
	if len(h.rules) != 1 || len(h.monitors) != 1 {
		t.Fatalf("chart: got %d PrometheusRules and %d ServiceMonitors, want 1 each", len(h.rules), len(h.monitors))
	}
	sameEqual(t, "PrometheusRule spec", h.rules[0].Spec, k.rules[0].Spec)
	sameEqual(t, "ServiceMonitor endpoints", h.monitors[0].Spec.Endpoints, k.monitors[0].Spec.Endpoints)
	checkSelector(t, "ServiceMonitor selector", h.monitors[0].Spec.Selector.MatchLabels, k.monitors[0].Spec.Selector.MatchLabels)
	checkLabels(t, "PrometheusRule", h.rules[0].Metadata.Labels, k.rules[0].Metadata.Labels)

	// A Job has no metrics Service to scrape.
	if _, err := renderChart(t, "irsa-job", "--set", "serviceMonitor.enabled=true"); err == nil ||
		!strings.Contains(err.Error(), "serviceMonitor.enabled needs the metrics Service") {
		t.Errorf("ServiceMonitor for a Job: got error %v, want one saying it needs the metrics Service", err)
	}
}

func TestChartSchemaRejects(t *testing.T) {
	for _, tc := range []struct {
		name, values string // values: mode-workload of the ci values file
		set          []string
		want         string // in the error
	}{
		{"unknown mode", "irsa-job", []string{"mode=iam-user"}, "/mode"},
		{"no mode", "irsa-job", []string{"mode="}, "/mode"},
		{"unknown workload", "irsa-job", []string{"workload=cronjob"}, "/workload"},
		{"missing bucket", "node-role-job", []string{"config.bucket="}, "/config/bucket"},
		{"bucket name with capitals", "node-role-job", []string{"config.bucket=My_Bucket"}, "/config/bucket"},
		{"missing region", "node-role-job", []string{"config.region="}, "/config/region"},
		{"region that is not one", "node-role-job", []string{"config.region=europe"}, "/config/region"},
		{"irsa without role ARN", "irsa-job", []string{"irsa.roleArn="}, "/irsa/roleArn"},
		{"role ARN of a user", "irsa-job", []string{"irsa.roleArn=arn:aws:iam::111122223333:user/uploader"}, "/irsa/roleArn"},
		{"role name, not ARN", "irsa-job", []string{"irsa.roleArn=uploader-irsa"}, "/irsa/roleArn"},
		{"role ARN with an 11-digit account", "irsa-job", []string{"irsa.roleArn=arn:aws:iam::11112222333:role/uploader"}, "/irsa/roleArn"},
		{"pod identity role ARN that is not one", "pod-identity-job", []string{"podIdentity.roleArn=arn:aws:s3:::bucket"}, "/podIdentity/roleArn"},
		{"bad account id", "irsa-job", []string{"config.expectedBucketOwner=1111-2222-3333"}, "/config/expectedBucketOwner"},
		{"credentials in the ConfigMap", "static-keys-job", []string{"config.extra.AWS_SECRET_ACCESS_KEY=x"}, "AWS_SECRET_ACCESS_KEY"},
		{"misspelt setting", "irsa-job", []string{"config.buckett=x"}, "buckett"},
		{"digest that is not sha256", "irsa-job", []string{"image.digest=latest"}, "/image/digest"},
		{"unknown encryption", "irsa-job", []string{"config.sse=aws:kms:xyz"}, "/config/sse"},
		{"unknown least privilege check", "irsa-job", []string{"config.leastPrivilegeCheck=strict"}, "/config/leastPrivilegeCheck"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var args []string
			for _, s := range tc.set {
				args = append(args, "--set-string", s)
			}
			out, err := renderChart(t, tc.values, args...)
			if err == nil {
				t.Fatalf("helm template accepted %v:\n%.300s", tc.set, out)
			}
			if !strings.Contains(err.Error(), "schema") || !strings.Contains(err.Error(), tc.want) {
				t.Errorf("got error %v, want a schema error naming %s", err, tc.want)
			}
		})
	}
}

func TestChartImage(t *testing.T) {
	digest := "sha256:" + strings.Repeat("ab", 32)
	for _, tc := range []struct {
		set  []string
		want string
	}{
		{nil, "ghcr.io/eks-least-privilege/uploader:v0.1.0"},
		{[]string{"image.tag=v0.2.0"}, "ghcr.io/eks-least-privilege/uploader:v0.2.0"},
		{[]string{"image.repository=123456789012.dkr.ecr.eu-west-1.amazonaws.com/uploader", "image.tag=v0.2.0", "image.digest=" + digest},
			"123456789012.dkr.ecr.eu-west-1.amazonaws.com/uploader@" + digest},
	} {
		var args []string
		for _, s := range tc.set {
			args = append(args, "--set-string", s)
		}
		out, err := renderChart(t, "pod-identity-deployment", args...)
		if err != nil {
			t.Fatal(err)
		}
		m := parseChart(t, "pod-identity-deployment", out)
		if got := m.deployments[0].Spec.Template.Spec.Containers[0].Image; got != tc.want {
			t.Errorf("%v: image %q, want %q", tc.set, got, tc.want)
		}
	}
}

// TestChartHardened applies the overlays' checks to the chart's renders.
func TestChartHardened(t *testing.T) {
	for name, m := range charts(t) {
		for where, spec := range podSpecs(m) {
			t.Run(name+"/"+where, func(t *testing.T) { checkHardened(t, spec) })
		}
		if loc := accessKeyPattern.Find(m.yaml); loc != nil {
			t.Errorf("%s: rendered chart holds an AWS access key id %q", name, loc)
		}
	}
}

// objectNames lists kind/name of every object, sorted.
func objectNames(m manifest) []string {
	var names []string
	for _, d := range m.deployments {
		names = append(names, "Deployment/"+d.Name)
	}
	for _, j := range m.jobs {
		names = append(names, "Job/"+j.Name)
	}
	for _, o := range m.serviceAccounts {
		names = append(names, "ServiceAccount/"+o.Name)
	}
	for _, o := range m.services {
		names = append(names, "Service/"+o.Name)
	}
	for _, o := range m.networkPolicies {
		names = append(names, "NetworkPolicy/"+o.Name)
	}
	for _, o := range m.namespaces {
		names = append(names, "Namespace/"+o.Name)
	}
	for range m.configMaps {
		names = append(names, "ConfigMap") // kustomize's name carries a hash
	}
	slices.Sort(names)
	return names
}

// workload is what the parity test compares of a Deployment or Job.
type workload struct {
	labels, podLabels, podAnnotations, selector map[string]string
	rest                                        any // the spec without its template and selector
}

type workloadPair struct {
	where            string
	chart, kustomize workload
}

func workloadPairs(h, k manifest) []workloadPair {
	var pairs []workloadPair
	for i := range min(len(h.deployments), len(k.deployments)) {
		hd, kd := h.deployments[i], k.deployments[i]
		hs, ks := hd.Spec, kd.Spec
		hs.Template, ks.Template = corev1.PodTemplateSpec{}, corev1.PodTemplateSpec{}
		hs.Selector, ks.Selector = nil, nil
		pairs = append(pairs, workloadPair{"Deployment",
			workload{hd.Labels, hd.Spec.Template.Labels, hd.Spec.Template.Annotations, hd.Spec.Selector.MatchLabels, hs},
			workload{kd.Labels, kd.Spec.Template.Labels, kd.Spec.Template.Annotations, kd.Spec.Selector.MatchLabels, ks}})
	}
	for i := range min(len(h.jobs), len(k.jobs)) {
		hj, kj := h.jobs[i], k.jobs[i]
		hs, ks := hj.Spec, kj.Spec
		hs.Template, ks.Template = corev1.PodTemplateSpec{}, corev1.PodTemplateSpec{}
		// A Job's selector is the apiserver's to make; neither sets it.
		pairs = append(pairs, workloadPair{"Job",
			workload{hj.Labels, hj.Spec.Template.Labels, hj.Spec.Template.Annotations, nil, hs},
			workload{kj.Labels, kj.Spec.Template.Labels, kj.Spec.Template.Annotations, nil, ks}})
	}
	return pairs
}

// checkLabels: the chart carries every kustomize label with its value, and
// otherwise only Helm's (helmLabels).
func checkLabels(t *testing.T, where string, chart, kustomize map[string]string) {
	t.Helper()
	for k, v := range kustomize {
		if chart[k] != v {
			t.Errorf("%s: label %s=%q in the chart, %q in kustomize", where, k, chart[k], v)
		}
	}
	for k := range chart {
		if _, ok := kustomize[k]; !ok && !slices.Contains(helmLabels, k) {
			t.Errorf("%s: label %s only in the chart, and not one of Helm's %v", where, k, helmLabels)
		}
	}
}

// checkSelector: the chart selects what kustomize selects, narrowed to the
// release (app.kubernetes.io/instance) and nothing else.
func checkSelector(t *testing.T, where string, chart, kustomize map[string]string) {
	t.Helper()
	want := maps.Clone(kustomize)
	if want != nil {
		want["app.kubernetes.io/instance"] = chartRelease
	}
	if !reflect.DeepEqual(chart, want) {
		t.Errorf("%s: chart %v, want kustomize's %v and the release", where, chart, kustomize)
	}
}

// renameConfigMap replaces the references to the ConfigMap name in spec.
func renameConfigMap(spec corev1.PodSpec, name string) corev1.PodSpec {
	spec = *spec.DeepCopy()
	for i := range spec.Containers {
		c := &spec.Containers[i]
		for j := range c.EnvFrom {
			if r := c.EnvFrom[j].ConfigMapRef; r != nil && r.Name == name {
				r.Name = "CONFIGMAP"
			}
		}
		for j := range c.Env {
			if v := c.Env[j].ValueFrom; v != nil && v.ConfigMapKeyRef != nil && v.ConfigMapKeyRef.Name == name {
				v.ConfigMapKeyRef.Name = "CONFIGMAP"
			}
		}
	}
	return spec
}

// sameEqual reports chart and kustomize values that differ, as YAML.
func sameEqual(t *testing.T, what string, chart, kustomize any) {
	t.Helper()
	if reflect.DeepEqual(chart, kustomize) {
		return
	}
	h, _ := yaml.Marshal(chart)
	k, _ := yaml.Marshal(kustomize)
	t.Errorf("%s differs between the chart and kustomize:\n%s", what, firstDiff(string(k), string(h)))
}

// TestChartPackage: the packaged chart (what the release pushes) holds the
// rules behind the files/ link and renders as the directory does.
func TestChartPackage(t *testing.T) {
	dir := t.TempDir()
	if out, err := helm(t, "package", chartDir, "--destination", dir); err != nil {
		t.Fatalf("%v\n%s", err, out)
	}
	pkgs, err := filepath.Glob(filepath.Join(dir, "uploader-*.tgz"))
	if err != nil || len(pkgs) != 1 {
		t.Fatalf("packages %v (%v), want one uploader-*.tgz", pkgs, err)
	}
	args := []string{"--values", valuesFile("irsa-deployment"), "--set", "serviceMonitor.enabled=true,prometheusRule.enabled=true"}
	fromDir, err := helm(t, append([]string{"template", chartRelease, chartDir, "--namespace", chartRelease}, args...)...)
	if err != nil {
		t.Fatal(err)
	}
	fromPkg, err := helm(t, append([]string{"template", chartRelease, pkgs[0], "--namespace", chartRelease}, args...)...)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(fromPkg, fromDir) {
		t.Errorf("the packaged chart renders otherwise than the directory:\n%s", firstDiff(string(fromDir), string(fromPkg)))
	}
	if !bytes.Contains(fromPkg, []byte("alert: UploaderUploadsFailing")) {
		t.Error("the packaged chart's PrometheusRule has no rules of deploy/components/monitoring")
	}
}
