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
// text says, imports point down the list, never up.
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
	for i, p := range listed {
		imports, err := internalImports("../" + p)
		if err != nil {
			t.Errorf("%s: listed, but: %v", p, err)
			continue
		}
		for _, imp := range imports {
			if j := slices.Index(listed, imp); j < i {
				t.Errorf("%s imports %s, which the table lists above it (or not at all): imports point down the list", p, imp)
			}
		}
	}
}

// internalImports returns the internal/ packages the non-test files of dir
// import.
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
			if p, ok := strings.CutPrefix(path, module); ok && strings.HasPrefix(p, "internal/") && !slices.Contains(out, p) {
				out = append(out, p)
			}
		}
	}
	return out, nil
}
