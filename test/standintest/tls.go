package standintest

import (
	"crypto/x509"
	"net"
	"net/http"
	"net/http/httptest"
	"testing"

	"github.com/eks-least-privilege/uploader/internal/fetch"
	"github.com/eks-least-privilege/uploader/internal/issuer"
	"github.com/eks-least-privilege/uploader/standin"
)

// TLSIssuer serves a stand-in OIDC issuer over TLS on loopback, under the
// https URL its tokens name (as a cluster's issuer is), until cleanup. wrap,
// when not nil, returns the handler that serves instead of the issuer (to
// make it lie about itself). It returns the issuer and the server's
// certificate, which a client must trust.
func TLSIssuer(t testing.TB, wrap func(*standin.Issuer) http.Handler) (*standin.Issuer, *x509.Certificate) {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	iss, err := standin.NewIssuer("https://"+l.Addr().String(), standin.IssuerOptions{})
	if err != nil {
		l.Close()
		t.Fatal(err)
	}
	var h http.Handler = iss
	if wrap != nil {
		h = wrap(iss)
	}
	srv := httptest.NewUnstartedServer(h)
	srv.Listener.Close()
	srv.Listener = l
	srv.StartTLS()
	t.Cleanup(srv.Close)
	return iss, srv.Certificate()
}

// IssuerClient returns a client of internal/issuer over fetch's guarded
// HTTP client that trusts cert (a TLSIssuer's), closed at cleanup.
func IssuerClient(t testing.TB, cert *x509.Certificate) *issuer.Client {
	t.Helper()
	pool := x509.NewCertPool()
	pool.AddCert(cert)
	hc, err := fetch.HTTPClient(fetch.Options{RootCAs: pool})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(hc.CloseIdleConnections)
	return issuer.New(hc, issuer.Options{})
}
