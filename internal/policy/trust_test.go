package policy_test

import (
	"maps"
	"slices"
	"strings"
	"testing"

	"github.com/eks-least-privilege/uploader/internal/policy"
	"github.com/eks-least-privilege/uploader/test/iamsim"
)

// parseTrust returns the one statement of a trust policy: it allows a
// principal to assume the role, and names no resource.
func parseTrust(t *testing.T, doc []byte) iamsim.Statement {
	t.Helper()
	s := iamsim.OneAllow(t, doc)
	if s.Resource != nil {
		t.Errorf("resource %v in a trust policy, want none", s.Resource)
	}
	return s
}

func TestIRSATrust(t *testing.T) {
	tests := []struct {
		name, issuer, wantProvider string
	}{
		{"eks issuer", "https://oidc.eks.eu-west-1.amazonaws.com/id/EXAMPLED539D4633E53DE1B71EXAMPLE", "oidc.eks.eu-west-1.amazonaws.com/id/EXAMPLED539D4633E53DE1B71EXAMPLE"},
		{"trailing slash", "https://oidc.example.com/", "oidc.example.com"},
		{"no scheme", "oidc.example.com/cluster", "oidc.example.com/cluster"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			doc, err := policy.IRSATrust{Account: "111122223333", Issuer: tt.issuer, Namespace: "images", ServiceAccount: "uploader"}.Trust()
			if err != nil {
				t.Fatal(err)
			}
			s := parseTrust(t, doc)
			if got, want := s.Principal, map[string]iamsim.Strings{"Federated": {"arn:aws:iam::111122223333:oidc-provider/" + tt.wantProvider}}; !maps.EqualFunc(got, want, slices.Equal) {
				t.Errorf("principal: got %v, want %v", got, want)
			}
			if got := s.Action; !slices.Equal(got, iamsim.Strings{"sts:AssumeRoleWithWebIdentity"}) {
				t.Errorf("actions: got %v, want [sts:AssumeRoleWithWebIdentity]", got)
			}
			want := map[string]map[string]string{"StringEquals": {
				tt.wantProvider + ":sub": "system:serviceaccount:images:uploader",
				tt.wantProvider + ":aud": policy.IRSAAudience,
			}}
			if !maps.EqualFunc(s.Condition, want, maps.Equal) {
				t.Errorf("conditions: got %v, want %v", s.Condition, want)
			}
		})
	}
}

func TestPodIdentityTrust(t *testing.T) {
	doc, err := policy.PodIdentityTrust{Account: "111122223333", Region: "eu-west-1", Cluster: "demo"}.Trust()
	if err != nil {
		t.Fatal(err)
	}
	s := parseTrust(t, doc)
	if len(s.Principal) != 1 || !slices.Equal(s.Principal["Service"], iamsim.Strings{policy.PodIdentityPrincipal}) {
		t.Errorf("principal: got %v, want Service %s", s.Principal, policy.PodIdentityPrincipal)
	}
	if got := s.Action; !slices.Equal(got, iamsim.Strings{"sts:AssumeRole", "sts:TagSession"}) {
		t.Errorf("actions: got %v, want [sts:AssumeRole sts:TagSession]", got)
	}
	want := map[string]map[string]string{
		"StringEquals": {"aws:SourceAccount": "111122223333"},
		"ArnEquals":    {"aws:SourceArn": "arn:aws:eks:eu-west-1:111122223333:cluster/demo"},
	}
	if !maps.EqualFunc(s.Condition, want, maps.Equal) {
		t.Errorf("conditions: got %v, want %v", s.Condition, want)
	}
}

// TestRejectsBadInput: every document names what is missing or wrong.
func TestRejectsBadInput(t *testing.T) {
	kms := policy.Target{Bucket: "b", Prefix: "p/", Region: "eu-west-1", SSE: policy.SSEKMS, KMSKeyID: "alias/x"}
	tests := []struct {
		name string
		doc  func() ([]byte, error)
		want []string // every problem named
	}{
		{"irsa empty", policy.IRSATrust{}.Trust, []string{"account: required", "issuer: required", "namespace: required", "service account: required"}},
		{"irsa bad values", policy.IRSATrust{Account: "12", Issuer: `https://x"y`, Namespace: "Bad_NS", ServiceAccount: "sa*"}.Trust,
			[]string{"account: must be 12 digits", "issuer: must be", "namespace: must be a DNS label", "service account: must be a DNS subdomain"}},
		{"pod identity empty", policy.PodIdentityTrust{}.Trust, []string{"account: required", "region: required", "cluster: required"}},
		{"pod identity bad values", policy.PodIdentityTrust{Account: "x", Region: "mars", Cluster: "a/b"}.Trust,
			[]string{"account: must be", "region: must be", "cluster: must be"}},
		{"identity with an alias", kms.Identity, []string{"not an alias"}},
		{"key statement without a key", func() ([]byte, error) {
			return policy.Target{Bucket: "b", SSE: policy.SSEKMS}.KeyStatement("arn:aws:iam::111122223333:role/w")
		}, []string{"no customer managed KMS key"}},
		{"key statement for a user", func() ([]byte, error) {
			return policy.Target{Bucket: "b", Region: "eu-west-1", SSE: policy.SSEKMS, KMSKeyID: "k", KeyAccount: "111122223333"}.KeyStatement("arn:aws:iam::111122223333:user/w")
		}, []string{"role: must be an IAM role ARN"}},
		{"bucket policy, nothing given", func() ([]byte, error) { return policy.Target{}.BucketPolicy("", "") }, []string{"role: required", "account: required"}},
		{"bucket policy, wildcard prefix", func() ([]byte, error) {
			return policy.Target{Bucket: "b", Prefix: "a*"}.BucketPolicy("arn:aws:iam::111122223333:role/w", "111122223333")
		}, []string{"prefix"}},
		{"trust, not a role", policy.AssumeRoleTrust{SourceRoleARN: "arn:aws:sts::111122223333:assumed-role/w/s"}.Trust, []string{"source role: must be an IAM role ARN"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			doc, err := tt.doc()
			if err == nil {
				t.Fatalf("got %s, want an error", doc)
			}
			for _, w := range tt.want {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("error %q: want it to contain %q", err, w)
				}
			}
		})
	}
}
