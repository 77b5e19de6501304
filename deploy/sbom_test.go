package deploy_test

import (
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
)

// TestSBOM runs `make sbom` (cyclonedx-gomod, built from the module proxy and
// cached by version) and checks the document: CycloneDX JSON whose main
// component is this module and whose components hold every module the
// uploader is built from, each with a version and a Go package URL, and
// whose dependency graph names only components it lists.
func TestSBOM(t *testing.T) {
	if _, err := exec.LookPath("make"); err != nil {
		t.Fatal("make is not installed")
	}
	out := filepath.Join(t.TempDir(), "sbom.cdx.json")
	cmd := exec.Command("make", "--no-print-directory", "-C", "..", "sbom", "SBOM="+out)
	if b, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("make sbom: %v\n%s", err, b)
	}
	raw, err := os.ReadFile(out)
	if err != nil {
		t.Fatal(err)
	}
	type component struct {
		BOMRef  string `json:"bom-ref"`
		Type    string `json:"type"`
		Name    string `json:"name"`
		Version string `json:"version"`
		PURL    string `json:"purl"`
	}
	var bom struct {
		BOMFormat    string `json:"bomFormat"`
		SpecVersion  string `json:"specVersion"`
		SerialNumber string `json:"serialNumber"`
		Version      int    `json:"version"`
		Metadata     struct {
			Component component `json:"component"`
		} `json:"metadata"`
		Components   []component `json:"components"`
		Dependencies []struct {
			Ref       string   `json:"ref"`
			DependsOn []string `json:"dependsOn"`
		} `json:"dependencies"`
	}
	if err := json.Unmarshal(raw, &bom); err != nil {
		t.Fatalf("not JSON: %v", err)
	}
	if bom.BOMFormat != "CycloneDX" || !regexp.MustCompile(`^1\.[4-6]$`).MatchString(bom.SpecVersion) || bom.Version < 1 ||
		!regexp.MustCompile(`^urn:uuid:[0-9a-f-]{36}$`).MatchString(bom.SerialNumber) {
		t.Errorf("bomFormat %q specVersion %q version %d serialNumber %q: not a CycloneDX 1.4-1.6 document",
			bom.BOMFormat, bom.SpecVersion, bom.Version, bom.SerialNumber)
	}
	if m := bom.Metadata.Component; m.Name != "github.com/eks-least-privilege/uploader" || m.Type != "application" {
		t.Errorf("main component %+v, want the application github.com/eks-least-privilege/uploader", m)
	}
	refs := map[string]bool{bom.Metadata.Component.BOMRef: true}
	byName := map[string]component{}
	for _, c := range bom.Components {
		if refs[c.BOMRef] {
			t.Errorf("bom-ref %q twice", c.BOMRef)
		}
		refs[c.BOMRef] = true
		byName[c.Name] = c
		if c.Version == "" || !strings.HasPrefix(c.PURL, "pkg:golang/"+c.Name+"@"+c.Version) {
			t.Errorf("component %+v: want a version and purl pkg:golang/<name>@<version>", c)
		}
	}
	for _, d := range bom.Dependencies {
		for _, r := range append([]string{d.Ref}, d.DependsOn...) {
			if !refs[r] {
				t.Errorf("dependency graph names %q, which is not a component", r)
			}
		}
	}
	// Every module the uploader binary is built from, at its version.
	list, err := exec.Command("go", "list", "-deps", "-f", "{{with .Module}}{{if not .Main}}{{.Path}} {{.Version}}{{end}}{{end}}", "../cmd/uploader").Output()
	if err != nil {
		t.Fatalf("go list: %v", err)
	}
	want := map[string]string{}
	for _, line := range strings.Split(strings.TrimSpace(string(list)), "\n") {
		if path, version, ok := strings.Cut(line, " "); ok {
			want[path] = version
		}
	}
	if len(want) < 10 {
		t.Fatalf("go list found %d modules; want the SDK, prometheus, ...", len(want))
	}
	for path, version := range want {
		if c, ok := byName[path]; !ok || c.Version != version {
			t.Errorf("module %s %s: SBOM has %q", path, version, c.Version)
		}
	}
}
