package policy_test

import (
	"context"
	"path/filepath"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"

	"github.com/eks-least-privilege/uploader/internal/creds"
	"github.com/eks-least-privilege/uploader/internal/policy"
	"github.com/eks-least-privilege/uploader/internal/token"
	"github.com/eks-least-privilege/uploader/standin"
)

// TestRoleTrustFillsInputs: what is given wins, then the downward API,
// then the token's claims; the account comes from AWS_ROLE_ARN. The mode and
// account are given or found here, so the SDK is never asked.
func TestRoleTrustFillsInputs(t *testing.T) {
	const issuer = "https://oidc.eks.eu-west-1.amazonaws.com/id/EXAMPLE"
	file := filepath.Join(t.TempDir(), "token")
	next := func() (string, time.Duration, error) {
		iss, err := standin.NewIssuer(issuer, standin.IssuerOptions{})
		if err != nil {
			return "", 0, err
		}
		jwt, err := iss.Sign(standin.ServiceAccount{Namespace: "images", Name: "uploader"}, token.AudienceSTS, time.Hour)
		return jwt, time.Hour, err
	}
	// Written the way the kubelet writes a projected token (a symlink to a
	// timestamped directory).
	if err := standin.NewTokenWriter(file, next, standin.TokenWriterOptions{}).Write(); err != nil {
		t.Fatal(err)
	}
	irsa := map[string]string{creds.EnvWebIdentityTokenFile: file, creds.EnvRoleARN: "arn:aws:iam::111122223333:role/uploader"}
	downward := map[string]string{creds.EnvWebIdentityTokenFile: file, creds.EnvRoleARN: "arn:aws:iam::111122223333:role/uploader",
		creds.EnvPodNamespace: "prod", creds.EnvPodServiceAccount: "writer"}
	tests := []struct {
		name string
		env  map[string]string
		in   policy.TrustInputs
		want policy.IRSATrust
	}{
		{"from the token", irsa, policy.TrustInputs{Mode: creds.ModeIRSA},
			policy.IRSATrust{Account: "111122223333", Issuer: issuer, Namespace: "images", ServiceAccount: "uploader"}},
		{"downward API over the token", downward, policy.TrustInputs{Mode: creds.ModeIRSA},
			policy.IRSATrust{Account: "111122223333", Issuer: issuer, Namespace: "prod", ServiceAccount: "writer"}},
		{"given over both", downward, policy.TrustInputs{Mode: creds.ModeIRSA, Namespace: "ns", ServiceAccount: "sa", Account: "444455556666", Issuer: "https://issuer.example/x"},
			policy.IRSATrust{Account: "444455556666", Issuer: "https://issuer.example/x", Namespace: "ns", ServiceAccount: "sa"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			env := func(k string) string { return tt.env[k] }
			got, err := policy.RoleTrust(context.Background(), aws.Config{}, env, tt.in)
			if err != nil {
				t.Fatal(err)
			}
			want, err := tt.want.Trust()
			if err != nil {
				t.Fatal(err)
			}
			if string(got) != string(want) {
				t.Errorf("got\n%s\nwant (%+v)\n%s", got, tt.want, want)
			}
		})
	}
}

func TestRoleTrustRefusesOtherModes(t *testing.T) {
	in := policy.TrustInputs{Mode: creds.ModeStatic, Account: "111122223333"}
	if doc, err := policy.RoleTrust(context.Background(), aws.Config{}, func(string) string { return "" }, in); err == nil {
		t.Errorf("got %s, want an error for mode static", doc)
	}
}
