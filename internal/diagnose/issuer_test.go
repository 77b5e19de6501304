package diagnose

import (
	"errors"
	"testing"

	"github.com/eks-least-privilege/uploader/internal/creds"
	"github.com/eks-least-privilege/uploader/internal/fetch"
	"github.com/eks-least-privilege/uploader/internal/issuer"
)

const testIssuer = "https://oidc.eks.eu-west-1.amazonaws.com/id/0123456789ABCDEF"

func TestSignature(t *testing.T) {
	key := &issuer.Key{ID: "k1", Algorithm: "RS256", Type: "RSA"}
	tests := []struct {
		name     string
		report   issuer.Report
		want     []Name
		contains []string
	}{
		{"verified", issuer.Report{Issuer: testIssuer, KeyID: "k1", Algorithm: "RS256", Result: issuer.Verified, Key: key}, nil, nil},
		{"tampered claim", issuer.Report{Issuer: testIssuer, KeyID: "k1", Algorithm: "RS256", Result: issuer.NotVerified, Key: key,
			Reason: "the RS256 signature does not match key k1 (RS256, RSA)"},
			[]Name{TokenSignatureInvalid}, []string{creds.EnvWebIdentityTokenFile, "kid k1, alg RS256", testIssuer, "does not match key k1", "not the kubelet's projected token"}},
		{"unknown kid", issuer.Report{Issuer: testIssuer, KeyID: "old", Algorithm: "RS256", Result: issuer.NotVerified,
			Reason: "the issuer publishes no key with kid old (its keys: k1 (RS256, RSA))"},
			[]Name{TokenSignatureInvalid}, []string{"no key with kid old", "rotated its signing keys"}},
		{"issuer unreachable", issuer.Report{Issuer: testIssuer, Result: issuer.Unchecked, Reason: "the discovery document could not be read",
			Err: errors.Join(fetch.ErrBlockedAddress)}, nil, nil},
		{"http issuer", issuer.Report{Issuer: "http://127.0.0.1:8080", Result: issuer.Unchecked, Reason: "not an https URL"}, nil, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			wantNames(t, Signature(tt.report, creds.EnvWebIdentityTokenFile), tt.want, tt.contains...)
		})
	}
}

func TestIssuerAgreement(t *testing.T) {
	disc := testIssuer + "/.well-known/openid-configuration"
	tests := []struct {
		name         string
		report       issuer.Report
		roleProvider string
		want         []Name
		contains     []string
	}{
		{"all agree", issuer.Report{Issuer: testIssuer, DiscoveryURL: disc, DiscoveryIssuer: testIssuer},
			"oidc.eks.eu-west-1.amazonaws.com/id/0123456789ABCDEF", nil, nil},
		{"role provider unknown", issuer.Report{Issuer: testIssuer, DiscoveryURL: disc, DiscoveryIssuer: testIssuer}, "", nil, nil},
		{"discovery not read", issuer.Report{Issuer: testIssuer, Result: issuer.Unchecked}, "", nil, nil},
		{"issuer that lies about itself", issuer.Report{Issuer: testIssuer, DiscoveryURL: disc, DiscoveryIssuer: "https://kubernetes.default.svc"}, "",
			[]Name{IssuerMismatch}, []string{`iss is "` + testIssuer + `"`, `names issuer "https://kubernetes.default.svc"`, "--service-account-issuer"}},
		{"trailing slash", issuer.Report{Issuer: testIssuer, DiscoveryURL: disc, DiscoveryIssuer: testIssuer + "/"}, "",
			[]Name{IssuerMismatch}, []string{"character for character"}},
		{"role trusts another cluster", issuer.Report{Issuer: testIssuer, DiscoveryURL: disc, DiscoveryIssuer: testIssuer},
			"oidc.eks.eu-west-1.amazonaws.com/id/FEDCBA9876543210", []Name{IssuerMismatch},
			[]string{`the role trusts the OIDC provider "oidc.eks.eu-west-1.amazonaws.com/id/FEDCBA9876543210"`, "uploader policy trust"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			wantNames(t, IssuerAgreement(tt.report, tt.roleProvider), tt.want, tt.contains...)
		})
	}
}
