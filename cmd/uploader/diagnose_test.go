package main

import (
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
			out, err := runFor(t, time.Minute, "check")
			if got := exitCode(err); (err == nil && tt.wantCode != 0) || (err != nil && got != tt.wantCode) {
				t.Errorf("exit code: got %d (%v), want %d\n%s", got, err, tt.wantCode, out)
			}
			if !strings.Contains(out, tt.want) || !strings.Contains(out, "\n  fix: ") {
				t.Errorf("check output lacks %q and its fix:\n%s", tt.want, out)
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
