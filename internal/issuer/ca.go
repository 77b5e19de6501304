package issuer

import (
	"crypto/x509"
	"encoding/pem"
	"errors"
	"fmt"
	"io"
	"math"
	"os"
	"time"
)

// CAPath is where Kubernetes mounts the cluster CA in a pod, next to the
// service account's own token (when automountServiceAccountToken is not
// false).
const CAPath = "/var/run/secrets/kubernetes.io/serviceaccount/ca.crt"

// maxCABytes bounds the CA bundle read: a few certificates.
const maxCABytes = 1 << 20

// ErrNoCertificate means a CA file holds no PEM certificate.
var ErrNoCertificate = errors.New("no certificate")

// Certificate describes one certificate as
// `openssl x509 -noout -subject -issuer -dates` does.
type Certificate struct {
	Subject, Issuer     string // RFC 2253 distinguished names
	NotBefore, NotAfter time.Time
	IsCA                bool
}

// DaysLeft is the number of whole days from now until NotAfter, negative
// once it has passed.
func (c Certificate) DaysLeft(now time.Time) int {
	return int(math.Floor(c.NotAfter.Sub(now).Hours() / 24))
}

// CA is the cluster CA bundle a pod sees.
type CA struct {
	Path  string
	Certs []Certificate
	certs []*x509.Certificate // parsed, for Roots
}

// ReadCA reads the PEM bundle at path (CAPath in a pod). An absent file
// gives an error wrapping fs.ErrNotExist.
func ReadCA(path string) (CA, error) {
	f, err := os.Open(path)
	if err != nil {
		return CA{}, fmt.Errorf("read cluster ca: %w", err)
	}
	defer f.Close()
	data, err := io.ReadAll(io.LimitReader(f, maxCABytes+1))
	if err != nil {
		return CA{}, fmt.Errorf("read cluster ca %s: %w", path, err)
	}
	if len(data) > maxCABytes {
		return CA{}, fmt.Errorf("read cluster ca %s: larger than %d bytes", path, maxCABytes)
	}
	ca := CA{Path: path}
	for block, rest := pem.Decode(data); block != nil; block, rest = pem.Decode(rest) {
		if block.Type != "CERTIFICATE" {
			continue
		}
		cert, err := x509.ParseCertificate(block.Bytes)
		if err != nil {
			return CA{}, fmt.Errorf("read cluster ca %s: certificate %d: %w", path, len(ca.Certs)+1, err)
		}
		ca.certs = append(ca.certs, cert)
		ca.Certs = append(ca.Certs, Certificate{
			Subject: cert.Subject.String(), Issuer: cert.Issuer.String(),
			NotBefore: cert.NotBefore.UTC(), NotAfter: cert.NotAfter.UTC(), IsCA: cert.IsCA,
		})
	}
	if len(ca.Certs) == 0 {
		return CA{}, fmt.Errorf("read cluster ca %s: %w", path, ErrNoCertificate)
	}
	return ca, nil
}

// Roots returns the system's roots with the bundle's certificates added,
// to fetch an issuer that is either public (EKS's) or the cluster's own.
// A zero CA (none mounted) gives the system's roots alone.
func (ca CA) Roots() *x509.CertPool {
	pool, err := x509.SystemCertPool()
	if err != nil || pool == nil {
		pool = x509.NewCertPool()
	}
	for _, c := range ca.certs {
		pool.AddCert(c)
	}
	return pool
}
