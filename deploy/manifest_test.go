package deploy_test

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	appsv1 "k8s.io/api/apps/v1"
	batchv1 "k8s.io/api/batch/v1"
	corev1 "k8s.io/api/core/v1"
	networkingv1 "k8s.io/api/networking/v1"
	"sigs.k8s.io/kustomize/api/krusty"
	"sigs.k8s.io/kustomize/kyaml/filesys"
	"sigs.k8s.io/yaml"
)

// The credential modes and workloads the overlays are made of.
var (
	modes     = []string{"static-keys", "node-role", "irsa", "pod-identity"}
	workloads = []string{"deployment", "job"}
	// reportedMode is the REQUIRE_CREDENTIAL_MODE value of each overlay mode.
	reportedMode = map[string]string{"static-keys": "static", "node-role": "node-role", "irsa": "irsa", "pod-identity": "pod-identity"}
)

const runtimeUID = 65532

// manifest is one rendered kustomize build, decoded strictly.
type manifest struct {
	deployments     []appsv1.Deployment
	jobs            []batchv1.Job
	serviceAccounts []corev1.ServiceAccount
	configMaps      []corev1.ConfigMap
	services        []corev1.Service
	networkPolicies []networkingv1.NetworkPolicy
	namespaces      []corev1.Namespace
	rules           []prometheusRule
	monitors        []serviceMonitor
	yaml            []byte // the whole build, for text checks
}

// prometheusRule and serviceMonitor are the parts of the Prometheus Operator
// types the monitoring component uses; decoding is strict, so a field not
// listed here fails the test (add it here on purpose).
type prometheusRule struct {
	APIVersion string            `json:"apiVersion"`
	Kind       string            `json:"kind"`
	Metadata   objectMeta        `json:"metadata"`
	Spec       prometheusRuleSet `json:"spec"`
}

type prometheusRuleSet struct {
	Groups []struct {
		Name  string `json:"name"`
		Rules []struct {
			Alert       string            `json:"alert,omitempty"`
			Record      string            `json:"record,omitempty"`
			Expr        string            `json:"expr"`
			For         string            `json:"for,omitempty"`
			Labels      map[string]string `json:"labels,omitempty"`
			Annotations map[string]string `json:"annotations,omitempty"`
		} `json:"rules"`
	} `json:"groups"`
}

type serviceMonitor struct {
	APIVersion string     `json:"apiVersion"`
	Kind       string     `json:"kind"`
	Metadata   objectMeta `json:"metadata"`
	Spec       struct {
		Selector struct {
			MatchLabels map[string]string `json:"matchLabels"`
		} `json:"selector"`
		Endpoints []struct {
			Port     string `json:"port"`
			Path     string `json:"path"`
			Interval string `json:"interval"`
		} `json:"endpoints"`
	} `json:"spec"`
}

type objectMeta struct {
	Name      string            `json:"name"`
	Namespace string            `json:"namespace"`
	Labels    map[string]string `json:"labels,omitempty"`
}

// build renders the kustomization in dir of fsys and decodes every object
// strictly into its API type.
func build(t *testing.T, fsys filesys.FileSystem, dir string) manifest {
	t.Helper()
	k := krusty.MakeKustomizer(krusty.MakeDefaultOptions())
	resources, err := k.Run(fsys, dir)
	if err != nil {
		t.Fatalf("kustomize build %s: %v", dir, err)
	}
	var m manifest
	for _, r := range resources.Resources() {
		data, err := r.AsYAML()
		if err != nil {
			t.Fatalf("%s: encode %s: %v", dir, r.CurId(), err)
		}
		m.yaml = append(append(m.yaml, data...), "---\n"...)
		m.add(t, dir+": "+r.GetKind()+"/"+r.GetName(), r.GetKind(), data)
	}
	return m
}

// add decodes one object of the given kind strictly into its API type and
// appends it to m; where names it in errors.
func (m *manifest) add(t *testing.T, where, kind string, data []byte) {
	t.Helper()
	switch kind {
	case "Deployment":
		m.deployments = append(m.deployments, decode[appsv1.Deployment](t, where, data))
	case "Job":
		m.jobs = append(m.jobs, decode[batchv1.Job](t, where, data))
	case "ServiceAccount":
		m.serviceAccounts = append(m.serviceAccounts, decode[corev1.ServiceAccount](t, where, data))
	case "ConfigMap":
		m.configMaps = append(m.configMaps, decode[corev1.ConfigMap](t, where, data))
	case "Service":
		m.services = append(m.services, decode[corev1.Service](t, where, data))
	case "NetworkPolicy":
		m.networkPolicies = append(m.networkPolicies, decode[networkingv1.NetworkPolicy](t, where, data))
	case "Namespace":
		m.namespaces = append(m.namespaces, decode[corev1.Namespace](t, where, data))
	case "PrometheusRule":
		m.rules = append(m.rules, decode[prometheusRule](t, where, data))
	case "ServiceMonitor":
		m.monitors = append(m.monitors, decode[serviceMonitor](t, where, data))
	default:
		// A Secret in particular: credentials never ship in the manifests.
		t.Errorf("%s: unexpected kind %s", where, kind)
	}
}

// decode unmarshals data into a T, rejecting unknown and duplicate fields.
func decode[T any](t *testing.T, where string, data []byte) T {
	t.Helper()
	var v T
	if err := yaml.UnmarshalStrict(data, &v); err != nil {
		t.Errorf("%s: strict decode: %v", where, err)
	}
	return v
}

// overlays renders every overlay under overlays/, keyed mode-workload.
func overlays(t *testing.T) map[string]manifest {
	t.Helper()
	out := make(map[string]manifest)
	fsys := filesys.MakeFsOnDisk()
	for _, mode := range modes {
		for _, w := range workloads {
			name := mode + "-" + w
			out[name] = build(t, fsys, filepath.Join("overlays", name))
		}
	}
	entries, err := os.ReadDir("overlays")
	if err != nil {
		t.Fatal(err)
	}
	if got, want := len(entries), len(out); got != want {
		t.Errorf("overlays/ has %d entries, want %d (one per mode and workload)", got, want)
	}
	return out
}

// podSpecs returns the pod templates of a build's workloads.
func podSpecs(m manifest) map[string]corev1.PodSpec {
	specs := make(map[string]corev1.PodSpec)
	for _, d := range m.deployments {
		specs["Deployment/"+d.Name] = d.Spec.Template.Spec
	}
	for _, j := range m.jobs {
		specs["Job/"+j.Name] = j.Spec.Template.Spec
	}
	return specs
}

func TestStrictDecodeRejectsUnknownField(t *testing.T) {
	typo := []byte(`
apiVersion: apps/v1
kind: Deployment
metadata:
  name: uploader
spec:
  template:
    spec:
      serviceAcountName: uploader
      containers: []
`)
	var d appsv1.Deployment
	err := yaml.UnmarshalStrict(typo, &d)
	if err == nil || !strings.Contains(err.Error(), "serviceAcountName") {
		t.Fatalf("got error %v, want one naming the unknown field serviceAcountName", err)
	}
}

func TestOverlaysRender(t *testing.T) {
	for name, m := range overlays(t) {
		t.Run(name, func(t *testing.T) {
			workload := name[strings.LastIndex(name, "-")+1:]
			wantDeployments, wantJobs := 0, 0
			if workload == "deployment" {
				wantDeployments = 1
			} else {
				wantJobs = 1
			}
			if got := len(m.deployments); got != wantDeployments {
				t.Errorf("got %d Deployments, want %d", got, wantDeployments)
			}
			if got := len(m.jobs); got != wantJobs {
				t.Errorf("got %d Jobs, want %d", got, wantJobs)
			}
			if got := len(m.serviceAccounts); got != 1 {
				t.Errorf("got %d ServiceAccounts, want 1", got)
			}
			if len(m.networkPolicies) == 0 {
				t.Error("got no NetworkPolicy, want the egress-limiting one")
			}
			for _, ns := range m.namespaces {
				// warn and audit too: a workload whose pods enforce would
				// refuse is then reported when it is applied.
				for _, mode := range []string{"enforce", "warn", "audit"} {
					if got := ns.Labels["pod-security.kubernetes.io/"+mode]; got != "restricted" {
						t.Errorf("namespace %s: pod-security %s label %q, want restricted", ns.Name, mode, got)
					}
				}
			}
			for _, d := range m.deployments {
				checkUploadCount(t, "Deployment", d.Spec.Template.Spec, func(n string) bool { return n == "0" })
			}
			for _, j := range m.jobs {
				s := j.Spec
				if s.BackoffLimit == nil || s.ActiveDeadlineSeconds == nil || s.TTLSecondsAfterFinished == nil {
					t.Errorf("Job: backoffLimit %v, activeDeadlineSeconds %v, ttlSecondsAfterFinished %v, want all set",
						s.BackoffLimit, s.ActiveDeadlineSeconds, s.TTLSecondsAfterFinished)
				}
				if got := s.Template.Spec.RestartPolicy; got != corev1.RestartPolicyNever {
					t.Errorf("Job: restartPolicy %q, want Never", got)
				}
				checkUploadCount(t, "Job", s.Template.Spec, func(n string) bool { return n != "" && n != "0" })
			}
		})
	}
}

// checkUploadCount checks the UPLOAD_COUNT env value of the uploader container.
func checkUploadCount(t *testing.T, where string, spec corev1.PodSpec, ok func(string) bool) {
	t.Helper()
	for _, c := range spec.Containers {
		for _, e := range c.Env {
			if e.Name == "UPLOAD_COUNT" {
				if !ok(e.Value) {
					t.Errorf("%s: UPLOAD_COUNT %q is wrong for this workload", where, e.Value)
				}
				return
			}
		}
	}
	t.Errorf("%s: no UPLOAD_COUNT env", where)
}
