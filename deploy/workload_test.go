package deploy_test

import (
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"

	corev1 "k8s.io/api/core/v1"
)

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
			if m.configMaps[0].Data["AWS_REGION"] == "" {
				t.Error("ConfigMap has no AWS_REGION")
			}
			// The S3 settings are there to edit, at values the uploader takes
			// (an empty bool would not parse).
			for key, want := range map[string]string{"S3_SSE": "", "S3_SSE_KMS_KEY_ID": "", "S3_BUCKET_KEY_ENABLED": "false", "S3_EXPECTED_BUCKET_OWNER": ""} {
				if got, ok := m.configMaps[0].Data[key]; !ok || got != want {
					t.Errorf("ConfigMap %s = %q (present %v), want %q", key, got, ok, want)
				}
			}
			checkRegionFromConfigMap(t, m)
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

// checkRegionFromConfigMap checks that AWS_REGION and AWS_DEFAULT_REGION are
// declared under env from the ConfigMap's AWS_REGION: the EKS pod identity
// webhook appends its own region to env unless env names them (it does not
// look at envFrom), and env wins over envFrom.
func checkRegionFromConfigMap(t *testing.T, m manifest) {
	t.Helper()
	for where, spec := range podSpecs(m) {
		for _, c := range spec.Containers {
			for _, name := range []string{"AWS_REGION", "AWS_DEFAULT_REGION"} {
				i := slices.IndexFunc(c.Env, func(e corev1.EnvVar) bool { return e.Name == name })
				if i < 0 {
					t.Errorf("%s: container %s: %s not under env", where, c.Name, name)
					continue
				}
				ref := c.Env[i].ValueFrom
				if ref == nil || ref.ConfigMapKeyRef == nil || ref.ConfigMapKeyRef.Name != m.configMaps[0].Name ||
					ref.ConfigMapKeyRef.Key != "AWS_REGION" {
					t.Errorf("%s: container %s: %s = %+v, want valueFrom configMapKeyRef %s key AWS_REGION",
						where, c.Name, name, c.Env[i], m.configMaps[0].Name)
				}
			}
		}
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
