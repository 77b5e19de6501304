package docs

import (
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/eks-least-privilege/uploader/test/testenv"
)

// runHere are the make targets the README documents that TestDocumentedDemos
// runs as a newcomer would: `make demo`, `make demo-modes`.
var runHere = map[string]string{
	"demo":       "demo done: the uploader stored images with a user that can only put objects.",
	"demo-modes": "demo-modes: all four credential modes wrote with a put-only identity",
}

// runElsewhere are the make targets the README documents that other parts of
// the test suite run: the file that runs each and what it holds to do so.
var runElsewhere = map[string]struct{ file, holds string }{
	"test":        {".ci/run", "make test"},
	"e2e":         {".ci/run", "make e2e"},
	"e2e-compose": {".ci/run", "make e2e-compose"},
	"eks-demo":    {"deploy/scripts_test.go", "aws/eks-demo.sh"}, // in dry run
}

// TestREADMECommandsRun fails when the README documents a make target that no
// test runs: a documented path nothing runs rots unseen.
func TestREADMECommandsRun(t *testing.T) {
	readme, err := os.ReadFile("../README.md")
	if err != nil {
		t.Fatal(err)
	}
	targets := regexp.MustCompile(`\bmake ([a-z][a-z0-9-]*)`).FindAllStringSubmatch(string(readme), -1)
	if len(targets) == 0 {
		t.Fatal("the README documents no make target: want at least make demo and make test")
	}
	for _, m := range targets {
		target := m[1]
		if _, ok := runHere[target]; ok {
			continue
		}
		where, ok := runElsewhere[target]
		if !ok {
			t.Errorf("the README documents make %s, which no test runs: run it in TestDocumentedDemos or name the test that does in runElsewhere", target)
			continue
		}
		b, err := os.ReadFile(filepath.Join("..", where.file))
		if err != nil || !strings.Contains(string(b), where.holds) {
			t.Errorf("make %s: %s should run it (hold %q): %v", target, where.file, where.holds, err)
		}
	}
}

// TestDocumentedDemos runs `make demo` and `make demo-modes` from the
// repository root as the README says, each against its own MinIO on
// loopback, and checks that each ends with its success line. The scripts
// check themselves what they show: three uploads for the demo; for each
// credential mode, least privilege under the put-only policy and two images
// stored.
func TestDocumentedDemos(t *testing.T) {
	gopathBin := filepath.Join(goEnv(t, "GOPATH"), "bin")
	t.Setenv("PATH", gopathBin+string(os.PathListSeparator)+os.Getenv("PATH"))
	for _, tool := range []string{"make", "minio", "mc", "curl"} {
		if _, err := exec.LookPath(tool); err != nil {
			testenv.Unavailable(t, tool+" not found: run scripts/tools.sh (MinIO and mc) to run the documented demos")
		}
	}
	// The demos ask nothing of AWS: S3_BUCKET_NAME would turn `make demo`
	// into uploads to a real bucket.
	testenv.IsolateAWSEnv(t)
	os.Unsetenv("S3_BUCKET_NAME")
	// Run from a make of its own, not as a sub-make of `make test`.
	for _, k := range []string{"MAKEFLAGS", "MFLAGS", "MAKELEVEL"} {
		os.Unsetenv(k)
	}
	for _, target := range []string{"demo", "demo-modes"} { // one after the other: both build bin/
		t.Run(target, func(t *testing.T) {
			out, err := runMake(t, 5*time.Minute, target)
			if err != nil {
				t.Fatalf("make %s: %v\n%s", target, err, out)
			}
			if !strings.Contains(out, runHere[target]) {
				t.Errorf("make %s: got no %q in\n%s", target, runHere[target], out)
			}
			if target == "demo-modes" {
				if got := strings.Count(out, "verdict: least privilege holds (exit 0)"); got != 4 {
					t.Errorf("make demo-modes: got %d modes where least privilege holds, want 4\n%s", got, out)
				}
			}
		})
	}
}

// runMake runs make target in the repository root, in a process group of its
// own that is stopped, MinIO and all, if it outlives limit.
func runMake(t *testing.T, limit time.Duration, target string) (string, error) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), limit)
	defer cancel()
	cmd := exec.CommandContext(ctx, "make", "-C", "..", "--no-print-directory", target)
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	cmd.Cancel = func() error { return syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL) }
	cmd.WaitDelay = 10 * time.Second
	out, err := cmd.CombinedOutput()
	return string(out), err
}

func goEnv(t *testing.T, name string) string {
	t.Helper()
	out, err := exec.Command("go", "env", name).Output()
	if err != nil {
		t.Fatalf("go env %s: %v", name, err)
	}
	return strings.TrimSpace(string(out))
}
