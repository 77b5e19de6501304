package token_test

import (
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"testing"

	"github.com/eks-least-privilege/uploader/internal/token"
)

// TestObserve: a readable file with its owner and mode, a missing one, and
// the kubelet's symlink whose data is gone; an empty path observes nothing.
func TestObserve(t *testing.T) {
	dir := t.TempDir()
	file := filepath.Join(dir, "token")
	if err := os.WriteFile(file, []byte("x.y.z"), 0o600); err != nil {
		t.Fatal(err)
	}
	dangling := filepath.Join(dir, "dangling")
	if err := os.Symlink(filepath.Join(dir, "..data", "token"), dangling); err != nil {
		t.Fatal(err)
	}
	s := token.Observe(file)
	if s.StatErr != nil || s.OpenErr != nil || !s.HasOwner || s.UID != os.Getuid() || s.Mode.Perm() != 0o600 {
		t.Errorf("got %+v, want owner %d and mode 0600, no error", s, os.Getuid())
	}
	for _, path := range []string{filepath.Join(dir, "absent"), dangling} {
		if s := token.Observe(path); !errors.Is(s.StatErr, fs.ErrNotExist) {
			t.Errorf("%s: got %v, want ErrNotExist", path, s.StatErr)
		}
	}
	if s := token.Observe(""); s != (token.File{}) {
		t.Errorf("empty path: got %+v, want nothing observed", s)
	}
}

func TestProcessString(t *testing.T) {
	p := token.Process{UID: 65532, GID: 65532, Groups: []int{65532, 10}}
	if got, want := p.String(), "uid 65532 gid 65532 groups [10 65532]"; got != want {
		t.Errorf("got %q, want %q", got, want)
	}
}
