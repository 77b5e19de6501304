package issuer_test

import (
	"bytes"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"errors"
	"io/fs"
	"math/big"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/eks-least-privilege/uploader/internal/issuer"
)

// writeCA writes a self-signed CA certificate valid from notBefore to
// notAfter to a file and returns its path.
func writeCA(t *testing.T, cn string, notBefore, notAfter time.Time) string {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: cn, Organization: []string{"e2e"}},
		NotBefore: notBefore, NotAfter: notAfter, IsCA: true, BasicConstraintsValid: true,
		KeyUsage: x509.KeyUsageCertSign,
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, key.Public(), key)
	if err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(t.TempDir(), "ca.crt")
	if err := os.WriteFile(path, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}), 0o644); err != nil {
		t.Fatal(err)
	}
	return path
}

func TestReadCA(t *testing.T) {
	now := time.Date(2026, 12, 3, 12, 0, 0, 0, time.UTC)
	tests := []struct {
		name                string
		notBefore, notAfter time.Time
		want                string
	}{
		{"valid", now.Add(-24 * time.Hour), now.Add(365*24*time.Hour + time.Hour), "(365 days left)"},
		{"expired", now.Add(-48 * time.Hour), now.Add(-24*time.Hour - time.Hour), "EXPIRED"},
		{"not yet valid", now.Add(time.Hour), now.Add(48 * time.Hour), "NOT YET VALID"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			path := writeCA(t, "kubernetes", tt.notBefore, tt.notAfter)
			ca, err := issuer.ReadCA(path)
			if err != nil {
				t.Fatal(err)
			}
			if len(ca.Certs) != 1 {
				t.Fatalf("got %d certificates, want 1", len(ca.Certs))
			}
			c := ca.Certs[0]
			if c.Subject != "CN=kubernetes,O=e2e" || c.Issuer != c.Subject || !c.IsCA {
				t.Errorf("got subject %q issuer %q ca %t, want CN=kubernetes,O=e2e self-signed CA", c.Subject, c.Issuer, c.IsCA)
			}
			var out bytes.Buffer
			if err := ca.WriteText(&out, now); err != nil {
				t.Fatal(err)
			}
			for _, want := range []string{path, "subject:", "CN=kubernetes,O=e2e", tt.notAfter.UTC().Truncate(time.Second).Format(time.RFC3339), tt.want} {
				if !strings.Contains(out.String(), want) {
					t.Errorf("got\n%s\nwant it to contain %q", out.String(), want)
				}
			}
		})
	}
}

func TestReadCAErrors(t *testing.T) {
	_, err := issuer.ReadCA(filepath.Join(t.TempDir(), "absent"))
	if !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("absent file: got %v, want fs.ErrNotExist", err)
	}
	notPEM := filepath.Join(t.TempDir(), "ca.crt")
	if err := os.WriteFile(notPEM, []byte("not a certificate\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	if _, err := issuer.ReadCA(notPEM); !errors.Is(err, issuer.ErrNoCertificate) {
		t.Errorf("not PEM: got %v, want ErrNoCertificate", err)
	}
}
