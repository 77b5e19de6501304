package miniotest

import (
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/eks-least-privilege/uploader/internal/policy"
	"github.com/eks-least-privilege/uploader/test/testenv"
)

// MCModule is the pinned MinIO client used for admin set-up (users, policies).
const MCModule = "github.com/minio/mc@v0.0.0-20250313080218-cf909e1063a9"

// MCBinary finds the mc binary: $MC_BIN, PATH, then $GOPATH/bin.
func MCBinary() string { return findBinary("MC_BIN", "mc") }

// Admin runs `mc args...` against the server as root, alias "t", and returns
// its output. Set-up that needs it (users, policies) is unavailable without mc.
func (s *Server) Admin(t testing.TB, args ...string) string {
	t.Helper()
	bin := MCBinary()
	if bin == "" {
		testenv.Unavailable(t, "mc not found: go install "+MCModule)
	}
	host := strings.TrimPrefix(s.Endpoint, "http://")
	config := t.TempDir()
	deadline := time.Now().Add(60 * time.Second)
	for {
		ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
		cmd := exec.CommandContext(ctx, bin, append([]string{"--no-color", "--quiet"}, args...)...)
		cmd.Env = append(os.Environ(),
			"MC_HOST_t=http://"+s.RootUser+":"+s.RootPassword+"@"+host,
			"MC_CONFIG_DIR="+config,
		)
		out, err := cmd.CombinedOutput()
		cancel()
		if err == nil {
			return string(out)
		}
		// MinIO loads its IAM data after it reports ready.
		if !strings.Contains(string(out), "Server not initialized") || time.Now().After(deadline) {
			t.Fatalf("mc %s: %v\n%s", strings.Join(args, " "), err, out)
		}
		time.Sleep(200 * time.Millisecond)
	}
}

// PutOnlyUser creates a policy named name granting the uploader's put-only
// identity policy for objects under prefix in bucket (rendered from
// deploy/aws/iam-policy.json by internal/policy; an empty prefix is the whole
// bucket), and a user bound to it, and returns the user's keys.
func (s *Server) PutOnlyUser(t testing.TB, bucket, prefix, name string) (accessKey, secretKey string) {
	t.Helper()
	doc, err := policy.Identity(bucket, prefix)
	if err != nil {
		t.Fatal(err)
	}
	return s.UserWithPolicy(t, name, doc)
}

// UserWithPolicy creates a policy named name from the IAM policy document
// doc and a user bound to it, and returns the user's keys. It reads its
// writes back, since MinIO can report ready before its IAM data is loaded.
func (s *Server) UserWithPolicy(t testing.TB, name string, doc []byte) (accessKey, secretKey string) {
	t.Helper()
	file := filepath.Join(t.TempDir(), "policy.json")
	if err := os.WriteFile(file, doc, 0o600); err != nil {
		t.Fatal(err)
	}
	s.Admin(t, "admin", "policy", "create", "t", name, file)
	accessKey, secretKey = "putonly"+testenv.RandomHex(4), testenv.RandomHex(16)
	s.Admin(t, "admin", "user", "add", "t", accessKey, secretKey)
	s.Admin(t, "admin", "policy", "attach", "t", name, "--user", accessKey)
	deadline := time.Now().Add(30 * time.Second)
	for !strings.Contains(s.Admin(t, "admin", "user", "info", "t", accessKey), name) {
		if time.Now().After(deadline) {
			t.Fatalf("user %s not bound to policy %s after 30s", accessKey, name)
		}
		time.Sleep(200 * time.Millisecond)
	}
	return accessKey, secretKey
}
