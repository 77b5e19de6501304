package diagnose

import (
	"bytes"
	"go/ast"
	"go/parser"
	"go/token"
	"log/slog"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"testing"
)

func TestNames(t *testing.T) {
	snake := regexp.MustCompile(`^[a-z0-9]+(_[a-z0-9]+)*$`)
	seen := map[Name]bool{}
	for _, n := range Names {
		if !snake.MatchString(string(n)) {
			t.Errorf("name %q is not snake_case", n)
		}
		if seen[n] {
			t.Errorf("name %q listed twice", n)
		}
		seen[n] = true
	}
}

// TestNamesListsEveryName: every constant of type Name declared in this
// package is in Names, so the metric, the troubleshooting page
// (TestTroubleshootingDoc) and this list cannot lose one; how many there are
// is whatever Names holds.
func TestNamesListsEveryName(t *testing.T) {
	files, err := filepath.Glob("*.go")
	if err != nil {
		t.Fatal(err)
	}
	fset := token.NewFileSet()
	var declared []Name
	for _, f := range files {
		if strings.HasSuffix(f, "_test.go") {
			continue
		}
		file, err := parser.ParseFile(fset, f, nil, 0)
		if err != nil {
			t.Fatal(err)
		}
		for _, decl := range file.Decls {
			gd, ok := decl.(*ast.GenDecl)
			if !ok || gd.Tok != token.CONST {
				continue
			}
			for _, spec := range gd.Specs {
				vs := spec.(*ast.ValueSpec)
				if id, ok := vs.Type.(*ast.Ident); !ok || id.Name != "Name" {
					continue
				}
				for i, n := range vs.Names {
					lit, ok := vs.Values[i].(*ast.BasicLit)
					if !ok {
						t.Fatalf("%s: the value of %s is not a string literal", f, n.Name)
					}
					v, err := strconv.Unquote(lit.Value)
					if err != nil {
						t.Fatal(err)
					}
					declared = append(declared, Name(v))
				}
			}
		}
	}
	if len(declared) == 0 {
		t.Fatal("no Name constant found: the parse is wrong")
	}
	for _, n := range declared {
		if !slices.Contains(Names, n) {
			t.Errorf("diagnosis %s is declared but not in Names", n)
		}
	}
	if len(declared) != len(Names) {
		t.Errorf("got %d names in Names, %d declared: each once", len(Names), len(declared))
	}
}

func TestList(t *testing.T) {
	l := List{
		{Name: ClockSkew, Observed: "o1", Fix: "f1"},
		{Name: CredentialsShadowed, Observed: "o2", Fix: "f2"},
		{Name: CredentialsShadowed, Observed: "o3", Fix: "f3"},
	}
	if !l.Has(ClockSkew) || l.Has(IMDSNoRole) {
		t.Errorf("Has: got %v %v, want true false", l.Has(ClockSkew), l.Has(IMDSNoRole))
	}
	if got, want := l.Names(), []string{"clock_skew", "credentials_shadowed"}; !slices.Equal(got, want) {
		t.Errorf("Names: got %v, want %v", got, want)
	}
	if got, want := l[0].String(), "clock_skew: o1; fix: f1"; got != want {
		t.Errorf("String: got %q, want %q", got, want)
	}
	var buf bytes.Buffer
	slog.New(slog.NewJSONHandler(&buf, nil)).Info("m", "diagnoses", l, "one", l[0])
	for _, want := range []string{`"clock_skew":{"observed":"o1","fix":"f1"}`, `"one":{"name":"clock_skew","observed":"o1","fix":"f1"}`} {
		if !strings.Contains(buf.String(), want) {
			t.Errorf("log %s: want it to contain %s", buf.String(), want)
		}
	}
}

// envOf returns an Env over m.
func envOf(m map[string]string) Env {
	return func(k string) string { return m[k] }
}

// wantNames fails unless ds are exactly the diagnoses named want, and each
// Observed and Fix is filled and contains the strings in contains.
func wantNames(t *testing.T, ds []Diagnosis, want []Name, contains ...string) {
	t.Helper()
	var w []string
	for _, n := range want {
		w = append(w, string(n))
	}
	var got []string
	for _, d := range ds {
		got = append(got, string(d.Name))
		if d.Observed == "" || d.Fix == "" {
			t.Errorf("%s: empty observed or fix: %+v", d.Name, d)
		}
	}
	if !slices.Equal(got, w) {
		t.Fatalf("got %v, want %v\n%s", got, w, List(ds))
	}
	text := List(ds).String()
	for _, c := range contains {
		if !strings.Contains(text, c) {
			t.Errorf("got %q, want it to contain %q", text, c)
		}
	}
}
