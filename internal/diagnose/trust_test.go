package diagnose

import (
	"context"
	"path/filepath"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"

	"github.com/eks-least-privilege/uploader/internal/creds"
	"github.com/eks-least-privilege/uploader/internal/policy"
	"github.com/eks-least-privilege/uploader/standin"
)

// TestTrustPolicyFillsInputs: what is given wins, then the downward API,
// then the token's claims; the account comes from AWS_ROLE_ARN. The mode and
// account are given or found here, so the SDK is never asked.
func TestTrustPolicyFillsInputs(t *testing.T) {
	file := writeToken(t, filepath.Join(t.TempDir(), "token"), time.Now(), standin.ServiceAccount{Namespace: "images", Name: "uploader"}, AudienceSTS)
	const issuer = "https://oidc.eks.eu-west-1.amazonaws.com/id/EXAMPLE"
	irsa := map[string]string{EnvWebIdentityTokenFile: file, EnvRoleARN: "arn:aws:iam::111122223333:role/uploader"}
	downward := map[string]string{EnvWebIdentityTokenFile: file, EnvRoleARN: "arn:aws:iam::111122223333:role/uploader",
		EnvPodNamespace: "prod", EnvPodServiceAccount: "writer"}
	tests := []struct {
		name string
		env  map[string]string
		in   TrustInputs
		want policy.IRSATrust
	}{
		{"from the token", irsa, TrustInputs{Mode: creds.ModeIRSA},
			policy.IRSATrust{Account: "111122223333", Issuer: issuer, Namespace: "images", ServiceAccount: "uploader"}},
		{"downward API over the token", downward, TrustInputs{Mode: creds.ModeIRSA},
			policy.IRSATrust{Account: "111122223333", Issuer: issuer, Namespace: "prod", ServiceAccount: "writer"}},
		{"given over both", downward, TrustInputs{Mode: creds.ModeIRSA, Namespace: "ns", ServiceAccount: "sa", Account: "444455556666", Issuer: "https://issuer.example/x"},
			policy.IRSATrust{Account: "444455556666", Issuer: "https://issuer.example/x", Namespace: "ns", ServiceAccount: "sa"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := TrustPolicy(context.Background(), aws.Config{}, envOf(tt.env), tt.in)
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

func TestTrustPolicyRefusesOtherModes(t *testing.T) {
	in := TrustInputs{Mode: creds.ModeStatic, Account: "111122223333"}
	if doc, err := TrustPolicy(context.Background(), aws.Config{}, envOf(nil), in); err == nil {
		t.Errorf("got %s, want an error for mode static", doc)
	}
}
