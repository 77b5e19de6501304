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
	"slices"
	"strings"
	"testing"

	"github.com/compose-spec/compose-go/v2/cli"
	"github.com/compose-spec/compose-go/v2/types"

	uploaderpolicy "github.com/eks-least-privilege/uploader/internal/policy"
	"github.com/eks-least-privilege/uploader/standin"
)

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
			// Image builders (scale 0) run nothing.
			if !oneShot[name] && s.GetScale() != 0 && (s.HealthCheck == nil || s.HealthCheck.Disable || len(s.HealthCheck.Test) == 0) {
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
			// STS is MinIO's in every mode: else the SDK calls the real AWS STS.
			if got := s.Environment["AWS_ENDPOINT_URL_STS"]; got == nil || *got != "http://minio:9000" {
				t.Errorf("env AWS_ENDPOINT_URL_STS = %v, want http://minio:9000", got)
			}
		})
	}
	// Each local image is built by one service; the others name it.
	builders := map[string][]string{}
	for name, s := range p.Services {
		if s.Build != nil {
			builders[s.Image] = append(builders[s.Image], name)
		}
	}
	for _, image := range []string{"uploader:dev", "uploader-standin:dev"} {
		if len(builders[image]) != 1 {
			t.Errorf("image %s built by %v, want one service", image, builders[image])
		}
	}
	if uploaders != 4 {
		t.Errorf("got %d uploader services, want 4 (one per mode)", uploaders)
	}
	up := p.Services["uploader"]
	if got := up.DependsOn["minio-init"].Condition; got != types.ServiceConditionCompletedSuccessfully {
		t.Errorf("uploader waits for minio-init to be %q, want %q", got, types.ServiceConditionCompletedSuccessfully)
	}
	for key, want := range map[string]string{
		"S3_USE_PATH_STYLE":        "true",
		"AWS_ENDPOINT_URL_S3":      "http://minio:9000",
		"IMAGE_SOURCE_URL":         "builtin:",
		"REQUIRE_CREDENTIAL_MODE":  "static",
		"S3_SSE":                   "",
		"S3_SSE_KMS_KEY_ID":        "",
		"S3_BUCKET_KEY_ENABLED":    "false",
		"S3_EXPECTED_BUCKET_OWNER": "",
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

// TestMinioInitPolicy runs compose/minio-init.sh under a POSIX sh with a
// stand-in mc that records its calls: the policy it creates is
// aws/iam-policy.json rendered for the compose bucket and prefix, the same
// document internal/policy renders.
func TestMinioInitPolicy(t *testing.T) {
	sh, err := exec.LookPath("dash")
	if err != nil {
		sh = "/bin/sh"
	}
	dir := t.TempDir()
	mc := "#!/bin/sh\nprintf '%s\\n' \"$*\" >>" + filepath.Join(dir, "mc.log") + "\n"
	if err := os.WriteFile(filepath.Join(dir, "mc"), []byte(mc), 0o755); err != nil {
		t.Fatal(err)
	}
	out := filepath.Join(dir, "policy.json")
	cmd := exec.Command(sh, "compose/minio-init.sh")
	cmd.Env = []string{"PATH=" + dir + ":/usr/bin:/bin", "POLICY_TEMPLATE=aws/iam-policy.json", "POLICY_FILE=" + out,
		"MINIO_ROOT_USER=root", "MINIO_ROOT_PASSWORD=root-secret", "S3_BUCKET_NAME=uploads", "S3_KEY_PREFIX=uploads/",
		"UPLOADER_ACCESS_KEY=uploader", "UPLOADER_SECRET_KEY=uploader-secret"}
	if b, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("minio-init.sh: %v\n%s", err, b)
	}
	got, err := os.ReadFile(out)
	if err != nil {
		t.Fatal(err)
	}
	want, err := uploaderpolicy.Identity("uploads", "uploads/")
	if err != nil {
		t.Fatal(err)
	}
	var g, w any
	if err := json.Unmarshal(got, &g); err != nil {
		t.Fatalf("rendered policy is not JSON: %v\n%s", err, got)
	}
	if err := json.Unmarshal(want, &w); err != nil {
		t.Fatal(err)
	}
	gb, _ := json.Marshal(g)
	wb, _ := json.Marshal(w)
	if !bytes.Equal(gb, wb) {
		t.Errorf("minio-init policy:\n%s\nwant (internal/policy):\n%s", got, want)
	}
	calls, err := os.ReadFile(filepath.Join(dir, "mc.log"))
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"admin policy create local uploader-put-only " + out, "admin policy attach local uploader-put-only --user uploader"} {
		if !strings.Contains(string(calls), want+"\n") {
			t.Errorf("mc calls:\n%s\nwant %q", calls, want)
		}
	}
}
