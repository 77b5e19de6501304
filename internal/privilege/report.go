package privilege

import (
	"fmt"
	"io"
	"strings"
	"text/tabwriter"

	"github.com/eks-least-privilege/uploader/internal/upload"
)

// The S3 actions [Check] probes, as IAM names them.
const (
	ActionPutObject    = "s3:PutObject"
	ActionGetObject    = "s3:GetObject"
	ActionListBucket   = "s3:ListBucket"
	ActionDeleteObject = "s3:DeleteObject"
)

// Outcome is what a probe observed.
type Outcome string

// Probe outcomes.
const (
	Allowed   Outcome = "allowed"
	Denied    Outcome = "denied"
	Errored   Outcome = "error"                  // neither allowed nor denied: network, invalid key, ...
	NotProbed Outcome = "not probed (no object)" // GetObject when PutObject left no object to read
)

// Row verdicts.
const (
	RowOK             = "ok"
	RowOverPrivileged = "OVER-PRIVILEGED"
	RowMissing        = "MISSING"
	RowError          = "ERROR"
	RowNotProbed      = "-"
)

// Row is one probed action.
type Row struct {
	Action   string  // ActionPutObject, ...
	Expected Outcome // Allowed for s3:PutObject, Denied for the others
	Observed Outcome
	Detail   string // the error code or a short error, empty when allowed
}

// Verdict is RowOK, RowOverPrivileged, RowMissing, RowError or RowNotProbed.
func (r Row) Verdict() string {
	switch {
	case r.Observed == NotProbed:
		return RowNotProbed
	case r.Observed == Errored:
		return RowError
	case r.Observed == r.Expected:
		return RowOK
	case r.Observed == Allowed:
		return RowOverPrivileged
	}
	return RowMissing
}

// Report is the result of [Check].
type Report struct {
	Bucket string
	Key    string // the check object written, when PutObject was allowed
	Rows   []Row  // PutObject, GetObject, ListBucket, DeleteObject, then the wider probes, in that order
	// LeftObject is true when the check object stays in the bucket: it does
	// whenever DeleteObject is denied, which is the least-privilege case.
	LeftObject bool
	// OutsideKey is the object written outside the prefix when that put was
	// allowed (over-privilege); it stays in the bucket.
	OutsideKey string
	// Encryption is what S3 said it applied to the check object (the put's
	// response), when the put was allowed.
	Encryption upload.Applied
	// ExpectedOwner is the account every probe naming the bucket sent as
	// x-amz-expected-bucket-owner; empty when none was set.
	ExpectedOwner upload.AccountID
	// PutError is why the probe put was not allowed (denied or errored),
	// for the diagnoses: a KMS key, an encryption the bucket demands, an
	// owner mismatch. Nil when it was allowed.
	PutError error
}

// putDetail is the PutObject row's detail: the encryption S3 applied and
// whether the bucket's owner was verified, after the error code if any. S3
// serves a request carrying the expected owner only from that owner's
// bucket, so an allowed put verified it; MinIO ignores the header, so there
// it was only sent.
func (r Report) putDetail(o Outcome, detail, server string) string {
	var parts []string
	if detail != "" {
		parts = append(parts, detail)
	}
	if o == Allowed {
		parts = append(parts, "encryption "+r.Encryption.String())
	}
	switch {
	case r.ExpectedOwner == "":
		parts = append(parts, "owner not checked (S3_EXPECTED_BUCKET_OWNER not set)")
	case strings.EqualFold(server, "MinIO"):
		parts = append(parts, "owner "+string(r.ExpectedOwner)+" sent; MinIO does not check it")
	case o == Allowed:
		parts = append(parts, "owner "+string(r.ExpectedOwner)+" verified")
	default:
		parts = append(parts, "owner "+string(r.ExpectedOwner)+" expected")
	}
	return strings.Join(parts, "; ")
}

// Verdict is the overall outcome of a [Report].
type Verdict int

// The verdicts. Their names (see [Verdict.MarshalText]) are what logs show.
const (
	// LeastPrivilege: PutObject allowed, GetObject, ListBucket and
	// DeleteObject denied.
	LeastPrivilege Verdict = iota
	// OverPrivileged: PutObject allowed and at least one other action
	// allowed too.
	OverPrivileged
	// PutDenied: PutObject itself denied; the uploader cannot work.
	PutDenied
)

// String returns a short phrase for the verdict.
func (v Verdict) String() string {
	switch v {
	case LeastPrivilege:
		return "least privilege holds"
	case OverPrivileged:
		return "over-privileged"
	case PutDenied:
		return "s3:PutObject denied"
	}
	return fmt.Sprintf("Verdict(%d)", int(v))
}

// verdictNames are the names of the verdicts in logs and JSON.
var verdictNames = map[Verdict]string{LeastPrivilege: "least_privilege", OverPrivileged: "over_privileged", PutDenied: "put_denied"}

// MarshalText returns the verdict's name (least_privilege, over_privileged,
// put_denied), so that JSON logs show it rather than a number.
func (v Verdict) MarshalText() ([]byte, error) {
	if name, ok := verdictNames[v]; ok {
		return []byte(name), nil
	}
	return nil, fmt.Errorf("unknown verdict %d", int(v))
}

// Verdict returns PutDenied when PutObject was denied, OverPrivileged when
// another action was allowed, LeastPrivilege otherwise. Probes that errored
// do not count here; see [Report.Inconclusive].
func (r Report) Verdict() Verdict {
	for _, row := range r.Rows {
		if row.Action == ActionPutObject && row.Observed == Denied {
			return PutDenied
		}
	}
	for _, row := range r.Rows {
		if row.Action != ActionPutObject && row.Observed == Allowed {
			return OverPrivileged
		}
	}
	return LeastPrivilege
}

// Inconclusive reports whether a probe errored, so least privilege could not
// be shown.
func (r Report) Inconclusive() bool {
	for _, row := range r.Rows {
		if row.Observed == Errored {
			return true
		}
	}
	return false
}

// Holds reports whether least privilege was shown: the verdict is
// LeastPrivilege and no probe errored.
func (r Report) Holds() bool {
	return r.Verdict() == LeastPrivilege && !r.Inconclusive()
}

// WriteTable writes the report's rows as an aligned text table.
func (r Report) WriteTable(w io.Writer) error {
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "ACTION\tEXPECTED\tOBSERVED\tVERDICT\tDETAIL")
	for _, row := range r.Rows {
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\n", row.Action, row.Expected, row.Observed, row.Verdict(), row.Detail)
	}
	return tw.Flush()
}

// WriteNotes writes a "note:" line for each object the check left in the
// bucket: its own when DeleteObject is denied, and the one put outside the
// prefix.
func (r Report) WriteNotes(w io.Writer) error {
	if r.LeftObject {
		if _, err := fmt.Fprintf(w, "note: check object s3://%s/%s stays in the bucket (DeleteObject is denied)\n", r.Bucket, r.Key); err != nil {
			return err
		}
	}
	if r.OutsideKey != "" {
		_, err := fmt.Fprintf(w, "note: s3://%s/%s, put outside the prefix, stays in the bucket\n", r.Bucket, r.OutsideKey)
		return err
	}
	return nil
}
