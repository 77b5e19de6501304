package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/s3"

	"github.com/eks-least-privilege/uploader/internal/creds"
	"github.com/eks-least-privilege/uploader/internal/diagnose"
	"github.com/eks-least-privilege/uploader/internal/privilege"
)

// exitError carries a process exit code other than 1.
type exitError struct {
	code int
	err  error
}

func (e *exitError) Error() string { return e.err.Error() }
func (e *exitError) Unwrap() error { return e.err }

// exitCode is the process exit code for an error run returned.
func exitCode(err error) int {
	if e := (*exitError)(nil); errors.As(err, &e) {
		return e.code
	}
	return 1
}

// checkExitCode is the exit code of `uploader check`: 0 least privilege
// holds, 3 over-privileged, 4 s3:PutObject denied, and 1 when a probe errored
// and no other probe already decided 3 or 4 (the check is inconclusive).
func checkExitCode(r privilege.Report) int {
	switch v := r.Verdict(); {
	case v == privilege.PutDenied:
		return 4
	case v == privilege.OverPrivileged:
		return 3
	case r.Inconclusive():
		return 1
	}
	return 0
}

// runCheck prints the identity and the least-privilege table; its exit code
// tells whether least privilege holds.
func runCheck(ctx context.Context, cfg config, awsCfg aws.Config, client *s3.Client, stdout io.Writer) error {
	ctx, cancel := context.WithTimeout(ctx, cfg.CycleTimeout)
	defer cancel()
	id, err := creds.Resolve(ctx, awsCfg)
	diagnoses := diagnose.Credentials(ctx, diagnose.Inputs{Env: os.Getenv, Required: cfg.RequireModes, Identity: id, Err: err})
	if err != nil {
		_ = diagnoses.WriteText(stdout)
		return fmt.Errorf("resolve credentials: %w", err)
	}
	_ = id.WriteTable(stdout)
	_ = diagnoses.WriteText(stdout)
	report, err := privilege.Check(ctx, client, cfg.Bucket, cfg.KeyPrefix, cfg.checkOptions())
	if err != nil {
		_ = diagnose.Storage(err, time.Now()).WriteText(stdout)
		return fmt.Errorf("least-privilege check: %w", err)
	}
	fmt.Fprintln(stdout)
	_ = writeReport(stdout, report)
	if code := checkExitCode(report); code != 0 {
		return &exitError{code: code, err: fmt.Errorf("least-privilege check: %s", report.Verdict())}
	}
	return nil
}

// writeReport writes the report's table, the verdict line with its exit code
// and what the check left in the bucket.
func writeReport(w io.Writer, r privilege.Report) error {
	if err := r.WriteTable(w); err != nil {
		return err
	}
	verdict := r.Verdict().String()
	if checkExitCode(r) == 1 {
		verdict = "inconclusive: a probe failed"
	}
	fmt.Fprintf(w, "verdict: %s (exit %d)\n", verdict, checkExitCode(r))
	return r.WriteNotes(w)
}
