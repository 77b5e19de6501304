package diagnose

import (
	"context"
	"net/http/httptest"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials/ec2rolecreds"
	"github.com/aws/aws-sdk-go-v2/feature/ec2/imds"
	"github.com/eks-least-privilege/uploader/standin"
	"github.com/eks-least-privilege/uploader/test/testenv"
)

// imdsStandin serves the IMDS stand-in, set up by setup, and returns its URL.
func imdsStandin(t *testing.T, setup func(*standin.IMDS)) string {
	t.Helper()
	mint := func(context.Context) (standin.Credentials, error) {
		return standin.Credentials{AccessKeyID: "ASIASTANDIN0000001", SecretAccessKey: "canary-secret", SessionToken: "canary-token",
			Expiration: time.Now().Add(time.Hour)}, nil
	}
	s := standin.NewIMDS(mint, standin.IMDSOptions{})
	if setup != nil {
		setup(s)
	}
	srv := httptest.NewServer(s)
	t.Cleanup(srv.Close)
	return srv.URL
}

// closedURL returns a loopback URL nothing listens on.
func closedURL(t *testing.T) string {
	t.Helper()
	return "http://" + testenv.FreePort(t)
}

func TestProbeIMDS(t *testing.T) {
	tests := []struct {
		name     string
		endpoint func(t *testing.T) string
		want     []Name
		contains []string
	}{
		{name: "healthy", endpoint: func(t *testing.T) string { return imdsStandin(t, nil) }},
		{name: "no imds", endpoint: closedURL, want: []Name{IMDSUnreachable}, contains: []string{"connection refused"}},
		{name: "hop limit", endpoint: func(t *testing.T) string {
			return imdsStandin(t, func(s *standin.IMDS) { s.SetHopLimitExceeded(true) })
		}, want: []Name{IMDSHopLimit}, contains: []string{"answers GET (HTTP 401)", "no answer within 1s", "--http-put-response-hop-limit 2"}},
		{name: "hop limit with imdsv1 allowed", endpoint: func(t *testing.T) string {
			return imdsStandin(t, func(s *standin.IMDS) { s.SetHopLimitExceeded(true); s.SetV1Allowed(true) })
		}, want: []Name{IMDSHopLimit}, contains: []string{"the SDK falls back to it"}},
		{name: "imdsv1 only", endpoint: func(t *testing.T) string {
			return imdsStandin(t, func(s *standin.IMDS) { s.SetV1Only(true) })
		}, want: []Name{IMDSv1Only}, contains: []string{"refuses the IMDSv2 token PUT (HTTP 404)", "answers IMDSv1 GET without a token (HTTP 200)", "kube2iam"}},
		{name: "imdsv1 only, no role", endpoint: func(t *testing.T) string {
			return imdsStandin(t, func(s *standin.IMDS) { s.SetV1Only(true); s.SetNoRole(true) })
		}, want: []Name{IMDSv1Only, IMDSNoRole}},
		{name: "no role", endpoint: func(t *testing.T) string {
			return imdsStandin(t, func(s *standin.IMDS) { s.SetNoRole(true) })
		}, want: []Name{IMDSNoRole}, contains: []string{"no instance profile role is attached"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			p := probeIMDS(context.Background(), nil, tt.endpoint(t))
			wantNames(t, imdsDiagnoses(p), tt.want, tt.contains...)
			if tt.want == nil && p.RoleName != "uploader-node-role" {
				t.Errorf("role: got %q, want uploader-node-role", p.RoleName)
			}
		})
	}
}

func TestIMDSPure(t *testing.T) {
	tests := []struct {
		name string
		p    imdsProbe
		want []Name
	}{
		{"blackholed", imdsProbe{Token: answer{Timeout: true}, Roles: answer{Timeout: true}}, []Name{IMDSUnreachable}},
		{"disabled", imdsProbe{Token: answer{Status: 403}, Roles: answer{Status: 403}}, []Name{IMDSUnreachable}},
		{"healthy", imdsProbe{Token: answer{Status: 200}, Roles: answer{Status: 200}, WithV2: true}, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) { wantNames(t, imdsDiagnoses(tt.p), tt.want) })
	}
}

func TestIMDSEndpoint(t *testing.T) {
	tests := []struct {
		env  map[string]string
		want string
		ok   bool
	}{
		{nil, "http://169.254.169.254", true},
		{map[string]string{"AWS_EC2_METADATA_SERVICE_ENDPOINT_MODE": "IPv6"}, "http://[fd00:ec2::254]", true},
		{map[string]string{"AWS_EC2_METADATA_SERVICE_ENDPOINT": "http://127.0.0.1:1/"}, "http://127.0.0.1:1", true},
		{map[string]string{"AWS_EC2_METADATA_DISABLED": "true"}, "", false},
	}
	for _, tt := range tests {
		if got, ok := imdsEndpoint(envOf(tt.env)); got != tt.want || ok != tt.ok {
			t.Errorf("%v: got %q %v, want %q %v", tt.env, got, ok, tt.want, tt.ok)
		}
	}
}

// TestIMDSFromError retrieves credentials with the SDK's own IMDS provider
// from the stand-in and diagnoses its error alone.
func TestIMDSFromError(t *testing.T) {
	tests := []struct {
		name     string
		endpoint func(t *testing.T) string
		want     []Name
	}{
		{name: "no role", endpoint: func(t *testing.T) string {
			return imdsStandin(t, func(s *standin.IMDS) { s.SetNoRole(true) })
		}, want: []Name{IMDSNoRole}},
		{name: "no imds", endpoint: closedURL, want: []Name{IMDSUnreachable}},
		{name: "healthy", endpoint: func(t *testing.T) string { return imdsStandin(t, nil) }},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			client := imds.New(imds.Options{Endpoint: tt.endpoint(t), Retryer: aws.NopRetryer{}})
			_, err := aws.NewCredentialsCache(ec2rolecreds.New(func(o *ec2rolecreds.Options) { o.Client = client })).Retrieve(context.Background())
			wantNames(t, imdsFromError(err), tt.want)
		})
	}
	if got := imdsFromError(context.Canceled); got != nil {
		t.Errorf("a non-IMDS error: got %v, want nil", got)
	}
}
