package testenv

import (
	"os"
	"path/filepath"
	"testing"
)

// RepoFiles reads the files that match patterns (filepath.Glob patterns,
// relative to the repository root: the directory of go.mod) and returns
// their contents by that relative path, so that a test reads the docs,
// manifests and sources it checks wherever its package sits. A pattern that
// matches no file fails the test.
func RepoFiles(t testing.TB, patterns ...string) map[string]string {
	t.Helper()
	root := repoRoot(t)
	files := map[string]string{}
	for _, pattern := range patterns {
		matches, err := filepath.Glob(filepath.Join(root, pattern))
		if err != nil {
			t.Fatalf("glob %s: %v", pattern, err)
		}
		if len(matches) == 0 {
			t.Fatalf("no file matches %s under %s", pattern, root)
		}
		for _, m := range matches {
			b, err := os.ReadFile(m)
			if err != nil {
				t.Fatal(err)
			}
			rel, err := filepath.Rel(root, m)
			if err != nil {
				t.Fatal(err)
			}
			files[filepath.ToSlash(rel)] = string(b)
		}
	}
	return files
}

// repoRoot is the nearest directory holding go.mod, from the test's working
// directory (its package's) up.
func repoRoot(t testing.TB) string {
	t.Helper()
	dir, err := os.Getwd()
	if err != nil {
		t.Fatal(err)
	}
	for {
		if _, err := os.Stat(filepath.Join(dir, "go.mod")); err == nil {
			return dir
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			t.Fatalf("no go.mod above %s", dir)
		}
		dir = parent
	}
}
