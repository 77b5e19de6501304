package diagnose_test

import (
	"bytes"
	"context"
	"crypto/x509"
	"encoding/base64"
	"fmt"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/config"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/common/expfmt"

	"github.com/eks-least-privilege/uploader/internal/creds"
	"github.com/eks-least-privilege/uploader/internal/diagnose"
	"github.com/eks-least-privilege/uploader/internal/issuer"
	"github.com/eks-least-privilege/uploader/test/standintest"
	"github.com/eks-least-privilege/uploader/test/testenv"
)

// canaryDiag marks secrets and token parts that no diagnosis may print.
const canaryDiag = "CANARYDIAGNOSE"

// canaryToken is a JWT whose signature is the canary: its claims may be
// shown, the token and its signature never.
func canaryToken(aud string) string {
	enc := base64.RawURLEncoding.EncodeToString
	return enc([]byte(`{"alg":"RS256","kid":"k"}`)) + "." +
		enc([]byte(fmt.Sprintf(`{"iss":"https://oidc.example/id/1","sub":"system:serviceaccount:images:uploader","aud":[%q],"exp":1,"iat":1}`, aud))) +
		"." + canaryDiag + "-signature"
}

// TestNoSecretsInDiagnoses: the diagnoses of misconfigured pods — printed
// as `uploader check` does, logged through the watcher's hook, exported as
// metrics — hold no secret key, no session token, no raw token and no
// signature, whichever mode failed.
func TestNoSecretsInDiagnoses(t *testing.T) {
	refuse := func(status int, body string) *httptest.Server {
		srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			w.WriteHeader(status)
			fmt.Fprint(w, body)
		}))
		t.Cleanup(srv.Close)
		return srv
	}
	stsDenied := `<ErrorResponse><Error><Type>Sender</Type><Code>AccessDenied</Code><Message>Not authorized to perform sts:AssumeRoleWithWebIdentity</Message></Error></ErrorResponse>`
	tests := map[string]func(t *testing.T) map[string]string{
		"irsa refused": func(t *testing.T) map[string]string {
			return map[string]string{"AWS_WEB_IDENTITY_TOKEN_FILE": testenv.WriteFile(t, "token", canaryToken("sts.amazonaws.com")), "AWS_ROLE_ARN": "arn:aws:iam::111122223333:role/u",
				"AWS_ENDPOINT_URL_STS": refuse(http.StatusForbidden, stsDenied).URL}
		},
		"irsa wrong audience": func(t *testing.T) map[string]string {
			return map[string]string{"AWS_WEB_IDENTITY_TOKEN_FILE": testenv.WriteFile(t, "token", canaryToken("wrong")), "AWS_ROLE_ARN": "arn:aws:iam::111122223333:role/u",
				"AWS_ENDPOINT_URL_STS": refuse(http.StatusBadRequest, strings.ReplaceAll(stsDenied, "AccessDenied", "InvalidIdentityToken")).URL}
		},
		"pod identity refused": func(t *testing.T) map[string]string {
			return map[string]string{"AWS_CONTAINER_AUTHORIZATION_TOKEN_FILE": testenv.WriteFile(t, "token", canaryToken("pods.eks.amazonaws.com")),
				"AWS_CONTAINER_CREDENTIALS_FULL_URI": refuse(http.StatusForbidden, `{"code":"AccessDeniedException","message":"denied"}`).URL}
		},
		"static keys shadow irsa": func(t *testing.T) map[string]string {
			return map[string]string{"AWS_ACCESS_KEY_ID": "AKIAEXAMPLE0000001", "AWS_SECRET_ACCESS_KEY": canaryDiag + "-secret",
				"AWS_SESSION_TOKEN": canaryDiag + "-session", "AWS_WEB_IDENTITY_TOKEN_FILE": testenv.WriteFile(t, "token", canaryToken("sts.amazonaws.com")),
				"AWS_ENDPOINT_URL_STS": refuse(http.StatusForbidden, stsDenied).URL}
		},
	}
	iss, issuerCert := standintest.TLSIssuer(t, nil)
	issuerURL := iss.URL()
	for name, env := range tests {
		t.Run(name, func(t *testing.T) {
			testenv.IsolateAWSEnv(t)
			vars := env(t)
			vars["AWS_REGION"], vars["POD_NAMESPACE"], vars["POD_SERVICE_ACCOUNT"] = "us-east-1", "images", "other"
			for k, v := range vars {
				t.Setenv(k, v)
			}
			cfg, err := config.LoadDefaultConfig(context.Background())
			if err != nil {
				t.Fatal(err)
			}
			var out bytes.Buffer
			logger := slog.New(slog.NewJSONHandler(&out, nil))
			reg := prometheus.NewRegistry()
			w, err := creds.NewWatcher(cfg, logger, reg)
			if err != nil {
				t.Fatal(err)
			}
			e, err := diagnose.NewExplainer(os.Getenv, []creds.Mode{creds.ModeIRSA, creds.ModePodIdentity}, reg)
			if err != nil {
				t.Fatal(err)
			}
			w.Explain(e.Watch)
			id, cerr := w.Check(context.Background())
			logger.Warn("cycle failed", append([]any{"err", cerr}, anys(e.Failed("credentials", cerr))...)...)
			l := diagnose.Credentials(context.Background(), diagnose.Inputs{Env: os.Getenv, Identity: id, Err: cerr})
			if err := l.WriteText(&out); err != nil {
				t.Fatal(err)
			}
			// The token examined, as `uploader check` prints it: its
			// signature is checked against a real issuer on loopback (the
			// canary's kid is not among its keys).
			exams := diagnose.ExamineTokens(context.Background(), os.Getenv, examineAt(t, issuerURL, issuerCert), id.Mode)
			for _, e := range exams {
				if err := e.WriteText(&out, time.Now()); err != nil {
					t.Fatal(err)
				}
				if e.Issuer.Result != issuer.NotVerified || !e.Diagnoses.Has(diagnose.TokenSignatureInvalid) {
					t.Errorf("token examined: got %s (%s), want not verified and token_signature_invalid", e.Issuer.Result, e.Issuer.Reason)
				}
			}
			if len(exams) == 0 {
				t.Error("no token examined")
			}
			want := map[string]diagnose.Name{"irsa refused": diagnose.TokenRejected, "irsa wrong audience": diagnose.TokenAudience,
				"pod identity refused": diagnose.TokenRejected, "static keys shadow irsa": diagnose.CredentialsShadowed}[name]
			if !l.Has(want) || !l.Has(diagnose.TokenSubject) {
				t.Errorf("diagnoses: got %v, want %s and token_subject among them", l.Names(), want)
			}
			mfs, err := reg.Gather()
			if err != nil {
				t.Fatal(err)
			}
			enc := expfmt.NewEncoder(&out, expfmt.NewFormat(expfmt.TypeTextPlain))
			for _, mf := range mfs {
				if err := enc.Encode(mf); err != nil {
					t.Fatal(err)
				}
			}
			s := out.String()
			testenv.NoSecrets(t, s, canaryDiag)
			if !strings.Contains(s, "uploader_diagnosis_info") || !strings.Contains(s, "diagnosis ") {
				t.Errorf("output shows no diagnosis:\n%s", s)
			}
		})
	}
}

func anys(attrs []slog.Attr) []any {
	out := make([]any, len(attrs))
	for i, a := range attrs {
		out[i] = a
	}
	return out
}

// examineAt returns an Examiner that checks every token against the issuer
// at url (whatever its iss says), trusting cert.
func examineAt(t *testing.T, url string, cert *x509.Certificate) diagnose.Examiner {
	t.Helper()
	c := standintest.IssuerClient(t, cert)
	return examineFunc(func(ctx context.Context, token []byte, _ string) issuer.Report { return c.Examine(ctx, token, url) })
}

// examineFunc is a func-typed Examiner.
type examineFunc func(ctx context.Context, token []byte, iss string) issuer.Report

func (f examineFunc) Examine(ctx context.Context, token []byte, iss string) issuer.Report {
	return f(ctx, token, iss)
}
