package main

import (
	"bytes"
	"context"
	"encoding/json"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/eks-least-privilege/uploader/internal/policy"
	"github.com/eks-least-privilege/uploader/standin"
	"github.com/eks-least-privilege/uploader/test/iamsim"
	"github.com/eks-least-privilege/uploader/test/mototest"
	"github.com/eks-least-privilege/uploader/test/testenv"
)

// runPolicyCmd runs `uploader policy args...` with a minimal environment and
// returns the statement of its stdout, which must be one JSON document and
// one newline.
func runPolicyCmd(t *testing.T, env map[string]string, args ...string) iamsim.Statement {
	t.Helper()
	testenv.IsolateAWSEnv(t)
	text := runPolicyText(t, env, args...)
	if text != strings.TrimSpace(text)+"\n" {
		t.Fatalf("stdout has more than the document and one newline: %q", text)
	}
	return iamsim.OneAllow(t, []byte(text))
}

// runPolicyText runs `uploader policy args...` with the uploader's minimal
// settings (and env) in an isolated AWS environment and returns its stdout.
func runPolicyText(t *testing.T, env map[string]string, args ...string) string {
	t.Helper()
	for k, v := range map[string]string{"S3_BUCKET_NAME": "images-bucket", "S3_KEY_PREFIX": "uploads/", "AWS_REGION": "eu-west-1",
		"AWS_EC2_METADATA_DISABLED": "true", "AWS_ENDPOINT_URL_STS": "http://" + testenv.FreePort(t)} {
		t.Setenv(k, v)
	}
	for k, v := range env {
		t.Setenv(k, v)
	}
	var out bytes.Buffer
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if err := run(ctx, append([]string{"policy"}, args...), &out); err != nil {
		t.Fatalf("uploader policy %v: %v\n%s", args, err, out.String())
	}
	return out.String()
}

func TestPolicyIdentity(t *testing.T) {
	s := runPolicyCmd(t, nil, "identity")
	if a, r := s.Action, s.Resource; !slices.Equal(a, iamsim.Strings{"s3:PutObject"}) ||
		!slices.Equal(r, iamsim.Strings{"arn:aws:s3:::images-bucket/uploads/*"}) || s.Principal != nil || s.Condition != nil {
		t.Errorf("got actions %v on %v (principal %v, conditions %v), want s3:PutObject on arn:aws:s3:::images-bucket/uploads/* only", a, r, s.Principal, s.Condition)
	}
}

func TestPolicyTrustIRSA(t *testing.T) {
	issuer, err := standin.NewIssuer("https://oidc.eks.eu-west-1.amazonaws.com/id/EXAMPLE", standin.IssuerOptions{})
	if err != nil {
		t.Fatal(err)
	}
	token, err := issuer.Sign(standin.ServiceAccount{Namespace: "images", Name: "uploader"}, standin.AudienceSTS, time.Hour)
	if err != nil {
		t.Fatal(err)
	}
	file := testenv.WriteFile(t, "token", token)
	const provider = "oidc.eks.eu-west-1.amazonaws.com/id/EXAMPLE"
	env := map[string]string{"AWS_WEB_IDENTITY_TOKEN_FILE": file, "AWS_ROLE_ARN": "arn:aws:iam::111122223333:role/uploader"}
	tests := []struct {
		name    string
		args    []string
		wantSub string
	}{
		// STS does not answer: the mode is the one the SDK tried.
		{"from the token and the mode tried", []string{"trust"}, "system:serviceaccount:images:uploader"},
		{"flags win", []string{"trust", "--mode", "irsa", "--namespace", "prod", "--service-account", "writer"}, "system:serviceaccount:prod:writer"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s := runPolicyCmd(t, env, tt.args...)
			if got := s.Principal; len(got) != 1 || !slices.Equal(got["Federated"], iamsim.Strings{"arn:aws:iam::111122223333:oidc-provider/" + provider}) {
				t.Errorf("principal: got %v", got)
			}
			if a := s.Action; !slices.Equal(a, iamsim.Strings{"sts:AssumeRoleWithWebIdentity"}) {
				t.Errorf("actions: got %v, want sts:AssumeRoleWithWebIdentity", a)
			}
			want := map[string]string{provider + ":sub": tt.wantSub, provider + ":aud": "sts.amazonaws.com"}
			if got := s.Condition["StringEquals"]; len(s.Condition) != 1 || len(got) != 2 || got[provider+":sub"] != want[provider+":sub"] || got[provider+":aud"] != want[provider+":aud"] {
				t.Errorf("conditions: got %v, want StringEquals %v", s.Condition, want)
			}
			if out, _ := json.Marshal(s); strings.Contains(string(out), token) {
				t.Error("the token is printed")
			}
		})
	}
}

func TestPolicyTrustPodIdentity(t *testing.T) {
	s := runPolicyCmd(t, nil, "trust", "--mode", "pod-identity", "--account", "111122223333", "--cluster", "demo")
	if len(s.Principal) != 1 || !slices.Equal(s.Principal["Service"], iamsim.Strings{"pods.eks.amazonaws.com"}) {
		t.Errorf("principal: got %v, want Service pods.eks.amazonaws.com", s.Principal)
	}
	if a := s.Action; !slices.Equal(a, iamsim.Strings{"sts:AssumeRole", "sts:TagSession"}) {
		t.Errorf("actions: got %v, want sts:AssumeRole and sts:TagSession", a)
	}
	if c := s.Condition; len(c) != 2 || len(c["StringEquals"]) != 1 || c["StringEquals"]["aws:SourceAccount"] != "111122223333" ||
		len(c["ArnEquals"]) != 1 || c["ArnEquals"]["aws:SourceArn"] != "arn:aws:eks:eu-west-1:111122223333:cluster/demo" {
		t.Errorf("conditions: got %v", c)
	}
}

func TestPolicyRefusesUnknownInput(t *testing.T) {
	testenv.IsolateAWSEnv(t)
	t.Setenv("S3_BUCKET_NAME", "b")
	t.Setenv("AWS_REGION", "eu-west-1")
	t.Setenv("AWS_EC2_METADATA_DISABLED", "true")
	t.Setenv("AWS_ENDPOINT_URL_STS", "http://"+testenv.FreePort(t))
	for name, args := range map[string][]string{
		"no kind":                        {"policy"},
		"unknown kind":                   {"policy", "admin"},
		"static mode has no trust":       {"policy", "trust", "--mode", "static"},
		"pod identity without a cluster": {"policy", "trust", "--mode", "pod-identity", "--account", "111122223333"},
	} {
		t.Run(name, func(t *testing.T) {
			var out bytes.Buffer
			if err := run(context.Background(), args, &out); err == nil {
				t.Errorf("got %s, want an error", out.String())
			}
		})
	}
}

// TestPolicyWriterDocs: the identity, key and bucket documents are
// internal/policy's for the settings (S3_SSE, S3_SSE_KMS_KEY_ID,
// S3_BUCKET_KEY_ENABLED) and the flags; the simulator tests there say what
// each allows.
func TestPolicyWriterDocs(t *testing.T) {
	const (
		key   = "arn:aws:kms:eu-west-1:444455556666:key/1234abcd-12ab-34cd-56ef-1234567890ab"
		other = "arn:aws:kms:eu-west-1:444455556666:key/0000abcd-12ab-34cd-56ef-1234567890ab"
		role  = "arn:aws:iam::111122223333:role/uploader-writer"
	)
	env := map[string]string{"S3_SSE": "aws:kms", "S3_SSE_KMS_KEY_ID": key, "S3_BUCKET_KEY_ENABLED": "true"}
	target := policy.Target{Bucket: "images-bucket", Prefix: "uploads/", Region: "eu-west-1", SSE: "aws:kms", KMSKeyID: key, BucketKey: true}
	withOther := target
	withOther.KMSKeyID = other
	tests := []struct {
		name string
		args []string
		want func() ([]byte, error)
	}{
		{"identity", []string{"identity"}, target.Identity},
		{"identity, --kms-key", []string{"identity", "--kms-key", other}, withOther.Identity},
		{"key", []string{"key", "--role-arn", role}, func() ([]byte, error) { return target.KeyStatement(role) }},
		{"bucket", []string{"bucket", "--role-arn", role, "--account", "444455556666"}, func() ([]byte, error) { return target.BucketPolicy(role, "444455556666") }},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			testenv.IsolateAWSEnv(t)
			want, err := tt.want()
			if err != nil {
				t.Fatal(err)
			}
			if got := runPolicyText(t, env, tt.args...); got != string(want) {
				t.Errorf("got\n%s\nwant\n%s", got, want)
			}
		})
	}
}

// TestPolicyDefaultsFromTheChain: in a pod whose profile chains IRSA into
// the bucket owner's writer role, `policy bucket` is for that final role
// and the caller's account, and `policy trust --mode assume-role` trusts
// the first hop's role with the profile's external id, each found through
// the SDK's own providers (moto's STS here).
func TestPolicyDefaultsFromTheChain(t *testing.T) {
	const (
		source   = "arn:aws:iam::111122223333:role/uploader-pod"
		writer   = "arn:aws:iam::444455556666:role/uploader-writer"
		external = "ext-7f3a9c2e51d0"
	)
	testenv.IsolateAWSEnv(t)
	sts := mototest.Start(t)
	writeChainProfile(t, source, writer, external)
	env := map[string]string{"AWS_PROFILE": "writer", "AWS_ENDPOINT_URL_STS": sts, "S3_SSE": "AES256"}

	got := runPolicyText(t, env, "bucket")
	want, err := policy.Target{Bucket: "images-bucket", Prefix: "uploads/", Region: "eu-west-1", SSE: "AES256"}.BucketPolicy(writer, "444455556666")
	if err != nil {
		t.Fatal(err)
	}
	if got != string(want) {
		t.Errorf("policy bucket: got\n%s\nwant\n%s", got, want)
	}
	got = runPolicyText(t, env, "trust", "--mode", "assume-role")
	want, err = policy.AssumeRoleTrust{SourceRoleARN: source, ExternalID: external}.Trust()
	if err != nil {
		t.Fatal(err)
	}
	if got != string(want) {
		t.Errorf("policy trust --mode assume-role: got\n%s\nwant\n%s", got, want)
	}
	got = runPolicyText(t, env, "trust", "--mode", "assume-role", "--tag-session", "--external-id", "other-id")
	if want, err = (policy.AssumeRoleTrust{SourceRoleARN: source, ExternalID: "other-id", TagSession: true}).Trust(); err != nil || got != string(want) {
		t.Errorf("policy trust --mode assume-role --tag-session --external-id other-id: got\n%s\nwant\n%s (%v)", got, want, err)
	}

	// A bare key id is in the caller's account: the writer role's.
	env["S3_SSE"], env["S3_SSE_KMS_KEY_ID"] = "aws:kms", "1234abcd-12ab-34cd-56ef-1234567890ab"
	got = runPolicyText(t, env, "identity")
	want, err = policy.Target{Bucket: "images-bucket", Prefix: "uploads/", Region: "eu-west-1", SSE: "aws:kms",
		KMSKeyID: "arn:aws:kms:eu-west-1:444455556666:key/1234abcd-12ab-34cd-56ef-1234567890ab"}.Identity()
	if err != nil || got != string(want) {
		t.Errorf("policy identity with a key id: got\n%s\nwant\n%s (%v)", got, want, err)
	}
}
