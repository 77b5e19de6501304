package diagnose

import (
	"fmt"
	"time"

	"github.com/eks-least-privilege/uploader/internal/creds"
	"github.com/eks-least-privilege/uploader/internal/failure"
	"github.com/eks-least-privilege/uploader/internal/token"
)

// refresh diagnoses a failed credential refresh while the credentials last
// retrieved still work: err is the refresh's error, last the identity
// retrieved before it (with its expiry). It says how long is left, and what
// to look at for the mode.
func refresh(err error, last creds.Identity, now time.Time) []Diagnosis {
	if err == nil || !last.CanExpire || !now.Before(last.Expires) {
		return nil
	}
	left := last.Expires.Sub(now).Round(time.Second)
	fix := map[creds.Mode]string{
		creds.ModeIRSA:        "the projected token file (token_file_*), STS reachability (AWS_ENDPOINT_URL_STS, a NetworkPolicy) and the role's trust policy",
		creds.ModePodIdentity: "the eks-pod-identity-agent on this node and the Pod Identity association",
		creds.ModeNodeRole:    "instance metadata (imds_* diagnoses)",
	}[last.Mode]
	switch {
	case failure.HTTPStatus(err) >= 500:
		// The service answered, and failed on its side: no policy of ours.
		fix = "the credential service's health (it answered HTTP " + fmt.Sprint(failure.HTTPStatus(err)) + "; the SDK retries): nothing to change in a policy"
	case len(unreachable(err, "")) > 0:
		fix = "that the credential service is reachable (sts_unreachable)"
	case fix == "":
		fix = "the credential source " + last.Source
	}
	return []Diagnosis{{
		Name: CredentialsRefreshFailing,
		Observed: fmt.Sprintf("refreshing the %s credentials failed (%s) while the current ones still work until %s (%s left)",
			last.Mode, creds.Reason(err), token.Stamp(last.Expires), left),
		Fix: "fix it before they expire: check " + fix,
	}}
}
