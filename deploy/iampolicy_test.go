package deploy_test

import (
	"bytes"
	"encoding/json"
	"os"
	"slices"
	"strings"
	"testing"
)

// policy is an IAM policy document. Action and Resource may be a string or
// a list; Principal's values too.
type policy struct {
	Version   string
	Statement []struct {
		Sid       string
		Effect    string
		Principal map[string]stringList
		Action    stringList
		Resource  stringList
		Condition map[string]map[string]string
	}
}

type stringList []string

func (s *stringList) UnmarshalJSON(b []byte) error {
	var one string
	if err := json.Unmarshal(b, &one); err == nil {
		*s = stringList{one}
		return nil
	}
	return json.Unmarshal(b, (*[]string)(s))
}

func readPolicy(t *testing.T, path string) policy {
	t.Helper()
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	var p policy
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.DisallowUnknownFields() // NotAction, NotResource, ... are not expected
	if err := dec.Decode(&p); err != nil {
		t.Fatalf("%s: %v", path, err)
	}
	if p.Version != "2012-10-17" || len(p.Statement) != 1 {
		t.Fatalf("%s: version %q with %d statements, want 2012-10-17 with 1", path, p.Version, len(p.Statement))
	}
	if p.Statement[0].Effect != "Allow" {
		t.Errorf("%s: effect %q, want Allow", path, p.Statement[0].Effect)
	}
	return p
}

func TestIAMPolicyIsPutOnly(t *testing.T) {
	s := readPolicy(t, "aws/iam-policy.json").Statement[0]
	if want := (stringList{"s3:PutObject"}); !slices.Equal(s.Action, want) {
		t.Errorf("actions %v, want %v", s.Action, want)
	}
	if want := (stringList{"arn:aws:s3:::{{BUCKET}}/{{PREFIX}}*"}); !slices.Equal(s.Resource, want) {
		t.Errorf("resources %v, want %v (the bucket's objects under the prefix)", s.Resource, want)
	}
	if s.Principal != nil || s.Condition != nil {
		t.Errorf("principal %v, condition %v: want neither in an identity policy", s.Principal, s.Condition)
	}
}

func TestIRSATrustPolicy(t *testing.T) {
	s := readPolicy(t, "aws/irsa-trust-policy.json").Statement[0]
	if want := (stringList{"sts:AssumeRoleWithWebIdentity"}); !slices.Equal(s.Action, want) {
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
	s := readPolicy(t, "aws/pod-identity-trust-policy.json").Statement[0]
	if got, want := s.Principal["Service"], (stringList{"pods.eks.amazonaws.com"}); !slices.Equal(got, want) || len(s.Principal) != 1 {
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
