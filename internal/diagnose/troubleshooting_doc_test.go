package diagnose

import (
	"regexp"
	"slices"
	"strings"
	"testing"

	"github.com/eks-least-privilege/uploader/test/testenv"
)

// testFiles hold the tests the troubleshooting table names.
var testFiles = []string{"internal/diagnose/*_test.go", "internal/creds/*_test.go", "internal/cycle/*_test.go",
	"internal/issuer/*_test.go", "cmd/uploader/*_test.go"}

// TestTroubleshootingDoc checks the table of docs/troubleshooting.md: one
// row per diagnosis, each naming tests (TestName or TestName/subtest) that
// exist in testFiles.
func TestTroubleshootingDoc(t *testing.T) {
	section := testenv.RepoFiles(t, "docs/troubleshooting.md")["docs/troubleshooting.md"]
	var sources strings.Builder
	for _, src := range testenv.RepoFiles(t, testFiles...) {
		sources.WriteString(src)
	}
	src := sources.String()
	code := regexp.MustCompile("`([^`]+)`")
	var rows []string
	for _, line := range strings.Split(section, "\n") {
		cells := strings.Split(line, " | ")
		if len(cells) != 4 || strings.HasPrefix(line, "| symptom") || strings.HasPrefix(line, "|---") {
			continue
		}
		name := strings.Trim(cells[1], "`")
		if !slices.Contains(Names, Name(name)) {
			t.Errorf("row %q: %q is not a diagnosis name", line, name)
			continue
		}
		rows = append(rows, name)
		tests := code.FindAllStringSubmatch(cells[3], -1)
		if len(tests) == 0 {
			t.Errorf("row %s names no test", name)
		}
		for _, m := range tests {
			fn, sub, _ := strings.Cut(m[1], "/")
			if !strings.Contains(src, "func "+fn+"(t *testing.T)") {
				t.Errorf("row %s: no test %s", name, fn)
			}
			if sub != "" && !strings.Contains(src, `"`+strings.ReplaceAll(sub, "_", " ")+`"`) {
				t.Errorf("row %s: no subtest %q of %s", name, sub, fn)
			}
		}
	}
	for _, n := range Names {
		if !slices.Contains(rows, string(n)) {
			t.Errorf("diagnosis %s has no row in docs/troubleshooting.md", n)
		}
	}
	if len(rows) != len(Names) {
		t.Errorf("got %d rows, want %d (one per diagnosis)", len(rows), len(Names))
	}
}
