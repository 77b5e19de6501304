package issuer

import (
	"fmt"
	"io"
	"text/tabwriter"
	"time"
)

// WriteText writes the report as aligned "name: value" lines, for
// `uploader check`: the discovery document and its issuer, the published
// keys, and the signature's result with the key, the algorithm and why.
// When the issuer could not be reached it says so, and why that matters.
func (r Report) WriteText(w io.Writer) error {
	tw := tabwriter.NewWriter(w, 2, 8, 2, ' ', 0)
	row := func(name, format string, args ...any) {
		fmt.Fprintf(tw, "  %s:\t"+format+"\n", append([]any{name}, args...)...)
	}
	fmt.Fprintf(tw, "issuer:\t%s\n", orDash(r.Issuer))
	if r.DiscoveryURL != "" {
		row("discovery", "%s", r.DiscoveryURL)
	}
	if r.DiscoveryIssuer != "" {
		same := "the token's iss"
		if r.DiscoveryIssuer != r.Issuer {
			same = "differs from the token's iss"
		}
		row("discovery issuer", "%s (%s)", r.DiscoveryIssuer, same)
	}
	if r.JWKSURI != "" {
		row("keys", "%s", r.JWKSURI)
	}
	if r.Keys != nil || r.Skipped > 0 {
		skipped := ""
		if r.Skipped > 0 {
			skipped = fmt.Sprintf(" (%d entries skipped: not a public signing key)", r.Skipped)
		}
		row("published keys", "%s%s", keyList(r.Keys), skipped)
	}
	row("token key", "kid %s, alg %s", orDash(r.KeyID), orDash(r.Algorithm))
	switch r.Result {
	case Verified:
		row("signature", "verified with key %s", r.Key)
	case NotVerified:
		row("signature", "NOT verified: %s", r.Reason)
	default:
		row("signature", "could not be checked: %s", r.Reason)
		if r.Err != nil {
			row("unreachable", "%v", r.Err)
			row("why it matters", "STS fetches the same discovery document and keys to verify the token; if it cannot either, AssumeRoleWithWebIdentity fails with InvalidIdentityToken (\"Couldn't retrieve verification key from your identity provider\"). STS fetches them from the internet, this pod from its own network: the two can differ.")
		}
	}
	return tw.Flush()
}

// WriteText writes the bundle's certificates as
// `openssl x509 -noout -subject -issuer -dates` would, with the days left,
// for `uploader check`.
func (ca CA) WriteText(w io.Writer, now time.Time) error {
	tw := tabwriter.NewWriter(w, 2, 8, 2, ' ', 0)
	fmt.Fprintf(tw, "cluster ca:\t%s (%d certificate%s)\n", ca.Path, len(ca.Certs), plural(len(ca.Certs)))
	for _, c := range ca.Certs {
		fmt.Fprintf(tw, "  subject:\t%s\n", c.Subject)
		fmt.Fprintf(tw, "  issuer:\t%s\n", c.Issuer)
		left := fmt.Sprintf("%d days left", c.DaysLeft(now))
		if !now.Before(c.NotAfter) {
			left = fmt.Sprintf("EXPIRED %d days ago", -c.DaysLeft(now))
		} else if now.Before(c.NotBefore) {
			left = "NOT YET VALID"
		}
		fmt.Fprintf(tw, "  validity:\t%s to %s (%s)\n", c.NotBefore.Format(time.RFC3339), c.NotAfter.Format(time.RFC3339), left)
	}
	return tw.Flush()
}

func plural(n int) string {
	if n == 1 {
		return ""
	}
	return "s"
}
