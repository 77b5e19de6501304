package diagnose

import (
	"os"
	"strings"
	"testing"
	"time"

	"github.com/aws/smithy-go"
	"github.com/eks-least-privilege/uploader/internal/creds"
	"github.com/eks-least-privilege/uploader/internal/token"
	"github.com/eks-least-privilege/uploader/standin"
)

func newIssuer(t *testing.T, now time.Time) *standin.Issuer {
	t.Helper()
	iss, err := standin.NewIssuer("https://oidc.eks.eu-west-1.amazonaws.com/id/EXAMPLE", standin.IssuerOptions{Now: func() time.Time { return now }})
	if err != nil {
		t.Fatal(err)
	}
	return iss
}

// writeToken writes at path a token of the stand-in issuer at now, for sa
// and aud, valid for an hour; it returns path.
func writeToken(t *testing.T, path string, now time.Time, sa standin.ServiceAccount, aud string) string {
	t.Helper()
	jwt, err := newIssuer(t, now).Sign(sa, aud, time.Hour)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(path, []byte(jwt), 0o644); err != nil {
		t.Fatal(err)
	}
	return path
}

func TestTokenClaims(t *testing.T) {
	now := time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)
	good := token.Claims{Issuer: "https://oidc.example", Subject: "system:serviceaccount:images:uploader", Audience: []string{token.AudienceSTS},
		Expiry: now.Add(time.Hour), IssuedAt: now.Add(-time.Minute)}
	with := func(f func(*token.Claims)) token.Claims { c := good; f(&c); return c }
	irsa := expect{Var: creds.EnvWebIdentityTokenFile, Audience: token.AudienceSTS, Namespace: "images", ServiceAccount: "uploader"}
	tests := []struct {
		name     string
		claims   token.Claims
		want     expect
		names    []Name
		contains []string
	}{
		{name: "good", claims: good, want: irsa},
		{name: "wrong audience", claims: with(func(c *token.Claims) { c.Audience = []string{"https://kubernetes.default.svc"} }), want: irsa,
			names: []Name{TokenAudience}, contains: []string{`has aud "https://kubernetes.default.svc", want "sts.amazonaws.com"`, "eks.amazonaws.com/audience", "ISSUER:aud"}},
		{name: "pod identity audience", claims: good, want: expect{Var: creds.EnvContainerTokenFile, Audience: token.AudiencePodIdentity},
			names: []Name{TokenAudience}, contains: []string{`want "pods.eks.amazonaws.com"`}},
		{name: "expired", claims: with(func(c *token.Claims) { c.Expiry = now.Add(-90 * time.Second) }), want: irsa,
			names: []Name{TokenExpired}, contains: []string{"expired 1m30s ago, at 2026-03-01T11:58:30Z", "the file is a copy"}},
		{name: "another service account", claims: with(func(c *token.Claims) { c.Subject = "system:serviceaccount:default:default" }), want: irsa,
			names: []Name{TokenSubject}, contains: []string{`sub "system:serviceaccount:default:default", but this pod runs as "system:serviceaccount:images:uploader"`}},
		{name: "sub unchecked without the downward API", claims: with(func(c *token.Claims) { c.Subject = "x" }), want: expect{Var: creds.EnvWebIdentityTokenFile, Audience: token.AudienceSTS}},
		{name: "everything wrong", claims: token.Claims{Audience: []string{"x"}, Expiry: now, Subject: "y"}, want: irsa,
			names: []Name{TokenAudience, TokenExpired, TokenSubject}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			wantNames(t, tokenClaims(tt.claims, tt.want, now), tt.names, tt.contains...)
		})
	}
}

func TestExpectFor(t *testing.T) {
	env := envOf(map[string]string{creds.EnvPodNamespace: "ns", creds.EnvPodServiceAccount: "sa"})
	if got := expectFor(env, creds.EnvWebIdentityTokenFile); got != (expect{Var: creds.EnvWebIdentityTokenFile, Audience: token.AudienceSTS, Namespace: "ns", ServiceAccount: "sa"}) {
		t.Errorf("irsa: got %+v", got)
	}
	if got := expectFor(env, creds.EnvContainerTokenFile); got.Audience != token.AudiencePodIdentity {
		t.Errorf("pod identity: got %+v", got)
	}
}

func TestRejection(t *testing.T) {
	claims := &token.Claims{Issuer: "https://oidc.eks.eu-west-1.amazonaws.com/id/EXAMPLE", Subject: "system:serviceaccount:images:uploader", Audience: []string{token.AudienceSTS}}
	irsa := expect{Var: creds.EnvWebIdentityTokenFile, Audience: token.AudienceSTS}
	api := func(code, msg string) error {
		return &smithy.OperationError{ServiceID: "STS", OperationName: "AssumeRoleWithWebIdentity",
			Err: &smithy.GenericAPIError{Code: code, Message: msg}}
	}
	tests := []struct {
		name     string
		err      error
		want     expect
		claims   *token.Claims
		names    []Name
		contains []string
	}{
		{name: "no error"},
		{name: "not a refusal", err: api("ServiceUnavailable", "x"), want: irsa, claims: claims},
		{name: "trust policy", err: api("AccessDenied", "Not authorized to perform sts:AssumeRoleWithWebIdentity"), want: irsa, claims: claims,
			names: []Name{TokenRejected}, contains: []string{"AccessDenied", "sub=system:serviceaccount:images:uploader", "aud=sts.amazonaws.com", "ISSUER:sub"}},
		{name: "no oidc provider", err: api("InvalidIdentityToken", "No OpenIDConnect provider found in your account for https://oidc.eks.eu-west-1.amazonaws.com/id/EXAMPLE"),
			want: irsa, claims: claims, names: []Name{TokenRejected}, contains: []string{"associate-iam-oidc-provider", "issuer https://oidc.eks.eu-west-1.amazonaws.com/id/EXAMPLE is not an IAM OIDC provider"}},
		{name: "claims unavailable", err: api("InvalidIdentityToken", "bad token eyJhbGciOi.eyJzdWIi.c2ln"), want: irsa,
			names: []Name{TokenRejected}, contains: []string{"token claims unavailable", "bad token [token]"}},
		{name: "pod identity agent", err: &smithy.GenericAPIError{Code: "AccessDeniedException", Message: "Service account token is not valid"},
			want: expect{Var: creds.EnvContainerTokenFile, Audience: token.AudiencePodIdentity}, claims: claims,
			names: []Name{TokenRejected}, contains: []string{"the Pod Identity agent refused the token in AWS_CONTAINER_AUTHORIZATION_TOKEN_FILE", "list-pod-identity-associations"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := rejection(tt.err, tt.want, tt.claims)
			wantNames(t, got, tt.names, tt.contains...)
			if strings.Contains(List(got).String(), "eyJ") {
				t.Errorf("a token-like string is printed: %s", List(got))
			}
		})
	}
}
