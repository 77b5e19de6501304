package diagnose

import (
	"errors"
	"fmt"
	"io/fs"

	"github.com/eks-least-privilege/uploader/internal/creds"
	"github.com/eks-least-privilege/uploader/internal/token"
)

// tokenFile diagnoses the token file named by the variable key that p tried
// to use: missing (the projected volume is not mounted) or unreadable (the
// process's ids against the file's owner, group and mode). It returns nil
// when the variable is unset or the file opens.
func tokenFile(key string, s token.File, p token.Process) []Diagnosis {
	if s.Path == "" {
		return nil
	}
	switch {
	case errors.Is(s.StatErr, fs.ErrNotExist):
		return []Diagnosis{{
			Name:     TokenFileMissing,
			Observed: fmt.Sprintf("%s=%s does not exist", key, s.Path),
			Fix: "the projected service-account token volume is not mounted: " + mountHint(key) +
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
				key, s.Path, what, p, owner),
			Fix: fmt.Sprintf("set the pod's securityContext.fsGroup (e.g. fsGroup: %d, the group this process runs as) "+
				"so that the kubelet makes the projected token readable by that group, or run as the file's owner (securityContext.runAsUser)",
				fsGroupHint(p)),
		}}
	case s.StatErr != nil:
		return []Diagnosis{{
			Name:     TokenFileUnreadable,
			Observed: fmt.Sprintf("%s=%s: stat: %s", key, s.Path, errText(s.StatErr)),
			Fix:      "make the projected service-account token readable at that path (" + mountHint(key) + ")",
		}}
	case s.OpenErr != nil:
		return []Diagnosis{{
			Name:     TokenFileUnreadable,
			Observed: fmt.Sprintf("%s=%s: open: %s", key, s.Path, errText(s.OpenErr)),
			Fix:      "make the projected service-account token readable at that path (" + mountHint(key) + ")",
		}}
	}
	return nil
}

// mountHint says who mounts the token for each variable.
func mountHint(key string) string {
	if key == creds.EnvContainerTokenFile {
		return "EKS Pod Identity mounts it (audience pods.eks.amazonaws.com) when a Pod Identity association exists for the pod's service account"
	}
	return "the EKS pod identity webhook mounts it (audience sts.amazonaws.com) when the service account has the eks.amazonaws.com/role-arn annotation"
}

func fsGroupHint(p token.Process) int {
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
