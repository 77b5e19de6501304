package creds

import (
	"fmt"
	"io"
	"text/tabwriter"
	"time"
)

// WriteTable writes the identity as aligned "name: value" lines, for
// `uploader check`, then a "warning:" line for each of its [Identity.Warnings];
// empty fields are left out, and the caller ARN gives way to the reason it is
// unavailable.
func (id Identity) WriteTable(w io.Writer) error {
	caller := id.CallerARN
	if caller == "" {
		caller = id.CallerUnavailable
	}
	expires := "never (long-lived keys)"
	if id.CanExpire {
		expires = id.Expires.UTC().Format(time.RFC3339)
	}
	tw := tabwriter.NewWriter(w, 2, 8, 2, ' ', 0)
	for _, row := range [][2]string{
		{"credential mode", string(id.Mode)}, {"provider source", id.Source},
		{"access key id", id.AccessKeyID}, {"source role arn", id.SourceRoleARN}, {"role arn", id.RoleARN},
		{"external id", map[bool]string{true: "set (not shown)"}[id.ExternalID]},
		{"caller arn", caller}, {"account", id.Account}, {"expires", expires},
	} {
		if row[1] != "" {
			fmt.Fprintf(tw, "%s:\t%s\n", row[0], row[1])
		}
	}
	if err := tw.Flush(); err != nil {
		return err
	}
	for _, warning := range id.Warnings() {
		if _, err := fmt.Fprintf(w, "warning: %s\n", warning); err != nil {
			return err
		}
	}
	return nil
}
