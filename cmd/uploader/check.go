package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/s3"

	"github.com/eks-least-privilege/uploader/internal/creds"
	"github.com/eks-least-privilege/uploader/internal/diagnose"
	"github.com/eks-least-privilege/uploader/internal/fetch"
	"github.com/eks-least-privilege/uploader/internal/issuer"
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
	if err == nil {
		_ = id.WriteTable(stdout)
	}
	_ = diagnoses.WriteText(stdout)
	// The token and its issuer are shown after a refusal too: they explain it.
	writeTokens(ctx, stdout, id.Mode, err, time.Now())
	if err != nil {
		return fmt.Errorf("resolve credentials: %w", err)
	}
	report, err := privilege.Check(ctx, client, cfg.Bucket, cfg.KeyPrefix, cfg.checkOptions())
	// The put's refusal tells most (its key, its encryption, the owner);
	// else the error of whichever probe failed.
	failed := report.PutError
	if failed == nil {
		failed = err
	}
	storage := diagnose.Storage(failed, time.Now(), cfg.store(client))
	if err != nil {
		_ = storage.WriteText(stdout)
		return fmt.Errorf("least-privilege check: %w", err)
	}
	fmt.Fprintln(stdout)
	_ = writeReport(stdout, report)
	_ = storage.WriteText(stdout)
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

// clusterCAPath is the cluster CA `uploader check` shows and trusts the
// issuer by; tests point it elsewhere.
var clusterCAPath = issuer.CAPath

// issuerTimeout bounds each request to the token's issuer.
const issuerTimeout = 10 * time.Second

// writeTokens writes, for `uploader check`, each projected token examined
// (claims, issuer, signature, diagnoses) and the cluster CA the pod sees,
// which the issuer's https server may chain to (the kube-apiserver's own
// issuer), each after a blank line. Nothing is written outside IRSA and Pod
// Identity when no CA is mounted.
func writeTokens(ctx context.Context, w io.Writer, mode creds.Mode, resolveErr error, now time.Time) {
	ca, caErr := issuer.ReadCA(clusterCAPath)
	hc, err := fetch.HTTPClient(fetch.Options{Timeout: issuerTimeout, RootCAs: ca.Roots()})
	if err != nil { // only for bad options, which these are not
		fmt.Fprintf(w, "token: not examined: %v\n", err)
		return
	}
	defer hc.CloseIdleConnections()
	resolved := mode
	if resolveErr != nil {
		resolved = ""
	}
	exams := diagnose.ExamineTokens(ctx, os.Getenv, issuer.New(hc, issuer.Options{}), resolved)
	for _, e := range exams {
		fmt.Fprintln(w)
		_ = e.WriteText(w, now)
	}
	switch {
	case caErr == nil:
		fmt.Fprintln(w)
		_ = ca.WriteText(w, now)
	case len(exams) > 0 && errors.Is(caErr, fs.ErrNotExist):
		fmt.Fprintf(w, "\ncluster ca:  not mounted at %s (automountServiceAccountToken: false, as the shipped manifests set): the issuer is trusted by the system's roots only\n", clusterCAPath)
	case len(exams) > 0:
		fmt.Fprintf(w, "\ncluster ca:  %v\n", caErr)
	}
}
