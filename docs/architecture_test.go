package docs

import (
	"go/parser"
	"go/token"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"
)

const module = "github.com/eks-least-privilege/uploader/"

// TestArchitecturePackageTable keeps the package table of ARCHITECTURE.md
// true: it lists every package under internal/ and no other, and, as its
// text says, imports point down the list, never up. The product imports
// neither standin/ nor test/ (the image's build context leaves test/ out).
func TestArchitecturePackageTable(t *testing.T) {
	doc, err := os.ReadFile("../ARCHITECTURE.md")
	if err != nil {
		t.Fatal(err)
	}
	// The first code block is the table: a package path starts each entry.
	_, rest, _ := strings.Cut(string(doc), "```\n")
	table, _, _ := strings.Cut(rest, "```")
	var listed []string
	for _, line := range strings.Split(table, "\n") {
		if line == "" || line[0] == ' ' {
			continue
		}
		if p := strings.Fields(line)[0]; strings.HasPrefix(p, "internal/") {
			listed = append(listed, p)
		}
	}
	dirs, err := filepath.Glob("../internal/*")
	if err != nil {
		t.Fatal(err)
	}
	for _, d := range dirs {
		if p := strings.TrimPrefix(d, "../"); !slices.Contains(listed, p) {
			t.Errorf("%s is not in ARCHITECTURE.md's package table", p)
		}
	}
	if imports, err := internalImports("../cmd/uploader"); err != nil {
		t.Error(err)
	} else {
		for _, imp := range imports {
			if tooling(imp) {
				t.Errorf("cmd/uploader imports %s: the product never imports development stand-ins or test helpers", imp)
			}
		}
	}
	for i, p := range listed {
		imports, err := internalImports("../" + p)
		if err != nil {
			t.Errorf("%s: listed, but: %v", p, err)
			continue
		}
		for _, imp := range imports {
			if tooling(imp) {
				t.Errorf("%s imports %s: the product never imports development stand-ins or test helpers", p, imp)
				continue
			}
			if !strings.HasPrefix(imp, "internal/") {
				continue // deploy: the embedded policy templates
			}
			if j := slices.Index(listed, imp); j < i {
				t.Errorf("%s imports %s, which the table lists above it (or not at all): imports point down the list", p, imp)
			}
		}
	}
}

// tooling reports whether a package of this module is a development
// stand-in or a test helper.
func tooling(pkg string) bool {
	return pkg == "standin" || strings.HasPrefix(pkg, "standin/") || strings.HasPrefix(pkg, "test/")
}

// internalImports returns the packages of this module (internal/..., and
// any other) that the non-test files of dir import.
func internalImports(dir string) ([]string, error) {
	files, err := filepath.Glob(filepath.Join(dir, "*.go"))
	if err != nil {
		return nil, err
	}
	if len(files) == 0 {
		return nil, os.ErrNotExist
	}
	var out []string
	fset := token.NewFileSet()
	for _, f := range files {
		if strings.HasSuffix(f, "_test.go") {
			continue
		}
		file, err := parser.ParseFile(fset, f, nil, parser.ImportsOnly)
		if err != nil {
			return nil, err
		}
		for _, spec := range file.Imports {
			path, err := strconv.Unquote(spec.Path.Value)
			if err != nil {
				return nil, err
			}
			if p, ok := strings.CutPrefix(path, module); ok && !slices.Contains(out, p) {
				out = append(out, p)
			}
		}
	}
	return out, nil
}
