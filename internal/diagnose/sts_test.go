package diagnose

import (
	"context"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/config"
	"github.com/eks-least-privilege/uploader/internal/creds"
	"github.com/eks-least-privilege/uploader/internal/token"
	"github.com/eks-least-privilege/uploader/standin"
	"github.com/eks-least-privilege/uploader/test/standintest"
)

// TestTokenAudienceAtSTS writes IRSA tokens of the wrong audience with the
// stand-ins, has the SDK exchange one at MinIO's AssumeRoleWithWebIdentity,
// and diagnoses the refusal from the error and the token's claims.
func TestTokenAudienceAtSTS(t *testing.T) {
	f := standintest.Start(t, standin.StackOptions{
		Services:       []string{standin.ServiceOIDC},
		ServiceAccount: standin.ServiceAccount{Namespace: "images", Name: "uploader"},
		IRSAAudience:   "https://kubernetes.default.svc",
	}, standin.MinterOptions{})
	env := map[string]string{creds.EnvPodNamespace: "images", creds.EnvPodServiceAccount: "uploader", "AWS_REGION": "us-east-1"}
	for _, kv := range f.ModeEnv(t, "irsa") {
		k, v, _ := strings.Cut(kv, "=")
		env[k] = v
	}
	for k, v := range env {
		t.Setenv(k, v)
	}
	cfg, err := config.LoadDefaultConfig(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	_, err = creds.Resolve(context.Background(), cfg)
	if err == nil {
		t.Fatal("MinIO accepted a token of the wrong audience")
	}
	raw, rerr := os.ReadFile(env[creds.EnvWebIdentityTokenFile])
	if rerr != nil {
		t.Fatal(rerr)
	}
	claims, cerr := token.Decode(raw)
	if cerr != nil {
		t.Fatal(cerr)
	}
	want := expectFor(envOf(env), creds.EnvWebIdentityTokenFile)
	got := append(tokenClaims(claims, want, time.Now()), rejection(err, want, &claims)...)
	wantNames(t, got, []Name{TokenAudience, TokenRejected},
		`has aud "https://kubernetes.default.svc", want "sts.amazonaws.com"`, "sub=system:serviceaccount:images:uploader")
	if s := List(got).String(); strings.Contains(s, string(raw)) || strings.Contains(s, strings.Split(string(raw), ".")[2]) {
		t.Errorf("the token or its signature is printed: %s", s)
	}
}
