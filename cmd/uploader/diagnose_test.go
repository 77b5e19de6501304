package main

import (
	"fmt"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/eks-least-privilege/uploader/standin"
	"github.com/eks-least-privilege/uploader/test/testenv"
)

// TestCheckNamesDiagnoses runs `uploader check` against the stand-ins in
// misconfigured pods: each run prints the diagnosis of its misconfiguration,
// and no secret or token.
func TestCheckNamesDiagnoses(t *testing.T) {
	f := setupModes(t, standin.StackOptions{}, standin.MinterOptions{})
	tests := []struct {
		name, mode string
		setup      func(t *testing.T)
		want       string // the diagnosis line
		wantCode   int
	}{
		{name: "static keys shadow irsa", mode: "static", want: "diagnosis credentials_shadowed: AWS_WEB_IDENTITY_TOKEN_FILE is set (IRSA) but the SDK chose mode static",
			setup: func(t *testing.T) {
				t.Setenv("AWS_WEB_IDENTITY_TOKEN_FILE", f.Stack.IRSAToken.Path())
				t.Setenv("AWS_ROLE_ARN", f.Stack.RoleARN())
			}},
		{name: "irsa token not mounted", mode: "irsa", want: "diagnosis token_file_missing: AWS_WEB_IDENTITY_TOKEN_FILE=", wantCode: 1,
			setup: func(t *testing.T) { t.Setenv("AWS_WEB_IDENTITY_TOKEN_FILE", filepath.Join(t.TempDir(), "token")) }},
		{name: "pod identity agent unreachable", mode: "pod-identity", want: "diagnosis pod_identity_agent_unreachable: the EKS Pod Identity agent at ", wantCode: 1,
			setup: func(t *testing.T) {
				t.Setenv("AWS_CONTAINER_CREDENTIALS_FULL_URI", "http://"+testenv.FreePort(t)+standin.PodIdentityPath)
			}},
		{name: "sts refuses connections", mode: "irsa", want: "diagnosis sts_unreachable: STS (AssumeRoleWithWebIdentity) at http://127.0.0.1:", wantCode: 1,
			setup: func(t *testing.T) { t.Setenv("AWS_ENDPOINT_URL_STS", "http://"+testenv.FreePort(t)) }},
		{name: "sts never answers", mode: "irsa", want: "diagnosis sts_unreachable: STS (AssumeRoleWithWebIdentity) at http://127.0.0.1:", wantCode: 1,
			setup: func(t *testing.T) {
				t.Setenv("AWS_ENDPOINT_URL_STS", "http://"+testenv.SilentAddr(t))
				t.Setenv("UPLOAD_TIMEOUT", "2s") // the cycle deadline bounds the check
			}},
		{name: "s3 refuses connections", mode: "static", want: "diagnosis s3_unreachable: S3 (PutObject) at http://127.0.0.1:", wantCode: 1,
			setup: func(t *testing.T) { t.Setenv("AWS_ENDPOINT_URL_S3", "http://"+testenv.FreePort(t)) }},
		{name: "node role behind a hop limit", mode: "node-role", want: "diagnosis imds_hop_limit: IMDS at ", wantCode: 1,
			setup: func(t *testing.T) {
				f.Stack.IMDS.SetHopLimitExceeded(true)
				t.Cleanup(func() { f.Stack.IMDS.SetHopLimitExceeded(false) })
			}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			// No prefix: the fixture's user may put anywhere in the bucket.
			f.setEnv(t, tt.mode, "")
			tt.setup(t)
			start := time.Now()
			out, err := runFor(t, time.Minute, "check")
			if limit, perr := time.ParseDuration(os.Getenv("UPLOAD_TIMEOUT")); perr == nil && time.Since(start) > limit+5*time.Second {
				t.Errorf("check took %s, beyond its deadline UPLOAD_TIMEOUT=%s", time.Since(start), limit)
			}
			if got := exitCode(err); (err == nil && tt.wantCode != 0) || (err != nil && got != tt.wantCode) {
				t.Errorf("exit code: got %d (%v), want %d\n%s", got, err, tt.wantCode, out)
			}
			if !strings.Contains(out, tt.want) || !strings.Contains(out, "\n  fix: ") {
				t.Errorf("check output lacks %q and its fix:\n%s\nerr: %v", tt.want, out, err)
			}
			f.assertNoSecrets(t, out)
		})
	}
}

// TestDaemonLogsDiagnoses: the 'aws credentials resolved' line and the
// start's warning name the diagnosis.
func TestDaemonLogsDiagnoses(t *testing.T) {
	f := setupModes(t, standin.StackOptions{Services: []string{standin.ServiceOIDC}}, standin.MinterOptions{})
	f.setEnv(t, "static", "diag-daemon/")
	t.Setenv("AWS_WEB_IDENTITY_TOKEN_FILE", f.Stack.IRSAToken.Path())
	t.Setenv("UPLOAD_COUNT", "1")
	out, err := runFor(t, time.Minute)
	if err != nil {
		t.Fatalf("run: %v\n%s", err, out)
	}
	var resolved, warned bool
	for _, line := range strings.Split(out, "\n") {
		resolved = resolved || strings.Contains(line, `"msg":"aws credentials resolved"`) && strings.Contains(line, `"diagnoses":{"credentials_shadowed":{"observed":`)
		warned = warned || strings.Contains(line, `"msg":"credentials diagnosed"`) && strings.Contains(line, `"name":"credentials_shadowed"`)
	}
	if !resolved || !warned {
		t.Errorf("got resolved line with the diagnosis %v, start warning %v; want both\n%s", resolved, warned, out)
	}
	f.assertNoSecrets(t, out)
}

// An STS that fails on its side (HTTP 500 or 503 to AssumeRoleWithWebIdentity)
// refused nothing: `uploader check` must not send the reader to the trust
// policy, neither in a diagnosis nor in the error's hint.
func TestSTSServerErrorIsNotTheTrustPolicy(t *testing.T) {
	f := setupModes(t, standin.StackOptions{}, standin.MinterOptions{})
	for _, status := range []int{http.StatusInternalServerError, http.StatusServiceUnavailable} {
		t.Run(http.StatusText(status), func(t *testing.T) {
			sts := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				w.Header().Set("Content-Type", "text/xml")
				w.WriteHeader(status)
				fmt.Fprint(w, `<ErrorResponse><Error><Type>Receiver</Type><Code>InternalFailure</Code><Message>internal failure</Message></Error></ErrorResponse>`)
			}))
			t.Cleanup(sts.Close)
			f.setEnv(t, "irsa", "")
			t.Setenv("AWS_ENDPOINT_URL_STS", sts.URL)
			t.Setenv("AWS_MAX_ATTEMPTS", "1")
			out, err := runFor(t, time.Minute, "check")
			if err == nil {
				t.Fatalf("check succeeded with STS failing:\n%s", out)
			}
			all := out + err.Error()
			if strings.Contains(all, "trust policy") || strings.Contains(all, "token_rejected") {
				t.Errorf("an STS %d ends in trust-policy advice:\n%s", status, all)
			}
			if !strings.Contains(all, fmt.Sprintf("HTTP %d", status)) {
				t.Errorf("the error does not say STS failed on its side (HTTP %d):\n%s", status, all)
			}
		})
	}
}
