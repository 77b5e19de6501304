package diagnose

import (
	"fmt"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"

	"github.com/eks-least-privilege/uploader/internal/creds"
	"github.com/eks-least-privilege/uploader/internal/token"
	"github.com/eks-least-privilege/uploader/test/testenv"
)

func TestTokenFile(t *testing.T) {
	const path = "/var/run/secrets/eks.amazonaws.com/serviceaccount/token"
	proc := token.Process{UID: 65532, GID: 65532, Groups: []int{65532}}
	denied := &fs.PathError{Op: "open", Path: path, Err: syscall.EACCES}
	tests := []struct {
		name     string
		key      string
		state    token.File
		want     []Name
		contains []string
	}{
		{name: "variable unset", key: creds.EnvWebIdentityTokenFile},
		{name: "readable", key: creds.EnvWebIdentityTokenFile, state: token.File{Path: path, Mode: 0o644, HasOwner: true}},
		{name: "missing irsa", key: creds.EnvWebIdentityTokenFile, state: token.File{Path: path, StatErr: &fs.PathError{Op: "stat", Path: path, Err: syscall.ENOENT}},
			want: []Name{TokenFileMissing}, contains: []string{"AWS_WEB_IDENTITY_TOKEN_FILE=" + path + " does not exist", "not mounted", "eks.amazonaws.com/role-arn", "recreate the pod"}},
		{name: "missing pod identity", key: creds.EnvContainerTokenFile, state: token.File{Path: "/t", StatErr: fs.ErrNotExist},
			want: []Name{TokenFileMissing}, contains: []string{"AWS_CONTAINER_AUTHORIZATION_TOKEN_FILE=/t", "Pod Identity association"}},
		{name: "unreadable", key: creds.EnvWebIdentityTokenFile, state: token.File{Path: path, Mode: 0o600, UID: 0, GID: 0, HasOwner: true, OpenErr: denied},
			want:     []Name{TokenFileUnreadable},
			contains: []string{"open permission denied for uid 65532 gid 65532 groups [65532]", "file owner uid 0 gid 0 mode -rw-------", "securityContext.fsGroup", "fsGroup: 65532"}},
		{name: "directory not searchable", key: creds.EnvWebIdentityTokenFile, state: token.File{Path: path, StatErr: &fs.PathError{Op: "stat", Path: path, Err: syscall.EACCES}},
			want: []Name{TokenFileUnreadable}, contains: []string{"stat (a directory on the way is not searchable)", "owner unknown"}},
		{name: "other open error", key: creds.EnvWebIdentityTokenFile, state: token.File{Path: path, OpenErr: &fs.PathError{Op: "open", Path: path, Err: syscall.EIO}},
			want: []Name{TokenFileUnreadable}, contains: []string{"open: input/output error"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			wantNames(t, tokenFile(tt.key, tt.state, proc), tt.want, tt.contains...)
		})
	}
}

// TestObserveTokenFile: what token.Observe says of a real file is what
// tokenFile reads: a readable file is no diagnosis, an absent one is
// token_file_missing (the kubelet's symlink without its data is absent too:
// token's TestObserve).
func TestObserveTokenFile(t *testing.T) {
	file := testenv.WriteFile(t, "token", "x.y.z")
	for path, want := range map[string][]Name{file: nil, file + ".absent": {TokenFileMissing}} {
		wantNames(t, tokenFile(creds.EnvWebIdentityTokenFile, token.Observe(path), token.CurrentProcess()), want)
	}
}

// TestTokenFileUnreadableAsNonRoot reads a root-owned 0600 token file as uid
// 65532, in a child process of this test binary, as a distroless non-root
// container without fsGroup does. It needs root to start the child.
func TestTokenFileUnreadableAsNonRoot(t *testing.T) {
	if path := os.Getenv("DIAGNOSE_CHILD_TOKEN_FILE"); path != "" {
		s := token.Observe(os.Getenv(creds.EnvWebIdentityTokenFile))
		fmt.Println(List(tokenFile(creds.EnvWebIdentityTokenFile, s, token.CurrentProcess())).String())
		return
	}
	if os.Getuid() != 0 {
		testenv.Unavailable(t, "needs root to run a child as uid 65532: run the tests as root to include it")
	}
	dir, err := os.MkdirTemp("", "diagnose-token-")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(dir) })
	if err := os.Chmod(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	file := filepath.Join(dir, "token")
	if err := os.WriteFile(file, []byte("x.y.z"), 0o600); err != nil {
		t.Fatal(err)
	}
	// The test binary must be readable and executable by the child.
	bin := filepath.Join(dir, "diagnose.test")
	data, err := os.ReadFile(os.Args[0])
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(bin, data, 0o755); err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(bin, "-test.run=^TestTokenFileUnreadableAsNonRoot$")
	cmd.Env = []string{"DIAGNOSE_CHILD_TOKEN_FILE=" + file, creds.EnvWebIdentityTokenFile + "=" + file}
	cmd.SysProcAttr = &syscall.SysProcAttr{Credential: &syscall.Credential{Uid: 65532, Gid: 65532, Groups: []uint32{65532}}}
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("child: %v\n%s", err, out)
	}
	for _, want := range []string{"token_file_unreadable:", "uid 65532 gid 65532 groups [65532]", "file owner uid 0 gid 0 mode -rw-------", "securityContext.fsGroup"} {
		if !strings.Contains(string(out), want) {
			t.Errorf("child printed %q, want it to contain %q", out, want)
		}
	}
}
