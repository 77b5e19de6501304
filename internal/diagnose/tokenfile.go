package diagnose

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"slices"
	"strconv"
	"strings"
)

// Process is who this process runs as, for reading a token file.
type Process struct {
	UID    int
	GID    int
	Groups []int // supplementary groups
}

// CurrentProcess returns the uid, gid and supplementary groups of this
// process.
func CurrentProcess() Process {
	groups, _ := os.Getgroups() // nil when the platform has none
	return Process{UID: os.Getuid(), GID: os.Getgid(), Groups: groups}
}

// String returns "uid 65532 gid 65532 groups [65532]".
func (p Process) String() string {
	return fmt.Sprintf("uid %d gid %d groups %s", p.UID, p.GID, ints(p.Groups))
}

// TokenFileState is what stat and open said of a token file.
type TokenFileState struct {
	Var  string // the variable naming the file: EnvWebIdentityTokenFile or EnvContainerTokenFile
	Path string // its value; empty when the variable is not set
	// StatErr is the error of os.Stat (which follows the kubelet's symlinks).
	StatErr error
	// Mode, UID and GID describe the file when StatErr is nil; HasOwner is
	// false where the platform does not report an owner.
	Mode     fs.FileMode
	UID, GID int
	HasOwner bool
	// OpenErr is the error of opening the file for reading.
	OpenErr error
}

// ObserveTokenFile stats and opens the file named by the variable key in
// env; a zero Path means the variable is not set. It never reads the file.
func ObserveTokenFile(env Env, key string) TokenFileState {
	s := TokenFileState{Var: key, Path: env(key)}
	if s.Path == "" {
		return s
	}
	fi, err := os.Stat(s.Path)
	if err != nil {
		s.StatErr = err
		return s
	}
	s.Mode = fi.Mode()
	s.UID, s.GID, s.HasOwner = owner(fi)
	f, err := os.Open(s.Path)
	if err != nil {
		s.OpenErr = err
		return s
	}
	f.Close()
	return s
}

// TokenFile diagnoses a token file p tried to use: missing (the projected
// volume is not mounted) or unreadable (the process's ids against the file's
// owner, group and mode). It returns nil when the variable is unset or the
// file opens.
func TokenFile(s TokenFileState, p Process) []Diagnosis {
	if s.Path == "" {
		return nil
	}
	switch {
	case errors.Is(s.StatErr, fs.ErrNotExist):
		return []Diagnosis{{
			Name:     TokenFileMissing,
			Observed: fmt.Sprintf("%s=%s does not exist", s.Var, s.Path),
			Fix: "the projected service-account token volume is not mounted: " + mountHint(s.Var) +
				"; the mutation happens at admission only, so recreate the pod after fixing it",
		}}
	case errors.Is(s.StatErr, fs.ErrPermission), s.StatErr == nil && errors.Is(s.OpenErr, fs.ErrPermission):
		owner := "owner unknown"
		if s.HasOwner {
			owner = fmt.Sprintf("owner uid %d gid %d", s.UID, s.GID)
		}
		what := "open"
		if s.StatErr != nil {
			what = "stat (a directory on the way is not searchable)"
		} else {
			owner += " mode " + s.Mode.String()
		}
		return []Diagnosis{{
			Name: TokenFileUnreadable,
			Observed: fmt.Sprintf("%s=%s: %s permission denied for %s; file %s",
				s.Var, s.Path, what, p, owner),
			Fix: fmt.Sprintf("set the pod's securityContext.fsGroup (e.g. fsGroup: %d, the group this process runs as) "+
				"so that the kubelet makes the projected token readable by that group, or run as the file's owner (securityContext.runAsUser)",
				fsGroupHint(p)),
		}}
	case s.StatErr != nil:
		return []Diagnosis{{
			Name:     TokenFileUnreadable,
			Observed: fmt.Sprintf("%s=%s: stat: %s", s.Var, s.Path, errText(s.StatErr)),
			Fix:      "make the projected service-account token readable at that path (" + mountHint(s.Var) + ")",
		}}
	case s.OpenErr != nil:
		return []Diagnosis{{
			Name:     TokenFileUnreadable,
			Observed: fmt.Sprintf("%s=%s: open: %s", s.Var, s.Path, errText(s.OpenErr)),
			Fix:      "make the projected service-account token readable at that path (" + mountHint(s.Var) + ")",
		}}
	}
	return nil
}

// mountHint says who mounts the token for each variable.
func mountHint(key string) string {
	if key == EnvContainerTokenFile {
		return "EKS Pod Identity mounts it (audience pods.eks.amazonaws.com) when a Pod Identity association exists for the pod's service account"
	}
	return "the EKS pod identity webhook mounts it (audience sts.amazonaws.com) when the service account has the eks.amazonaws.com/role-arn annotation"
}

func fsGroupHint(p Process) int {
	if p.GID != 0 {
		return p.GID
	}
	return 65532
}

// errText is the operating system's part of a path error, without the path
// (which the caller names already).
func errText(err error) string {
	var pe *fs.PathError
	if errors.As(err, &pe) {
		return pe.Err.Error()
	}
	return err.Error()
}

func ints(v []int) string {
	s := make([]string, len(v))
	for i, n := range slices.Sorted(slices.Values(v)) {
		s[i] = strconv.Itoa(n)
	}
	return "[" + strings.Join(s, " ") + "]"
}
