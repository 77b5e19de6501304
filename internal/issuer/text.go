package issuer

import (
	"fmt"
	"io"
	"text/tabwriter"
	"time"
)

// Rows returns the report as "name", "value" pairs, for `uploader check`:
// the discovery document and the issuer it names, the key set and its keys,
// and the signature's result with the key, the algorithm and why; when the
// issuer could not be reached, the error and why that matters.
func (r Report) Rows() [][2]string {
	var rows [][2]string
	add := func(name, format string, args ...any) {
		rows = append(rows, [2]string{name, fmt.Sprintf(format, args...)})
	}
	if r.DiscoveryURL != "" {
		add("discovery", "%s", r.DiscoveryURL)
	}
	if r.DiscoveryIssuer != "" {
		same := "the token's iss"
		if r.DiscoveryIssuer != r.Issuer {
			same = "differs from the token's iss"
		}
		add("discovery issuer", "%s (%s)", r.DiscoveryIssuer, same)
	}
	if r.JWKSURI != "" {
		add("keys", "%s", r.JWKSURI)
	}
	if r.Keys != nil || r.Skipped > 0 {
		skipped := ""
		if r.Skipped > 0 {
			skipped = fmt.Sprintf(" (%d entries skipped: not a public signing key)", r.Skipped)
		}
		add("published keys", "%s%s", keyList(r.Keys), skipped)
	}
	switch r.Result {
	case Verified:
		add("signature", "verified with key %s", r.Key)
	case NotVerified:
		add("signature", "NOT verified: %s", r.Reason)
	default:
		add("signature", "could not be checked: %s", r.Reason)
		if r.Err != nil {
			add("unreachable", "%v", r.Err)
			add("why it matters", "STS fetches the same discovery document and keys to verify the token; if it cannot either, "+
				"AssumeRoleWithWebIdentity fails with InvalidIdentityToken (\"Couldn't retrieve verification key from your identity provider\"). "+
				"STS fetches them from the internet, this pod from its own network: the two can differ")
		}
	}
	return rows
}

// WriteText writes the token's kid and alg and the report's [Report.Rows]
// under an "issuer:" line, aligned.
func (r Report) WriteText(w io.Writer) error {
	tw := tabwriter.NewWriter(w, 2, 8, 2, ' ', 0)
	fmt.Fprintf(tw, "issuer:\t%s\n", orDash(r.Issuer))
	fmt.Fprintf(tw, "  key:\tkid %s, alg %s\n", orDash(r.KeyID), orDash(r.Algorithm))
	for _, row := range r.Rows() {
		fmt.Fprintf(tw, "  %s:\t%s\n", row[0], row[1])
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
		left := days(c.DaysLeft(now)) + " left"
		if !now.Before(c.NotAfter) {
			left = "EXPIRED " + days(-c.DaysLeft(now)) + " ago"
		} else if now.Before(c.NotBefore) {
			left = "NOT YET VALID"
		}
		fmt.Fprintf(tw, "  validity:\t%s to %s (%s)\n", c.NotBefore.Format(time.RFC3339), c.NotAfter.Format(time.RFC3339), left)
	}
	return tw.Flush()
}

// days is "1 day" or "N days".
func days(n int) string {
	return fmt.Sprintf("%d day%s", n, plural(n))
}

func plural(n int) string {
	if n == 1 {
		return ""
	}
	return "s"
}
