package deploy_test

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"maps"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"

	"github.com/compose-spec/compose-go/v2/cli"
	"github.com/compose-spec/compose-go/v2/types"
	appsv1 "k8s.io/api/apps/v1"
	batchv1 "k8s.io/api/batch/v1"
	corev1 "k8s.io/api/core/v1"
	networkingv1 "k8s.io/api/networking/v1"
	"sigs.k8s.io/kustomize/api/krusty"
	"sigs.k8s.io/kustomize/kyaml/filesys"
	"sigs.k8s.io/yaml"

	"github.com/eks-least-privilege/uploader/internal/standin"
)

// metricNames lists every metric the uploader serves (cmd/uploader checks the
// same files against the real registry: TestDashboardsQueryServedMetrics): the app's own
// (namespace uploader_) and those of the Go and process collectors the
// dashboard and alerts may use. Histograms are listed by their base name.
func metricNames() []string {
	return []string{
		"uploader_uploads_total",
		"uploader_upload_failures_total",
		"uploader_uploaded_bytes_total",
		"uploader_fetch_duration_seconds",
		"uploader_upload_duration_seconds",
		"uploader_last_success_timestamp_seconds",
		"uploader_build_info",
		"uploader_aws_credentials_info",
		"uploader_aws_credential_refreshes_total",
		"uploader_least_privilege_ok",
		"process_resident_memory_bytes",
		"process_cpu_seconds_total",
		"go_goroutines",
	}
}

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
		where := dir + ": " + r.GetKind() + "/" + r.GetName()
		switch r.GetKind() {
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
			t.Errorf("%s: unexpected kind %s", where, r.GetKind())
		}
	}
	return m
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
				if got := ns.Labels["pod-security.kubernetes.io/enforce"]; got != "restricted" {
					t.Errorf("namespace %s: pod-security enforce label %q, want restricted", ns.Name, got)
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

func TestPodSpecsHardened(t *testing.T) {
	for name, m := range overlays(t) {
		for where, spec := range podSpecs(m) {
			t.Run(name+"/"+where, func(t *testing.T) { checkHardened(t, spec) })
		}
	}
}

func checkHardened(t *testing.T, spec corev1.PodSpec) {
	t.Helper()
	if spec.AutomountServiceAccountToken == nil || *spec.AutomountServiceAccountToken {
		t.Errorf("automountServiceAccountToken %v, want false", spec.AutomountServiceAccountToken)
	}
	if spec.ServiceAccountName != "uploader" {
		t.Errorf("serviceAccountName %q, want uploader", spec.ServiceAccountName)
	}
	if spec.HostNetwork || spec.HostPID || spec.HostIPC {
		t.Error("pod shares a host namespace")
	}
	psc := spec.SecurityContext
	if psc == nil {
		t.Fatal("no pod securityContext")
	}
	if psc.FSGroup == nil || *psc.FSGroup != runtimeUID {
		t.Errorf("pod fsGroup %v, want %d", psc.FSGroup, runtimeUID)
	}
	if len(spec.InitContainers) != 0 {
		t.Errorf("got %d init containers, want none", len(spec.InitContainers))
	}
	if len(spec.Containers) != 1 {
		t.Fatalf("got %d containers, want 1", len(spec.Containers))
	}
	c := spec.Containers[0]
	sc := c.SecurityContext
	if sc == nil {
		t.Fatal("no container securityContext")
	}
	if got := pick(sc.RunAsNonRoot, psc.RunAsNonRoot); got == nil || !*got {
		t.Errorf("runAsNonRoot %v, want true", got)
	}
	if got := pick(sc.RunAsUser, psc.RunAsUser); got == nil || *got != runtimeUID {
		t.Errorf("runAsUser %v, want %d", got, runtimeUID)
	}
	if sc.ReadOnlyRootFilesystem == nil || !*sc.ReadOnlyRootFilesystem {
		t.Error("readOnlyRootFilesystem not true")
	}
	if sc.AllowPrivilegeEscalation == nil || *sc.AllowPrivilegeEscalation {
		t.Error("allowPrivilegeEscalation not false")
	}
	if sc.Privileged != nil && *sc.Privileged {
		t.Error("privileged")
	}
	if sc.Capabilities == nil || !slices.Contains(sc.Capabilities.Drop, "ALL") || len(sc.Capabilities.Add) > 0 {
		t.Errorf("capabilities %+v, want drop [ALL] and no add", sc.Capabilities)
	}
	seccomp := pick(sc.SeccompProfile, psc.SeccompProfile)
	if seccomp == nil || seccomp.Type != corev1.SeccompProfileTypeRuntimeDefault {
		t.Errorf("seccompProfile %+v, want RuntimeDefault", seccomp)
	}
	for _, r := range []corev1.ResourceName{corev1.ResourceCPU, corev1.ResourceMemory} {
		if _, ok := c.Resources.Requests[r]; !ok {
			t.Errorf("no %s request", r)
		}
		if _, ok := c.Resources.Limits[r]; !ok {
			t.Errorf("no %s limit", r)
		}
	}
	checkProbe(t, "liveness", c, c.LivenessProbe, "/healthz")
	if c.ReadinessProbe != nil {
		checkProbe(t, "readiness", c, c.ReadinessProbe, "/readyz")
	}
	if strings.HasSuffix(c.Image, ":latest") || !strings.Contains(c.Image, ":") {
		t.Errorf("image %q, want a pinned tag", c.Image)
	}
}

// checkProbe checks an HTTP probe on path against the metrics port 9090.
func checkProbe(t *testing.T, kind string, c corev1.Container, p *corev1.Probe, path string) {
	t.Helper()
	if p == nil || p.HTTPGet == nil {
		t.Errorf("%s probe %+v, want HTTP GET %s", kind, p, path)
		return
	}
	if p.HTTPGet.Path != path {
		t.Errorf("%s probe path %q, want %q", kind, p.HTTPGet.Path, path)
	}
	port := p.HTTPGet.Port.IntValue()
	if name := p.HTTPGet.Port.StrVal; name != "" {
		for _, cp := range c.Ports {
			if cp.Name == name {
				port = int(cp.ContainerPort)
			}
		}
	}
	if port != 9090 {
		t.Errorf("%s probe port %v resolves to %d, want 9090", kind, p.HTTPGet.Port, port)
	}
}

// pick returns the container-level setting, else the pod-level one.
func pick[T any](container, pod *T) *T {
	if container != nil {
		return container
	}
	return pod
}

var (
	// AWS access key ids, and a 40-character secret after a key name.
	accessKeyPattern = regexp.MustCompile(`\b(AKIA|ASIA|AROA|AIDA)[A-Z0-9]{16}\b`)
	secretKeyPattern = regexp.MustCompile(`(?i)(secret_access_key|secretaccesskey|aws_secret)["']?\s*[:=]\s*["']?[A-Za-z0-9/+=]{40}`)
	credentialEnv    = []string{"AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_SESSION_TOKEN"}
)

func TestNoCredentialsInManifests(t *testing.T) {
	for name, m := range overlays(t) {
		t.Run(name, func(t *testing.T) {
			if loc := accessKeyPattern.Find(m.yaml); loc != nil {
				t.Errorf("rendered manifests hold an AWS access key id %q", loc)
			}
			if secretKeyPattern.Match(m.yaml) {
				t.Error("rendered manifests hold something shaped like a secret access key")
			}
			for _, cm := range m.configMaps {
				for _, key := range credentialEnv {
					if _, ok := cm.Data[key]; ok {
						t.Errorf("ConfigMap %s holds %s", cm.Name, key)
					}
				}
			}
			for where, spec := range podSpecs(m) {
				for _, c := range spec.Containers {
					for _, e := range c.Env {
						if !slices.Contains(credentialEnv, e.Name) {
							continue
						}
						if e.Value != "" || e.ValueFrom == nil || e.ValueFrom.SecretKeyRef == nil {
							t.Errorf("%s: env %s is not from a Secret (value %q)", where, e.Name, e.Value)
						}
					}
				}
			}
		})
	}
	// Every file under deploy/ and the compose file, as text.
	err := filepath.WalkDir(".", func(path string, d os.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		data, err := os.ReadFile(path)
		if err != nil {
			return err
		}
		if loc := accessKeyPattern.Find(data); loc != nil {
			t.Errorf("%s holds an AWS access key id %q", path, loc)
		}
		if secretKeyPattern.Match(data) {
			t.Errorf("%s holds something shaped like a secret access key", path)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
}

func TestCredentialModes(t *testing.T) {
	for name, m := range overlays(t) {
		mode := name[:strings.LastIndex(name, "-")]
		t.Run(name, func(t *testing.T) {
			if len(m.configMaps) != 1 {
				t.Fatalf("got %d ConfigMaps, want 1", len(m.configMaps))
			}
			if got, want := m.configMaps[0].Data["REQUIRE_CREDENTIAL_MODE"], reportedMode[mode]; got != want {
				t.Errorf("REQUIRE_CREDENTIAL_MODE %q, want %q", got, want)
			}
			if got := m.configMaps[0].Data["AWS_STS_REGIONAL_ENDPOINTS"]; got != "regional" {
				t.Errorf("AWS_STS_REGIONAL_ENDPOINTS %q, want regional", got)
			}
			sa := m.serviceAccounts[0]
			roleARN, annotated := sa.Annotations["eks.amazonaws.com/role-arn"]
			if (mode == "irsa") != annotated {
				t.Errorf("ServiceAccount role-arn annotation %q present=%v, want present only for irsa", roleARN, annotated)
			}
			if mode == "irsa" && !regexp.MustCompile(`^arn:aws:iam::\d{12}:role/[\w+=,.@-]+$`).MatchString(roleARN) {
				t.Errorf("role-arn annotation %q is not a role ARN", roleARN)
			}
			_, fromSecret := envFromSecret(m)
			if (mode == "static-keys") != fromSecret {
				t.Errorf("keys from a Secret: %v, want only for static-keys", fromSecret)
			}
			egress := egressCIDRs(m)
			for cidr, want := range map[string]bool{
				"169.254.169.254/32": mode == "node-role",
				"169.254.170.23/32":  mode == "pod-identity",
			} {
				if got := slices.Contains(egress, cidr); got != want {
					t.Errorf("egress to %s allowed: %v, want %v", cidr, got, want)
				}
			}
		})
	}
}

// envFromSecret reports the Secret the workload reads AWS keys from.
func envFromSecret(m manifest) (string, bool) {
	for _, spec := range podSpecs(m) {
		for _, c := range spec.Containers {
			for _, e := range c.Env {
				if e.Name == "AWS_SECRET_ACCESS_KEY" && e.ValueFrom != nil && e.ValueFrom.SecretKeyRef != nil {
					return e.ValueFrom.SecretKeyRef.Name, true
				}
			}
		}
	}
	return "", false
}

func egressCIDRs(m manifest) []string {
	var cidrs []string
	for _, np := range m.networkPolicies {
		for _, rule := range np.Spec.Egress {
			for _, peer := range rule.To {
				if peer.IPBlock != nil {
					cidrs = append(cidrs, peer.IPBlock.CIDR)
				}
			}
		}
	}
	return cidrs
}

// policy is an IAM policy document. Action and Resource may be a string or
// a list; Principal's values too.
type policy struct {
	Version   string
	Statement []struct {
		Sid       string
		Effect    string
		Principal map[string]stringList
		Action    stringList
		Resource  stringList
		Condition map[string]map[string]string
	}
}

type stringList []string

func (s *stringList) UnmarshalJSON(b []byte) error {
	var one string
	if err := json.Unmarshal(b, &one); err == nil {
		*s = stringList{one}
		return nil
	}
	return json.Unmarshal(b, (*[]string)(s))
}

func readPolicy(t *testing.T, path string) policy {
	t.Helper()
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	var p policy
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.DisallowUnknownFields() // NotAction, NotResource, ... are not expected
	if err := dec.Decode(&p); err != nil {
		t.Fatalf("%s: %v", path, err)
	}
	if p.Version != "2012-10-17" || len(p.Statement) != 1 {
		t.Fatalf("%s: version %q with %d statements, want 2012-10-17 with 1", path, p.Version, len(p.Statement))
	}
	if p.Statement[0].Effect != "Allow" {
		t.Errorf("%s: effect %q, want Allow", path, p.Statement[0].Effect)
	}
	return p
}

func TestIAMPolicyIsPutOnly(t *testing.T) {
	s := readPolicy(t, "aws/iam-policy.json").Statement[0]
	if want := (stringList{"s3:PutObject"}); !slices.Equal(s.Action, want) {
		t.Errorf("actions %v, want %v", s.Action, want)
	}
	if want := (stringList{"arn:aws:s3:::{{BUCKET}}/{{PREFIX}}*"}); !slices.Equal(s.Resource, want) {
		t.Errorf("resources %v, want %v (the bucket's objects under the prefix)", s.Resource, want)
	}
	if s.Principal != nil || s.Condition != nil {
		t.Errorf("principal %v, condition %v: want neither in an identity policy", s.Principal, s.Condition)
	}
}

func TestIRSATrustPolicy(t *testing.T) {
	s := readPolicy(t, "aws/irsa-trust-policy.json").Statement[0]
	if want := (stringList{"sts:AssumeRoleWithWebIdentity"}); !slices.Equal(s.Action, want) {
		t.Errorf("actions %v, want %v", s.Action, want)
	}
	fed := s.Principal["Federated"]
	if len(fed) != 1 || !strings.Contains(fed[0], ":oidc-provider/{{OIDC_PROVIDER}}") || len(s.Principal) != 1 {
		t.Errorf("principal %v, want only the cluster's OIDC provider", s.Principal)
	}
	if len(s.Condition) != 1 {
		t.Errorf("conditions %v, want StringEquals only (no wildcards)", s.Condition)
	}
	eq := s.Condition["StringEquals"]
	want := map[string]string{
		"{{OIDC_PROVIDER}}:sub": "system:serviceaccount:{{NAMESPACE}}:{{SERVICE_ACCOUNT}}",
		"{{OIDC_PROVIDER}}:aud": "sts.amazonaws.com",
	}
	for k, v := range want {
		if eq[k] != v {
			t.Errorf("StringEquals %s = %q, want %q", k, eq[k], v)
		}
	}
}

func TestPodIdentityTrustPolicy(t *testing.T) {
	s := readPolicy(t, "aws/pod-identity-trust-policy.json").Statement[0]
	if got, want := s.Principal["Service"], (stringList{"pods.eks.amazonaws.com"}); !slices.Equal(got, want) || len(s.Principal) != 1 {
		t.Errorf("principal %v, want Service %v only", s.Principal, want)
	}
	got := slices.Sorted(slices.Values(s.Action))
	if want := []string{"sts:AssumeRole", "sts:TagSession"}; !slices.Equal(got, want) {
		t.Errorf("actions %v, want %v", got, want)
	}
	if s.Condition["StringEquals"]["aws:SourceAccount"] == "" || s.Condition["ArnEquals"]["aws:SourceArn"] == "" {
		t.Errorf("conditions %v, want aws:SourceAccount and aws:SourceArn pinned", s.Condition)
	}
}

// composeProject loads ../docker-compose.yaml with every profile, offline,
// with the schema validation compose-go does by default, and no variables
// from the environment (the file's defaults apply).
func composeProject(t *testing.T) *types.Project {
	t.Helper()
	opts, err := cli.NewProjectOptions([]string{"../docker-compose.yaml"},
		cli.WithWorkingDirectory(".."),
		cli.WithEnv([]string{}),
		cli.WithProfiles([]string{"node-role", "irsa", "pod-identity", "observability"}),
	)
	if err != nil {
		t.Fatal(err)
	}
	p, err := opts.LoadProject(context.Background())
	if err != nil {
		t.Fatalf("load docker-compose.yaml: %v", err)
	}
	if len(p.DisabledServices) != 0 {
		t.Fatalf("services left disabled: %v", slices.Collect(maps.Keys(p.DisabledServices)))
	}
	return p
}

func TestCompose(t *testing.T) {
	p := composeProject(t)
	// One-shots are the services something waits on to complete.
	oneShot := map[string]bool{}
	for _, s := range p.Services {
		for dep, d := range s.DependsOn {
			if d.Condition == types.ServiceConditionCompletedSuccessfully {
				oneShot[dep] = true
			}
		}
	}
	minio := p.Services["minio"]
	rootUser, rootPassword := *minio.Environment["MINIO_ROOT_USER"], *minio.Environment["MINIO_ROOT_PASSWORD"]
	uploaders := 0
	for name, s := range p.Services {
		t.Run(name, func(t *testing.T) {
			if s.Build == nil {
				if _, tag, ok := strings.Cut(s.Image, ":"); !ok || tag == "latest" {
					t.Errorf("image %q, want a pinned tag or digest", s.Image)
				}
			}
			if !oneShot[name] && (s.HealthCheck == nil || s.HealthCheck.Disable || len(s.HealthCheck.Test) == 0) {
				t.Errorf("no healthcheck")
			}
			for _, port := range s.Ports {
				if port.HostIP != "127.0.0.1" {
					t.Errorf("port %d published on %q, want 127.0.0.1", port.Target, port.HostIP)
				}
			}
			if s.Image != "uploader:dev" {
				return
			}
			uploaders++
			for key, value := range s.Environment {
				if strings.HasPrefix(key, "MINIO_") {
					t.Errorf("env %s: MinIO settings do not belong to the uploader", key)
				}
				if value != nil && (*value == rootPassword || (*value == rootUser && strings.HasPrefix(key, "AWS_"))) {
					t.Errorf("env %s holds a MinIO root credential", key)
				}
			}
			if !s.ReadOnly || !slices.Contains(s.CapDrop, "ALL") || s.User != fmt.Sprintf("%d:%d", runtimeUID, runtimeUID) ||
				!slices.Contains(s.SecurityOpt, "no-new-privileges:true") {
				t.Errorf("read_only %v, cap_drop %v, user %q, security_opt %v: want hardened", s.ReadOnly, s.CapDrop, s.User, s.SecurityOpt)
			}
			if got := s.HealthCheck.Test; !slices.Equal(got, types.HealthCheckTest{"CMD", "/uploader", "healthcheck"}) {
				t.Errorf("healthcheck %v, want the binary's own healthcheck", got)
			}
		})
	}
	if uploaders != 4 {
		t.Errorf("got %d uploader services, want 4 (one per mode)", uploaders)
	}
	up := p.Services["uploader"]
	if got := up.DependsOn["minio-init"].Condition; got != types.ServiceConditionCompletedSuccessfully {
		t.Errorf("uploader waits for minio-init to be %q, want %q", got, types.ServiceConditionCompletedSuccessfully)
	}
	for key, want := range map[string]string{
		"S3_USE_PATH_STYLE":       "true",
		"AWS_ENDPOINT_URL_S3":     "http://minio:9000",
		"IMAGE_SOURCE_URL":        "builtin:",
		"REQUIRE_CREDENTIAL_MODE": "static",
	} {
		if got := up.Environment[key]; got == nil || *got != want {
			t.Errorf("uploader env %s = %v, want %q", key, got, want)
		}
	}
	irsa := p.Services["uploader-irsa"]
	if got, want := *irsa.Environment["AWS_ROLE_ARN"], standin.MinIORoleARN(standin.AudienceSTS, "us-east-1"); got != want {
		t.Errorf("uploader-irsa AWS_ROLE_ARN %q, want MinIO's %q", got, want)
	}
}

func TestComposeRejectsUnknownField(t *testing.T) {
	dir := t.TempDir()
	file := filepath.Join(dir, "compose.yaml")
	if err := os.WriteFile(file, []byte("services:\n  a:\n    image: x:1\n    helthcheck: {}\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	opts, err := cli.NewProjectOptions([]string{file}, cli.WithWorkingDirectory(dir), cli.WithEnv([]string{}))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := opts.LoadProject(context.Background()); err == nil || !strings.Contains(err.Error(), "helthcheck") {
		t.Errorf("got error %v, want the schema to reject helthcheck", err)
	}
}

// metricRef finds metric names in PromQL.
var metricRef = regexp.MustCompile(`\b(?:uploader|process|go)_[a-z0-9_]+\b`)

// checkMetrics fails for any metric in expr that metricNames does not list,
// and returns the names it found.
func checkMetrics(t *testing.T, where, expr string) []string {
	t.Helper()
	known := metricNames()
	var found []string
	for _, name := range metricRef.FindAllString(expr, -1) {
		base := name
		for _, suffix := range []string{"_bucket", "_sum", "_count"} {
			if b, ok := strings.CutSuffix(name, suffix); ok && slices.Contains(known, b) {
				base = b
			}
		}
		if !slices.Contains(known, base) {
			t.Errorf("%s: %q queries %s, which the uploader does not serve", where, expr, name)
		}
		found = append(found, base)
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
			for _, name := range checkMetrics(t, "panel "+p.Title, target.Expr) {
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

func TestMonitoringComponent(t *testing.T) {
	// Render a Deployment overlay with the monitoring component, from a copy
	// of deploy/ so the test writes nothing into the tree.
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
	m := build(t, filesys.MakeFsOnDisk(), overlay)
	if len(m.rules) != 1 || len(m.monitors) != 1 {
		t.Fatalf("got %d PrometheusRules and %d ServiceMonitors, want 1 each", len(m.rules), len(m.monitors))
	}
	alerts := 0
	for _, g := range m.rules[0].Spec.Groups {
		for _, r := range g.Rules {
			checkMetrics(t, "alert "+r.Alert, r.Expr)
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

// scripts lists every shell script of the delivery side.
var scripts = []string{"aws/eks-demo.sh", "aws/eks-clean.sh", "aws/lib.sh", "compose/minio-init.sh", "../test/image/run.sh"}

func TestShellcheck(t *testing.T) {
	path, err := exec.LookPath("shellcheck")
	if err != nil {
		if os.Getenv("CI") == "true" {
			t.Fatal("shellcheck is not installed (apt-get install -y shellcheck); in CI this is a failure")
		}
		t.Skip("shellcheck is not installed: apt-get install -y shellcheck")
	}
	for _, s := range scripts {
		t.Run(s, func(t *testing.T) {
			out, err := exec.Command(path, "-x", s).CombinedOutput()
			if err != nil {
				t.Errorf("shellcheck %s: %v\n%s", s, err, out)
			}
		})
	}
}

// runScript runs a deploy/aws script with DRY_RUN=1 and aws, kubectl and
// eksctl on PATH as traps that fail the run if called.
func runScript(t *testing.T, script string, env ...string) string {
	t.Helper()
	bin := t.TempDir()
	for _, tool := range []string{"aws", "kubectl", "eksctl"} {
		trap := "#!/bin/sh\necho \"" + tool + " called under DRY_RUN\" >&2\nexit 97\n"
		if err := os.WriteFile(filepath.Join(bin, tool), []byte(trap), 0o755); err != nil {
			t.Fatal(err)
		}
	}
	cmd := exec.Command("bash", script)
	for _, kv := range os.Environ() {
		if !strings.HasPrefix(kv, "AWS_") && !strings.HasPrefix(kv, "S3_") && !strings.HasPrefix(kv, "PATH=") &&
			!strings.HasPrefix(kv, "MODE=") && !strings.HasPrefix(kv, "DRY_RUN=") && !strings.HasPrefix(kv, "CLUSTER_NAME=") {
			cmd.Env = append(cmd.Env, kv)
		}
	}
	cmd.Env = append(cmd.Env, "PATH="+bin+string(os.PathListSeparator)+os.Getenv("PATH"), "DRY_RUN=1", "AWS_REGION=eu-west-1")
	cmd.Env = append(cmd.Env, env...)
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("%s %v: %v\n%s", script, env, err, out)
	}
	return string(out)
}

func TestEKSDemoDryRun(t *testing.T) {
	common := []string{
		"+ aws sts get-caller-identity",
		"+ aws s3api create-bucket --bucket uploader-demo-111122223333-eu-west-1 --create-bucket-configuration LocationConstraint=eu-west-1",
		"+ aws iam create-policy --policy-name uploader-demo-put-only",
		"+ kubectl apply -k ",
		"+ kubectl -n uploader wait --for=condition=complete job/uploader",
		"+ aws s3 ls s3://uploader-demo-111122223333-eu-west-1/uploads/",
		"+ kubectl -n uploader logs job/uploader",
	}
	perMode := map[string][]string{
		"static-keys": {
			"+ aws iam create-user --user-name uploader-demo-static",
			"+ aws iam create-access-key --user-name uploader-demo-static",
			"+ kubectl -n uploader create secret generic uploader-aws-static --from-env-file=",
		},
		"node-role": {
			"+ aws iam attach-role-policy --role-name eksctl-uploader-demo-nodegroup-NodeInstanceRole",
			"--http-tokens required --http-put-response-hop-limit 2",
		},
		"irsa": {
			"+ aws iam create-role --role-name uploader-demo-irsa",
			"+ aws iam attach-role-policy --role-name uploader-demo-irsa",
		},
		"pod-identity": {
			"+ aws iam create-role --role-name uploader-demo-pod-identity",
			"+ aws eks create-pod-identity-association --cluster-name uploader-demo --namespace uploader --service-account uploader",
		},
	}
	for _, mode := range modes {
		t.Run(mode, func(t *testing.T) {
			work := t.TempDir()
			out := runScript(t, "aws/eks-demo.sh", "MODE="+mode, "WORK_DIR="+work)
			for _, want := range append(common, perMode[mode]...) {
				if !strings.Contains(out, want) {
					t.Errorf("output lacks %q:\n%s", want, out)
				}
			}
			if strings.Contains(out, "DRYRUNSECRET") {
				t.Error("the dry run printed the (placeholder) secret key")
			}
			// The generated kustomization renders, with the demo's settings.
			m := build(t, filesys.MakeFsOnDisk(), work)
			if len(m.jobs) != 1 || len(m.configMaps) != 1 {
				t.Fatalf("got %d Jobs and %d ConfigMaps, want 1 each", len(m.jobs), len(m.configMaps))
			}
			if got := m.configMaps[0].Data["S3_BUCKET_NAME"]; got != "uploader-demo-111122223333-eu-west-1" {
				t.Errorf("S3_BUCKET_NAME %q, want the demo bucket", got)
			}
			if got, want := m.configMaps[0].Data["REQUIRE_CREDENTIAL_MODE"], reportedMode[mode]; got != want {
				t.Errorf("REQUIRE_CREDENTIAL_MODE %q, want %q", got, want)
			}
			if mode == "irsa" {
				if got := m.serviceAccounts[0].Annotations["eks.amazonaws.com/role-arn"]; got != "arn:aws:iam::111122223333:role/uploader-demo-irsa" {
					t.Errorf("role-arn annotation %q, want the demo role", got)
				}
			}
		})
	}
	t.Run("bad mode", func(t *testing.T) {
		cmd := exec.Command("bash", "aws/eks-demo.sh")
		cmd.Env = append(os.Environ(), "MODE=root-keys", "DRY_RUN=1")
		if out, err := cmd.CombinedOutput(); err == nil || !strings.Contains(string(out), "MODE must be one of") {
			t.Errorf("got %v, %s; want a failure naming the modes", err, out)
		}
	})
}

func TestEKSCleanDryRun(t *testing.T) {
	out := runScript(t, "aws/eks-clean.sh")
	for _, want := range []string{
		"+ kubectl delete namespace uploader",
		"+ aws eks delete-pod-identity-association --cluster-name uploader-demo",
		"+ aws iam detach-role-policy --role-name eksctl-uploader-demo-nodegroup-NodeInstanceRole",
		"+ aws iam delete-role --role-name uploader-demo-irsa",
		"+ aws iam delete-role --role-name uploader-demo-pod-identity",
		"+ aws iam delete-access-key --user-name uploader-demo-static",
		"+ aws iam delete-user --user-name uploader-demo-static",
		"+ aws iam delete-policy --policy-arn arn:aws:iam::111122223333:policy/uploader-demo-put-only",
		"+ aws s3 rb s3://uploader-demo-111122223333-eu-west-1 --force",
	} {
		if !strings.Contains(out, want) {
			t.Errorf("output lacks %q:\n%s", want, out)
		}
	}
}
