package diagnose

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/aws/smithy-go"
	"github.com/eks-least-privilege/uploader/internal/creds"
	"github.com/eks-least-privilege/uploader/internal/token"
	"github.com/eks-least-privilege/uploader/standin"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"
)

func TestCredentials(t *testing.T) {
	now := time.Now()
	dir := t.TempDir()
	signed := func(name string, sa standin.ServiceAccount, aud string) string {
		return writeToken(t, filepath.Join(dir, name), now, sa, aud)
	}
	other := signed("other", standin.ServiceAccount{Namespace: "default", Name: "default"}, token.AudienceSTS)
	podToken := signed("pod", standin.ServiceAccount{Namespace: "images", Name: "uploader"}, token.AudiencePodIdentity)
	stsDenied := &creds.Error{Mode: creds.ModeIRSA, Reason: creds.ReasonDenied, Err: &smithy.OperationError{ServiceID: "STS", OperationName: "AssumeRoleWithWebIdentity",
		Err: &smithy.GenericAPIError{Code: "AccessDenied", Message: "Not authorized to perform sts:AssumeRoleWithWebIdentity"}}}
	agentDenied := &creds.Error{Mode: creds.ModePodIdentity, Reason: creds.ReasonDenied, Err: &smithy.GenericAPIError{Code: "AccessDeniedException", Message: "no association"}}
	downward := map[string]string{creds.EnvPodNamespace: "images", creds.EnvPodServiceAccount: "uploader", "AWS_EC2_METADATA_DISABLED": "true"}
	merge := func(kv ...string) map[string]string { return withEnv(downward, kv...) }
	node := creds.Identity{Mode: creds.ModeNodeRole, Source: "EC2RoleProvider", CallerARN: "arn:aws:sts::111122223333:assumed-role/node/i-0123456789abcdef0"}
	tests := []struct {
		name     string
		env      map[string]string
		required []creds.Mode
		id       creds.Identity
		err      error
		want     []Name
	}{
		{name: "irsa token of another service account, refused", env: merge(creds.EnvWebIdentityTokenFile, other, creds.EnvRoleARN, "arn:aws:iam::111122223333:role/uploader"),
			id: creds.Identity{Mode: creds.ModeIRSA}, err: stsDenied, want: []Name{TokenSubject, TokenRejected}},
		{name: "irsa token missing", env: merge(creds.EnvWebIdentityTokenFile, filepath.Join(dir, "absent"), creds.EnvRoleARN, "arn:aws:iam::1:role/r"),
			id: creds.Identity{Mode: creds.ModeIRSA}, err: &creds.Error{Mode: creds.ModeIRSA, Reason: creds.ReasonNotFound, Err: os.ErrNotExist}, want: []Name{TokenFileMissing}},
		{name: "pod identity refused by the agent", env: merge(creds.EnvContainerTokenFile, podToken, creds.EnvContainerFullURI, "http://169.254.170.23/v1/credentials"),
			id: creds.Identity{Mode: creds.ModePodIdentity}, err: agentDenied, want: []Name{TokenRejected}},
		{name: "fell back to the node role", env: merge(), required: []creds.Mode{creds.ModeIRSA}, id: node, want: []Name{MutationMissing, SilentFallback}},
		{name: "irsa from a profile, then a role chain", env: merge(), required: []creds.Mode{creds.ModeIRSA},
			id: creds.Identity{Mode: creds.ModeIRSA, Source: "AssumeRoleProvider", SourceRoleARN: "arn:aws:iam::111122223333:role/pod",
				RoleARN: "arn:aws:iam::444455556666:role/writer", CallerARN: "arn:aws:sts::444455556666:assumed-role/writer/s"}},
		{name: "static keys shadow irsa", env: merge(creds.EnvWebIdentityTokenFile, other, "AWS_ACCESS_KEY_ID", "AKIA"),
			id: creds.Identity{Mode: creds.ModeStatic, Source: "EnvConfigCredentials"}, want: []Name{TokenSubject, CredentialsShadowed}},
		{name: "node role behind a hop limit", env: map[string]string{"AWS_EC2_METADATA_SERVICE_ENDPOINT": imdsStandin(t, func(s *standin.IMDS) { s.SetHopLimitExceeded(true) })},
			id: creds.Identity{Mode: creds.ModeNodeRole}, err: &creds.Error{Mode: creds.ModeNodeRole, Reason: creds.ReasonIMDSUnreachable, Err: context.DeadlineExceeded}, want: []Name{IMDSHopLimit}},
		{name: "node role, imds disabled here", env: map[string]string{"AWS_EC2_METADATA_DISABLED": "true"}, id: node},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := Credentials(context.Background(), Inputs{Env: envOf(tt.env), Required: tt.required, Identity: tt.id, Err: tt.err})
			wantNames(t, got, tt.want)
			for _, p := range []string{other, podToken} {
				raw, _ := os.ReadFile(p)
				if strings.Contains(got.String(), string(raw)) || strings.Contains(got.String(), strings.Split(string(raw), ".")[2]) {
					t.Errorf("a token or its signature is printed: %s", got)
				}
			}
		})
	}
}

func TestActive(t *testing.T) {
	reg := prometheus.NewRegistry()
	a, err := newActive(reg)
	if err != nil {
		t.Fatal(err)
	}
	if got := testutil.CollectAndCount(reg, "uploader_diagnosis_info"); got != len(Names) {
		t.Fatalf("got %d series, want %d (every name at 0)", got, len(Names))
	}
	value := func(n Name) float64 { return testutil.ToFloat64(a.info.WithLabelValues(string(n))) }
	skew := Diagnosis{Name: ClockSkew, Observed: "o", Fix: "f"}
	shadow := Diagnosis{Name: CredentialsShadowed, Observed: "o", Fix: "f"}
	if added := a.Set("start", List{shadow}); len(added) != 1 {
		t.Errorf("first set: got %v added, want the one", added)
	}
	if added := a.Set("upload", List{skew, shadow}); !added.Has(ClockSkew) || added.Has(CredentialsShadowed) {
		t.Errorf("second set: got %v added, want clock_skew only", added.Names())
	}
	if value(ClockSkew) != 1 || value(CredentialsShadowed) != 1 || value(IMDSNoRole) != 0 {
		t.Errorf("got clock_skew %v, credentials_shadowed %v, imds_no_role %v; want 1 1 0", value(ClockSkew), value(CredentialsShadowed), value(IMDSNoRole))
	}
	a.Set("upload", nil)
	if value(ClockSkew) != 0 || value(CredentialsShadowed) != 1 {
		t.Errorf("after the upload group cleared: got clock_skew %v, credentials_shadowed %v; want 0 1", value(ClockSkew), value(CredentialsShadowed))
	}
	if got := a.List().Names(); len(got) != 1 || got[0] != string(CredentialsShadowed) {
		t.Errorf("List: got %v", got)
	}
}
