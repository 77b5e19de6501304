package diagnose

import (
	"bytes"
	"context"
	"encoding/base64"
	"encoding/json"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/eks-least-privilege/uploader/internal/creds"
	"github.com/eks-least-privilege/uploader/internal/issuer"
	"github.com/eks-least-privilege/uploader/internal/token"
	"github.com/eks-least-privilege/uploader/standin"
	"github.com/eks-least-privilege/uploader/test/standintest"
	"github.com/eks-least-privilege/uploader/test/testenv"
)

// tlsIssuer serves the stand-in issuer over TLS on loopback; claimed, when
// set, replaces the issuer its discovery document states. It returns the
// issuer and an Examiner that trusts the server through fetch's guarded
// client.
func tlsIssuer(t *testing.T, claimed string) (*standin.Issuer, Examiner) {
	t.Helper()
	iss, cert := standintest.TLSIssuer(t, func(iss *standin.Issuer) http.Handler {
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			if claimed == "" || r.URL.Path != standin.DiscoveryPath {
				iss.ServeHTTP(w, r)
				return
			}
			_ = json.NewEncoder(w).Encode(map[string]string{"issuer": claimed, "jwks_uri": iss.URL() + standin.JWKSPath})
		})
	})
	return iss, standintest.IssuerClient(t, cert)
}

func TestExamineTokens(t *testing.T) {
	sa := standin.ServiceAccount{Namespace: "images", Name: "uploader"}
	sign := func(t *testing.T, iss *standin.Issuer, aud string) string {
		t.Helper()
		tok, err := iss.Sign(sa, aud, time.Hour)
		if err != nil {
			t.Fatal(err)
		}
		return tok
	}
	tamper := func(tok string) string {
		parts := strings.Split(tok, ".")
		payload, _ := base64.RawURLEncoding.DecodeString(parts[1])
		parts[1] = base64.RawURLEncoding.EncodeToString(bytes.Replace(payload, []byte(`"images"`), []byte(`"kube-system"`), 1))
		return strings.Join(parts, ".")
	}
	tests := []struct {
		name     string
		claimed  string // the discovery document's issuer, when it lies
		key      string // the token file variable
		token    func(*testing.T, *standin.Issuer) string
		result   issuer.Result
		want     []Name
		contains []string
		resolved creds.Mode // the mode the SDK resolved, empty when it failed
	}{
		{"irsa verified", "", creds.EnvWebIdentityTokenFile, func(t *testing.T, i *standin.Issuer) string { return sign(t, i, token.AudienceSTS) },
			issuer.Verified, nil,
			[]string{"token:", "(irsa)", "audience:", "sts.amazonaws.com", "system:serviceaccount:images:uploader (namespace images, service account uploader)",
				"expires:", "(in ", "alg RS256", "(the token's iss)", "signature:", "verified with key", "role must trust:", "arn:aws:iam::111122223333:oidc-provider/127.0.0.1:",
				"role trusts:", "(STS gave credentials for this token and AWS_ROLE_ARN)"}, creds.ModeIRSA},
		{"pod identity verified", "", creds.EnvContainerTokenFile, func(t *testing.T, i *standin.Issuer) string { return sign(t, i, token.AudiencePodIdentity) },
			issuer.Verified, nil, []string{"(pod-identity)", "pods.eks.amazonaws.com", "agent endpoint:", "http://169.254.170.23/v1/credentials", "verified with key"}, creds.ModePodIdentity},
		{"tampered claim", "", creds.EnvWebIdentityTokenFile, func(t *testing.T, i *standin.Issuer) string { return tamper(sign(t, i, token.AudienceSTS)) },
			issuer.NotVerified, []Name{TokenSignatureInvalid},
			[]string{"namespace kube-system", "NOT verified: the RS256 signature does not match key", "diagnosis token_signature_invalid:", "role trusts:", "not known: STS gave no credentials"}, ""},
		{"revoked key", "", creds.EnvWebIdentityTokenFile, func(t *testing.T, i *standin.Issuer) string {
			i.Revoke()
			defer i.Restore()
			return sign(t, i, token.AudienceSTS)
		}, issuer.NotVerified, []Name{TokenSignatureInvalid}, []string{"NOT verified"}, ""},
		{"issuer that lies about itself", "https://kubernetes.default.svc", creds.EnvWebIdentityTokenFile,
			func(t *testing.T, i *standin.Issuer) string { return sign(t, i, token.AudienceSTS) },
			issuer.Verified, []Name{IssuerMismatch}, []string{"https://kubernetes.default.svc (differs from the token's iss)", "diagnosis issuer_mismatch:"}, creds.ModeIRSA},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			iss, ex := tlsIssuer(t, tt.claimed)
			tok := tt.token(t, iss)
			path := testenv.WriteFile(t, "token", tok)
			env := envOf(map[string]string{tt.key: path, creds.EnvRoleARN: "arn:aws:iam::111122223333:role/uploader",
				creds.EnvContainerFullURI: "http://169.254.170.23/v1/credentials"})
			exams := ExamineTokens(context.Background(), env, ex, tt.resolved)
			if len(exams) != 1 {
				t.Fatalf("got %d examinations, want 1", len(exams))
			}
			e := exams[0]
			if e.Issuer.Result != tt.result {
				t.Errorf("got %s (%s, %v), want %s", e.Issuer.Result, e.Issuer.Reason, e.Issuer.Err, tt.result)
			}
			var out bytes.Buffer
			if err := e.WriteText(&out, time.Now()); err != nil {
				t.Fatal(err)
			}
			wantNames(t, e.Diagnoses, tt.want)
			for _, c := range tt.contains {
				if !strings.Contains(out.String(), c) {
					t.Errorf("got\n%s\nwant it to contain %q", out.String(), c)
				}
			}
			// Canary: no part of the token, its signature first, is printed.
			for i, part := range strings.Split(tok, ".") {
				if strings.Contains(out.String(), part) {
					t.Errorf("part %d of the token is in the output:\n%s", i, out.String())
				}
			}
		})
	}
}

func TestExamineTokensUnreadable(t *testing.T) {
	path := testenv.WriteFile(t, "token", "eyJub3QiOiJhIHRva2VuIn0.CANARY-not-a-token")
	exams := ExamineTokens(context.Background(), envOf(map[string]string{creds.EnvWebIdentityTokenFile: path}), nil, "")
	if len(exams) != 1 || exams[0].Err == nil {
		t.Fatalf("got %+v, want one examination with an error", exams)
	}
	var out bytes.Buffer
	_ = exams[0].WriteText(&out, time.Now())
	if !strings.Contains(out.String(), "unreadable:") || strings.Contains(out.String(), "CANARY") || strings.Contains(out.String(), "eyJ") {
		t.Errorf("got\n%s\nwant the error without the file's content", out.String())
	}
}
