package cycle

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/smithy-go"
	"github.com/prometheus/client_golang/prometheus"

	"github.com/eks-least-privilege/uploader/internal/creds"
	"github.com/eks-least-privilege/uploader/internal/diagnose"
	"github.com/eks-least-privilege/uploader/internal/upload"
	"github.com/eks-least-privilege/uploader/test/testenv"
)

// TestFailureLinesCarryDiagnoses: an upload refused for its checksum is
// logged with the checksum_rejected diagnosis, and the gauge says so until
// an image is stored.
func TestFailureLinesCarryDiagnoses(t *testing.T) {
	e, err := diagnose.NewExplainer(func(string) string { return "" }, nil, prometheus.NewRegistry())
	if err != nil {
		t.Fatal(err)
	}
	refused := &smithy.GenericAPIError{Code: "XAmzContentSHA256Mismatch", Message: "The provided 'x-amz-content-sha256' header does not match what was computed."}
	calls := 0
	l, _, logs := newTestLoop(t, fetchFunc(okFetch), uploadFunc(func(ctx context.Context, key string, body io.Reader, size int64, meta upload.Metadata) (upload.Result, error) {
		calls++
		if calls == 1 {
			return upload.Result{}, refused
		}
		return storeAll(ctx, key, body, size, meta)
	}))
	l.opts.Explain = e
	l.opts.Count, l.opts.MaxFailures = 1, 3
	if err := l.Run(context.Background()); err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(logs.String(), `"diagnoses":{"checksum_rejected":{"observed":"the S3 store refused the request's checksum or encoding: XAmzContentSHA256Mismatch`) ||
		!strings.Contains(logs.String(), "AWS_REQUEST_CHECKSUM_CALCULATION=when_required") {
		t.Errorf("failure line without the checksum diagnosis:\n%s", logs)
	}
	if got := e.List(); len(got) != 0 {
		t.Errorf("after a stored image: got %v in force, want none", got.Names())
	}
}

// TestStartRefusesSilentFallback: node-role credentials whose caller is an
// instance profile session, in a pod set up for Pod Identity, are refused
// when REQUIRE_CREDENTIAL_MODE is set, and allowed with a warning when not.
func TestStartRefusesSilentFallback(t *testing.T) {
	testenv.IsolateAWSEnv(t)
	sts := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/xml")
		fmt.Fprint(w, `<GetCallerIdentityResponse><GetCallerIdentityResult><Arn>arn:aws:sts::111122223333:assumed-role/eks-node/i-0123456789abcdef0</Arn>`+
			`<UserId>AROAEXAMPLE:i-0123456789abcdef0</UserId><Account>111122223333</Account></GetCallerIdentityResult></GetCallerIdentityResponse>`)
	}))
	t.Cleanup(sts.Close)
	env := map[string]string{"AWS_EC2_METADATA_DISABLED": "true", "AWS_CONTAINER_CREDENTIALS_FULL_URI": "http://169.254.170.23/v1/credentials"}
	tests := []struct {
		name     string
		required []creds.Mode
		wantErr  string
		wantLog  string
	}{
		{name: "a mode is required", required: []creds.Mode{creds.ModeNodeRole, creds.ModePodIdentity}, wantErr: "REQUIRE_CREDENTIAL_MODE: silent_fallback"},
		{name: "no mode required", wantLog: `"msg":"credentials diagnosed"`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			provider := credentials.StaticCredentialsProvider{Value: aws.Credentials{AccessKeyID: "ASIAEXAMPLE0000001", SecretAccessKey: "s",
				Source: "EC2RoleProvider"}, Source: []aws.CredentialSource{aws.CredentialSourceIMDS}}
			cfg := aws.Config{Region: "us-east-1", Credentials: provider, BaseEndpoint: aws.String(sts.URL)}
			var logs strings.Builder
			logger := slog.New(slog.NewJSONHandler(&logs, nil))
			reg := prometheus.NewRegistry()
			w, err := creds.NewWatcher(cfg, logger, reg)
			if err != nil {
				t.Fatal(err)
			}
			e, err := diagnose.NewExplainer(func(k string) string { return env[k] }, tt.required, reg)
			if err != nil {
				t.Fatal(err)
			}
			w.Explain(e.Watch)
			gate := NewGate(w, tt.required, NewHealth(time.Now(), time.Minute, time.Minute))
			_, err = Start(context.Background(), gate, StartOptions{LeastPrivilege: LeastPrivilegeOff, Logger: logger, Explainer: e})
			if tt.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
					t.Fatalf("got %v, want an error containing %q", err, tt.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if !strings.Contains(logs.String(), tt.wantLog) || !strings.Contains(logs.String(), `"silent_fallback"`) {
				t.Errorf("logs lack %s and the silent_fallback diagnosis:\n%s", tt.wantLog, logs.String())
			}
		})
	}
}
