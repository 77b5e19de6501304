// Package test holds the test-only tooling: testenv, miniotest, standintest,
// the end-to-end suites and lib.sh, the one shell library of the suites and
// scripts, which this package's test exercises.
package test

import (
	"net"
	"os"
	"os/exec"
	"strings"
	"testing"
)

// runLib runs script in bash after sourcing lib.sh, with CI as given, and
// returns its output and exit code.
func runLib(t *testing.T, ci, script string) (string, int) {
	t.Helper()
	cmd := exec.Command("bash", "-c", "set -uo pipefail; LIB_WORK=$(mktemp -d); trap 'rm -rf $LIB_WORK' EXIT; . ./lib.sh; "+script)
	cmd.Env = append(os.Environ(), "CI="+ci)
	out, err := cmd.CombinedOutput()
	code := 0
	if err != nil {
		ee, ok := err.(*exec.ExitError)
		if !ok {
			t.Fatalf("bash: %v", err)
		}
		code = ee.ExitCode()
	}
	return string(out), code
}

func TestLibChecks(t *testing.T) {
	const script = `
phase one
check "true passes" bash -c 'echo measured 42'
check "false fails" bash -c 'echo what went wrong; exit 3'
check "a check cannot end the run" bash -c 'exit 1'
x=1; check "nor change its variables" eval 'x=2'; [[ $x == 1 ]] || echo "x changed"
phase two
GLOBAL=0 setup "a failing step" false
check "after a failed setup" true
phase three
check "a new phase runs again" true
report suite
`
	tests := []struct {
		name, ci string
		want     []string
	}{
		{"outside CI", "", []string{
			"PASS: true passes: measured 42\n",
			"FAIL: false fails (what went wrong)\n",
			"PASS: nor change its variables\n",
			"FAIL: setup: a failing step",
			"SKIP: after a failed setup (cannot run: a failing step failed)\n",
			"PASS: a new phase runs again\n",
			"-- one: ",
			"suite: 3 passed, 3 failed, 1 skipped\n",
		}},
		{"in CI a check that cannot run fails", "true", []string{
			"FAIL: after a failed setup (cannot run: a failing step failed)\n",
			"suite: 3 passed, 4 failed\n",
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			out, code := runLib(t, tt.ci, script)
			for _, w := range tt.want {
				if !strings.Contains(out, w) {
					t.Errorf("output lacks %q:\n%s", w, out)
				}
			}
			if strings.Contains(out, "x changed") {
				t.Errorf("a check changed a variable of the run:\n%s", out)
			}
			if code != 1 {
				t.Errorf("exit code: got %d, want 1 (checks failed)\n%s", code, out)
			}
		})
	}
}

func TestLibReport(t *testing.T) {
	tests := []struct {
		name, ci, script string
		want             int
	}{
		{"all passed", "true", `check ok true; report s`, 0},
		{"a skip outside CI", "", `cannot c "no tool"; check ok true; report s`, 0},
		{"a skip in CI", "true", `setup s false; check c true; report s`, 1},
		{"die ends the run", "", `die "no cluster"; echo after`, 1},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			out, code := runLib(t, tt.ci, tt.script)
			if code != tt.want {
				t.Errorf("exit code: got %d, want %d\n%s", code, tt.want, out)
			}
			if strings.Contains(out, "after") {
				t.Errorf("the run went on after die:\n%s", out)
			}
		})
	}
}

// TestLibFreePort: free_port hands out distinct ports that are free, so a
// server can bind each.
func TestLibFreePort(t *testing.T) {
	out, code := runLib(t, "", `for _ in 1 2 3 4 5; do free_port; done`)
	if code != 0 {
		t.Fatalf("free_port: exit %d\n%s", code, out)
	}
	ports := strings.Fields(out)
	if len(ports) != 5 {
		t.Fatalf("got %q, want 5 ports", out)
	}
	seen := map[string]bool{}
	for _, p := range ports {
		if seen[p] {
			t.Errorf("port %s handed out twice in %v", p, ports)
		}
		seen[p] = true
		l, err := net.Listen("tcp", "127.0.0.1:"+p)
		if err != nil {
			t.Errorf("port %s is not free: %v", p, err)
			continue
		}
		l.Close()
	}
}
