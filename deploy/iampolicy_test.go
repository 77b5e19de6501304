package deploy_test

import (
	"os"
	"slices"
	"strings"
	"testing"

	"github.com/eks-least-privilege/uploader/test/iamsim"
)

// readPolicy returns the one statement of the policy document at path.
func readPolicy(t *testing.T, path string) iamsim.Statement {
	t.Helper()
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return iamsim.OneAllow(t, data)
}

func TestIAMPolicyIsPutOnly(t *testing.T) {
	s := readPolicy(t, "aws/iam-policy.json")
	if want := (iamsim.Strings{"s3:PutObject"}); !slices.Equal(s.Action, want) {
		t.Errorf("actions %v, want %v", s.Action, want)
	}
	if want := (iamsim.Strings{"arn:aws:s3:::{{BUCKET}}/{{PREFIX}}*"}); !slices.Equal(s.Resource, want) {
		t.Errorf("resources %v, want %v (the bucket's objects under the prefix)", s.Resource, want)
	}
	if s.Principal != nil || s.Condition != nil {
		t.Errorf("principal %v, condition %v: want neither in an identity policy", s.Principal, s.Condition)
	}
}

func TestIRSATrustPolicy(t *testing.T) {
	s := readPolicy(t, "aws/irsa-trust-policy.json")
	if want := (iamsim.Strings{"sts:AssumeRoleWithWebIdentity"}); !slices.Equal(s.Action, want) {
		t.Errorf("actions %v, want %v", s.Action, want)
	}
	fed := s.Principal["Federated"]
	if len(fed) != 1 || !strings.Contains(fed[0], ":oidc-provider/{{OIDC_PROVIDER}}") || len(s.Principal) != 1 {
		t.Errorf("principal %v, want only the cluster's OIDC provider", s.Principal)
	}
	if len(s.Condition) != 1 {
		t.Errorf("conditions %v, want StringEquals only (no wildcards)", s.Condition)
	}
	eq := s.Condition["StringEquals"]
	want := map[string]string{
		"{{OIDC_PROVIDER}}:sub": "system:serviceaccount:{{NAMESPACE}}:{{SERVICE_ACCOUNT}}",
		"{{OIDC_PROVIDER}}:aud": "sts.amazonaws.com",
	}
	for k, v := range want {
		if eq[k] != v {
			t.Errorf("StringEquals %s = %q, want %q", k, eq[k], v)
		}
	}
}

func TestPodIdentityTrustPolicy(t *testing.T) {
	s := readPolicy(t, "aws/pod-identity-trust-policy.json")
	if got, want := s.Principal["Service"], (iamsim.Strings{"pods.eks.amazonaws.com"}); !slices.Equal(got, want) || len(s.Principal) != 1 {
		t.Errorf("principal %v, want Service %v only", s.Principal, want)
	}
	got := slices.Sorted(slices.Values(s.Action))
	if want := []string{"sts:AssumeRole", "sts:TagSession"}; !slices.Equal(got, want) {
		t.Errorf("actions %v, want %v", got, want)
	}
	if s.Condition["StringEquals"]["aws:SourceAccount"] == "" || s.Condition["ArnEquals"]["aws:SourceArn"] == "" {
		t.Errorf("conditions %v, want aws:SourceAccount and aws:SourceArn pinned", s.Condition)
	}
}
