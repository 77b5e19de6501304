package main

import (
	"bytes"
	"encoding/base64"
	"encoding/pem"
	"strings"
	"testing"
	"time"

	"github.com/eks-least-privilege/uploader/standin"
	"github.com/eks-least-privilege/uploader/test/standintest"
	"github.com/eks-least-privilege/uploader/test/testenv"
)

// TestCheckExaminesToken runs `uploader check` in an IRSA pod whose issuer
// is served over https on loopback by a certificate that only the mounted
// cluster CA vouches for, as the kube-apiserver's own issuer is: the token's
// claims, its issuer, the signature and the CA are shown, before the
// refusal of STS (here a dead port), and the token never is.
func TestCheckExaminesToken(t *testing.T) {
	iss, cert := standintest.TLSIssuer(t, nil)
	ca := testenv.WriteFile(t, "ca.crt", string(pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: cert.Raw})))
	saved := clusterCAPath
	clusterCAPath = ca
	t.Cleanup(func() { clusterCAPath = saved })

	token, err := iss.Sign(standin.ServiceAccount{Namespace: "images", Name: "uploader"}, standin.AudienceSTS, time.Hour)
	if err != nil {
		t.Fatal(err)
	}
	parts := strings.Split(token, ".")
	payload, _ := base64.RawURLEncoding.DecodeString(parts[1])
	tampered := parts[0] + "." + base64.RawURLEncoding.EncodeToString(bytes.Replace(payload, []byte(`"images"`), []byte(`"kube-system"`), 1)) + "." + parts[2]
	tests := []struct {
		name  string
		token string
		want  []string
	}{
		{"projected token", token, []string{
			"token:", "(irsa)", "subject:", "system:serviceaccount:images:uploader (namespace images, service account uploader)",
			"expires:", "key:", "alg RS256", "discovery issuer:", iss.URL() + " (the token's iss)",
			"signature:", "verified with key", "role must trust:", "arn:aws:iam::111122223333:oidc-provider/" + strings.TrimPrefix(iss.URL(), "https://"),
			"cluster ca:", ca + " (1 certificate)", "O=Acme Co", "days left)",
		}},
		{"one claim changed", tampered, []string{
			"namespace kube-system", "NOT verified: the RS256 signature does not match key", "diagnosis token_signature_invalid: the token in AWS_WEB_IDENTITY_TOKEN_FILE",
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			testenv.IsolateAWSEnv(t)
			path := testenv.WriteFile(t, "token", tt.token)
			for k, v := range map[string]string{
				"AWS_WEB_IDENTITY_TOKEN_FILE": path, "AWS_ROLE_ARN": "arn:aws:iam::111122223333:role/uploader",
				"AWS_REGION": "eu-west-1", "S3_BUCKET_NAME": "images", "IMAGE_SOURCE_URL": "builtin:",
				"POD_NAMESPACE": "images", "POD_SERVICE_ACCOUNT": "uploader",
			} {
				t.Setenv(k, v)
			}
			out, err := runFor(t, time.Minute, "check")
			if err == nil || !strings.Contains(err.Error(), "resolve credentials") {
				t.Errorf("got %v, want the credentials unresolved (STS is a dead port)", err)
			}
			for _, w := range tt.want {
				if !strings.Contains(out, w) {
					t.Errorf("check output lacks %q:\n%s", w, out)
				}
			}
			for i, part := range strings.Split(tt.token, ".") {
				if strings.Contains(out, part) {
					t.Errorf("part %d of the token is in the output:\n%s", i, out)
				}
			}
		})
	}
}
