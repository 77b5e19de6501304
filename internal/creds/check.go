package creds

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/aws/smithy-go"
	"github.com/prometheus/client_golang/prometheus"
)

// probeAPI is the part of the S3 client the least-privilege check calls.
type probeAPI interface {
	PutObject(ctx context.Context, in *s3.PutObjectInput, optFns ...func(*s3.Options)) (*s3.PutObjectOutput, error)
	GetObject(ctx context.Context, in *s3.GetObjectInput, optFns ...func(*s3.Options)) (*s3.GetObjectOutput, error)
	ListObjectsV2(ctx context.Context, in *s3.ListObjectsV2Input, optFns ...func(*s3.Options)) (*s3.ListObjectsV2Output, error)
	DeleteObject(ctx context.Context, in *s3.DeleteObjectInput, optFns ...func(*s3.Options)) (*s3.DeleteObjectOutput, error)
}

// CheckDir is appended to the key prefix to name where [Check] writes:
// <prefix>.least-privilege-check/<random>.txt.
const CheckDir = ".least-privilege-check/"

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
	Rows   []Row  // PutObject, GetObject, ListBucket, DeleteObject, in that order
	// LeftObject is true when the check object stays in the bucket: it does
	// whenever DeleteObject is denied, which is the least-privilege case.
	LeftObject bool
}

// Verdict is the overall outcome of a [Report].
type Verdict int

// The verdicts, and the exit codes of `uploader check` ([Report.ExitCode]).
const (
	// LeastPrivilege: PutObject allowed, GetObject, ListBucket and
	// DeleteObject denied. Exit code 0.
	LeastPrivilege Verdict = iota
	// OverPrivileged: PutObject allowed and at least one other action
	// allowed too. Exit code 3.
	OverPrivileged
	// PutDenied: PutObject itself denied; the uploader cannot work. Exit code 4.
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

// Verdict returns PutDenied when PutObject was denied, OverPrivileged when
// another action was allowed, LeastPrivilege otherwise. Probes that errored
// do not count here; see [Report.ExitCode].
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

// ExitCode is the exit code of `uploader check`: 0 least privilege holds,
// 3 over-privileged, 4 PutObject denied, and 1 when a probe errored and no
// other probe already decided 3 or 4 (the check is inconclusive).
func (r Report) ExitCode() int {
	switch v := r.Verdict(); {
	case v == PutDenied:
		return 4
	case v == OverPrivileged:
		return 3
	case r.Inconclusive():
		return 1
	}
	return 0
}

// WriteTable writes the report as an aligned text table followed by the
// verdict line.
func (r Report) WriteTable(w io.Writer) error {
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "ACTION\tEXPECTED\tOBSERVED\tVERDICT\tDETAIL")
	for _, row := range r.Rows {
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\n", row.Action, row.Expected, row.Observed, row.Verdict(), row.Detail)
	}
	if err := tw.Flush(); err != nil {
		return err
	}
	verdict := r.Verdict().String()
	if r.ExitCode() == 1 {
		verdict = "inconclusive: a probe failed"
	}
	if _, err := fmt.Fprintf(w, "verdict: %s (exit %d)\n", verdict, r.ExitCode()); err != nil {
		return err
	}
	if r.LeftObject {
		if _, err := fmt.Fprintf(w, "note: check object s3://%s/%s stays in the bucket (DeleteObject is denied)\n", r.Bucket, r.Key); err != nil {
			return err
		}
	}
	return nil
}

// CheckOptions change [Check]; the zero value is ready to use.
type CheckOptions struct {
	// ProbeTimeout bounds each S3 call; zero means 10s.
	ProbeTimeout time.Duration
	// Rand supplies the random part of the check keys; nil means crypto/rand.
	Rand io.Reader
}

// Check probes what the S3 client's identity may do in bucket, without
// destroying anything:
//
//   - s3:PutObject: a small text object <prefix>.least-privilege-check/<random>.txt,
//     with If-None-Match: * so nothing is overwritten (expected allowed);
//   - s3:GetObject: that object — without s3:ListBucket S3 answers 403 for a
//     missing key, so only an existing object tells (expected denied;
//     "not probed (no object)" when PutObject was denied);
//   - s3:ListBucket: ListObjectsV2 under prefix, at most one key (expected denied);
//   - s3:DeleteObject: a random key <prefix>.least-privilege-check/absent-<random>
//     that does not exist (expected denied).
//
// A probe is allowed when the call succeeds, denied on AccessDenied or HTTP
// 403, and an error otherwise. When DeleteObject is allowed the check object
// is deleted again; when it is denied — the least-privilege case — the check
// object stays in the bucket (Report.LeftObject): expire the check directory
// with a lifecycle rule if that matters.
//
// The error is non-nil when a probe errored (the report is still complete
// and its ExitCode is then 1 unless another probe decided 3 or 4) or ctx ended.
func Check(ctx context.Context, client probeAPI, bucket, prefix string, opts CheckOptions) (Report, error) {
	if opts.ProbeTimeout <= 0 {
		opts.ProbeTimeout = 10 * time.Second
	}
	if opts.Rand == nil {
		opts.Rand = rand.Reader
	}
	suffix, err := randomHex(opts.Rand)
	if err != nil {
		return Report{}, fmt.Errorf("least-privilege check: random key: %w", err)
	}
	dir := prefix + CheckDir
	r := Report{Bucket: bucket, Key: dir + suffix + ".txt"}
	absent := dir + "absent-" + suffix

	probe := func(f func(ctx context.Context) error) (Outcome, string, error) {
		ctx, cancel := context.WithTimeout(ctx, opts.ProbeTimeout)
		defer cancel()
		return outcome(f(ctx))
	}

	var errs []error
	add := func(action string, expected Outcome, o Outcome, detail string, err error) {
		r.Rows = append(r.Rows, Row{Action: action, Expected: expected, Observed: o, Detail: detail})
		if err != nil {
			errs = append(errs, fmt.Errorf("%s: %w", action, err))
		}
	}

	body := fmt.Sprintf("uploader least-privilege check %s\n", time.Now().UTC().Format(time.RFC3339))
	put, detail, err := probe(func(ctx context.Context) error {
		_, err := client.PutObject(ctx, &s3.PutObjectInput{
			Bucket:        aws.String(bucket),
			Key:           aws.String(r.Key),
			Body:          bytes.NewReader([]byte(body)),
			ContentLength: aws.Int64(int64(len(body))),
			ContentType:   aws.String("text/plain; charset=utf-8"),
			IfNoneMatch:   aws.String("*"),
		})
		return err
	})
	add(ActionPutObject, Allowed, put, detail, err)

	if put == Allowed {
		o, detail, err := probe(func(ctx context.Context) error {
			out, err := client.GetObject(ctx, &s3.GetObjectInput{Bucket: aws.String(bucket), Key: aws.String(r.Key)})
			if err != nil {
				return err
			}
			defer out.Body.Close()
			_, err = io.Copy(io.Discard, io.LimitReader(out.Body, 1<<20))
			return err
		})
		add(ActionGetObject, Denied, o, detail, err)
	} else {
		add(ActionGetObject, Denied, NotProbed, "", nil)
	}

	o, detail, err := probe(func(ctx context.Context) error {
		_, err := client.ListObjectsV2(ctx, &s3.ListObjectsV2Input{Bucket: aws.String(bucket), Prefix: aws.String(prefix), MaxKeys: aws.Int32(1)})
		return err
	})
	add(ActionListBucket, Denied, o, detail, err)

	del, detail, err := probe(func(ctx context.Context) error {
		_, err := client.DeleteObject(ctx, &s3.DeleteObjectInput{Bucket: aws.String(bucket), Key: aws.String(absent)})
		return err
	})
	add(ActionDeleteObject, Denied, del, detail, err)

	if put == Allowed {
		r.LeftObject = true
		if del == Allowed {
			// Over-privileged anyway: take the check object away again.
			_, _, _ = probe(func(ctx context.Context) error {
				_, err := client.DeleteObject(ctx, &s3.DeleteObjectInput{Bucket: aws.String(bucket), Key: aws.String(r.Key)})
				if err == nil {
					r.LeftObject = false
				}
				return err
			})
		}
	} else {
		r.Key = ""
	}
	if err := ctx.Err(); err != nil {
		errs = append(errs, err)
	}
	if len(errs) > 0 {
		return r, fmt.Errorf("least-privilege check of bucket %s: %w", bucket, errors.Join(errs...))
	}
	return r, nil
}

// outcome classifies a probe's error. Invalid or expired credentials answer
// 403 too, but they say nothing about the policy: they are errors.
func outcome(err error) (Outcome, string, error) {
	if err == nil {
		return Allowed, "", nil
	}
	var api smithy.APIError
	if errors.As(err, &api) {
		switch code := api.ErrorCode(); code {
		case "AccessDenied", "AccessDeniedException", "AllAccessDisabled", "Forbidden":
			return Denied, code, nil
		case "InvalidAccessKeyId", "SignatureDoesNotMatch", "ExpiredToken", "InvalidToken", "TokenRefreshRequired":
			return Errored, code, err
		}
	}
	var status interface{ HTTPStatusCode() int }
	if errors.As(err, &status) && status.HTTPStatusCode() == http.StatusForbidden {
		return Denied, "http 403", nil
	}
	if api != nil && api.ErrorCode() != "" {
		return Errored, api.ErrorCode(), err
	}
	return Errored, Reason(err), err
}

func randomHex(r io.Reader) (string, error) {
	b := make([]byte, 8)
	if _, err := io.ReadFull(r, b); err != nil {
		return "", err
	}
	return strings.ToLower(hex.EncodeToString(b)), nil
}

// CheckMetric exports the outcome of the start-up least-privilege check as
// uploader_least_privilege_ok: 1 when least privilege holds, 0 otherwise.
// Register it only when the check runs, so 0 never means "not checked".
type CheckMetric struct {
	ok prometheus.Gauge
}

// NewCheckMetric registers uploader_least_privilege_ok with reg.
func NewCheckMetric(reg prometheus.Registerer) (*CheckMetric, error) {
	m := &CheckMetric{ok: prometheus.NewGauge(prometheus.GaugeOpts{
		Name: "uploader_least_privilege_ok",
		Help: "1 when the start-up check found least privilege in S3 (PutObject only), 0 otherwise.",
	})}
	if err := reg.Register(m.ok); err != nil {
		return nil, fmt.Errorf("register least-privilege metric: %w", err)
	}
	return m, nil
}

// Set records the result of [Check]: 1 only for a report with exit code 0
// and no error.
func (m *CheckMetric) Set(r Report, err error) {
	if err == nil && r.ExitCode() == 0 {
		m.ok.Set(1)
		return
	}
	m.ok.Set(0)
}
