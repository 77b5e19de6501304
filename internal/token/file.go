package token

import (
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

func ints(v []int) string {
	s := make([]string, len(v))
	for i, n := range slices.Sorted(slices.Values(v)) {
		s[i] = strconv.Itoa(n)
	}
	return "[" + strings.Join(s, " ") + "]"
}

// File is what stat and open said of a token file.
type File struct {
	Path string // empty when no file is named
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

// Observe stats and opens the file at path; an empty path observes nothing.
// It never reads the file.
func Observe(path string) File {
	s := File{Path: path}
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
