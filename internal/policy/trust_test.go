package policy_test

import (
	"encoding/json"
	"slices"
	"strings"
	"testing"

	"github.com/eks-least-privilege/uploader/internal/policy"
)

// trustDoc is a trust policy as IAM reads it.
type trustDoc struct {
	Version   string
	Statement []struct {
		Sid       string
		Effect    string
		Principal map[string]string
		Action    json.RawMessage // a string or a list
		Condition map[string]map[string]string
	}
}

func parseTrust(t *testing.T, doc []byte) trustDoc {
	t.Helper()
	var p trustDoc
	dec := json.NewDecoder(strings.NewReader(string(doc)))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&p); err != nil {
		t.Fatalf("not a trust policy: %v\n%s", err, doc)
	}
	if p.Version != "2012-10-17" || len(p.Statement) != 1 {
		t.Fatalf("got version %q with %d statements, want 2012-10-17 with 1", p.Version, len(p.Statement))
	}
	if p.Statement[0].Effect != "Allow" {
		t.Errorf("effect: got %q, want Allow", p.Statement[0].Effect)
	}
	return p
}

func actions(t *testing.T, raw json.RawMessage) []string {
	t.Helper()
	var one string
	if json.Unmarshal(raw, &one) == nil {
		return []string{one}
	}
	var many []string
	if err := json.Unmarshal(raw, &many); err != nil {
		t.Fatalf("action: %v", err)
	}
	return many
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
			s := parseTrust(t, doc).Statement[0]
			if got, want := s.Principal, map[string]string{"Federated": "arn:aws:iam::111122223333:oidc-provider/" + tt.wantProvider}; len(got) != 1 || got["Federated"] != want["Federated"] {
				t.Errorf("principal: got %v, want %v", got, want)
			}
			if got := actions(t, s.Action); !slices.Equal(got, []string{"sts:AssumeRoleWithWebIdentity"}) {
				t.Errorf("actions: got %v, want [sts:AssumeRoleWithWebIdentity]", got)
			}
			want := map[string]map[string]string{"StringEquals": {
				tt.wantProvider + ":sub": "system:serviceaccount:images:uploader",
				tt.wantProvider + ":aud": policy.IRSAAudience,
			}}
			if !equalConditions(s.Condition, want) {
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
	s := parseTrust(t, doc).Statement[0]
	if len(s.Principal) != 1 || s.Principal["Service"] != policy.PodIdentityPrincipal {
		t.Errorf("principal: got %v, want Service %s", s.Principal, policy.PodIdentityPrincipal)
	}
	if got := actions(t, s.Action); !slices.Equal(got, []string{"sts:AssumeRole", "sts:TagSession"}) {
		t.Errorf("actions: got %v, want [sts:AssumeRole sts:TagSession]", got)
	}
	want := map[string]map[string]string{
		"StringEquals": {"aws:SourceAccount": "111122223333"},
		"ArnEquals":    {"aws:SourceArn": "arn:aws:eks:eu-west-1:111122223333:cluster/demo"},
	}
	if !equalConditions(s.Condition, want) {
		t.Errorf("conditions: got %v, want %v", s.Condition, want)
	}
}

func equalConditions(got, want map[string]map[string]string) bool {
	if len(got) != len(want) {
		return false
	}
	for op, kv := range want {
		g := got[op]
		if len(g) != len(kv) {
			return false
		}
		for k, v := range kv {
			if g[k] != v {
				return false
			}
		}
	}
	return true
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
