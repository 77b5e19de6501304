package issuer_test

import (
	"bytes"
	"context"
	"crypto"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"encoding/base64"
	"encoding/json"
	"errors"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	jose "github.com/go-jose/go-jose/v4"
	"github.com/go-jose/go-jose/v4/jwt"

	"github.com/eks-least-privilege/uploader/internal/fetch"
	"github.com/eks-least-privilege/uploader/internal/issuer"
)

// testIssuer is an OIDC issuer on a loopback TLS server with keys the test
// makes: it serves its discovery document and key set, and signs tokens.
type testIssuer struct {
	srv  *httptest.Server
	url  string
	keys map[string]signingKey // by kid

	mu sync.Mutex // guards claimedIssuer and jwks, which tests change
	// claimedIssuer is the issuer its discovery document names; its own
	// URL unless a test makes it lie.
	claimedIssuer string
	// jwks, when set, replaces the key set handler.
	jwks http.HandlerFunc
}

func (ti *testIssuer) set(claimedIssuer string, jwks http.HandlerFunc) {
	ti.mu.Lock()
	defer ti.mu.Unlock()
	ti.claimedIssuer, ti.jwks = claimedIssuer, jwks
}

func (ti *testIssuer) get() (string, http.HandlerFunc) {
	ti.mu.Lock()
	defer ti.mu.Unlock()
	return ti.claimedIssuer, ti.jwks
}

type signingKey struct {
	alg jose.SignatureAlgorithm
	key crypto.Signer
}

func newTestIssuer(t *testing.T) *testIssuer {
	t.Helper()
	rsaKey, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		t.Fatal(err)
	}
	ecKey, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	ti := &testIssuer{keys: map[string]signingKey{
		"rsa-1": {jose.RS256, rsaKey},
		"ec-1":  {jose.ES256, ecKey},
	}}
	mux := http.NewServeMux()
	mux.HandleFunc("GET "+issuer.DiscoveryPath, func(w http.ResponseWriter, r *http.Request) {
		claimed, _ := ti.get()
		_ = json.NewEncoder(w).Encode(map[string]any{
			"issuer": claimed, "jwks_uri": ti.url + "/openid/v1/jwks",
			"response_types_supported": []string{"id_token"}, "subject_types_supported": []string{"public"},
			"id_token_signing_alg_values_supported": []string{"RS256", "ES256"},
		})
	})
	mux.HandleFunc("GET /openid/v1/jwks", func(w http.ResponseWriter, r *http.Request) {
		// As the kube-apiserver does: a key set is application/jwk-set+json,
		// and a client that does not accept it gets 406.
		if !strings.Contains(r.Header.Get("Accept"), "application/jwk-set+json") {
			http.Error(w, "not acceptable", http.StatusNotAcceptable)
			return
		}
		if _, jwks := ti.get(); jwks != nil {
			jwks(w, r)
			return
		}
		var set jose.JSONWebKeySet
		for kid, k := range ti.keys {
			set.Keys = append(set.Keys, jose.JSONWebKey{Key: k.key.Public(), KeyID: kid, Algorithm: string(k.alg), Use: "sig"})
		}
		_ = json.NewEncoder(w).Encode(set)
	})
	ti.srv = httptest.NewTLSServer(mux)
	t.Cleanup(ti.srv.Close)
	ti.url = ti.srv.URL
	ti.set(ti.url, nil)
	return ti
}

// sign returns a token of the issuer signed with the key kid (the token's
// kid header is headerKid).
func (ti *testIssuer) sign(t *testing.T, kid, headerKid string) string {
	t.Helper()
	k := ti.keys[kid]
	signer, err := jose.NewSigner(jose.SigningKey{Algorithm: k.alg, Key: k.key},
		(&jose.SignerOptions{}).WithType("JWT").WithHeader("kid", headerKid))
	if err != nil {
		t.Fatal(err)
	}
	now := time.Now()
	token, err := jwt.Signed(signer).Claims(jwt.Claims{
		Issuer: ti.url, Subject: "system:serviceaccount:uploader:uploader", Audience: jwt.Audience{"sts.amazonaws.com"},
		IssuedAt: jwt.NewNumericDate(now), Expiry: jwt.NewNumericDate(now.Add(time.Hour)),
	}).Serialize()
	if err != nil {
		t.Fatal(err)
	}
	return token
}

// client returns an issuer client over fetch's guarded HTTP client that
// trusts the test server's certificate.
func (ti *testIssuer) client(t *testing.T, opts fetch.Options, maxBytes int64) *issuer.Client {
	t.Helper()
	pool := x509.NewCertPool()
	pool.AddCert(ti.srv.Certificate())
	opts.RootCAs = pool
	hc, err := fetch.HTTPClient(opts)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(hc.CloseIdleConnections)
	return issuer.New(hc, issuer.Options{MaxBytes: maxBytes})
}

// tamper changes the sub claim of a token and keeps its signature.
func tamper(t *testing.T, token string) string {
	t.Helper()
	parts := strings.Split(token, ".")
	payload, err := base64.RawURLEncoding.DecodeString(parts[1])
	if err != nil {
		t.Fatal(err)
	}
	changed := bytes.Replace(payload, []byte("uploader:uploader"), []byte("uploader:admin"), 1)
	if bytes.Equal(changed, payload) {
		t.Fatal("tamper: sub not found in the payload")
	}
	parts[1] = base64.RawURLEncoding.EncodeToString(changed)
	return strings.Join(parts, ".")
}

func TestExamine(t *testing.T) {
	ti := newTestIssuer(t)
	c := ti.client(t, fetch.Options{}, 0)
	tests := []struct {
		name    string
		token   string
		result  issuer.Result
		key     string // the kid of the key checked against, "" for none
		alg     string
		because string // in Reason
	}{
		{"RS256", ti.sign(t, "rsa-1", "rsa-1"), issuer.Verified, "rsa-1", "RS256", ""},
		{"ES256", ti.sign(t, "ec-1", "ec-1"), issuer.Verified, "ec-1", "ES256", ""},
		{"tampered claim", tamper(t, ti.sign(t, "rsa-1", "rsa-1")), issuer.NotVerified, "rsa-1", "RS256", "does not match key rsa-1"},
		{"tampered ES256 claim", tamper(t, ti.sign(t, "ec-1", "ec-1")), issuer.NotVerified, "ec-1", "ES256", "does not match key ec-1"},
		{"unknown kid", ti.sign(t, "rsa-1", "rotated-away"), issuer.NotVerified, "", "RS256", "no key with kid rotated-away"},
		{"kid of another key", ti.sign(t, "rsa-1", "ec-1"), issuer.NotVerified, "ec-1", "RS256", "key ec-1 is for ES256, the token says RS256"},
		{"not a JWT", "not-a-token", issuer.NotVerified, "", "", "not a signed JWT"},
		{"alg none", unsigned(t, ti.url), issuer.NotVerified, "", "", `algorithm "none" is not one STS accepts`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := c.Examine(context.Background(), []byte(tt.token), ti.url)
			if r.Result != tt.result {
				t.Fatalf("got %s (%s, %v), want %s", r.Result, r.Reason, r.Err, tt.result)
			}
			if got := keyID(r.Key); got != tt.key {
				t.Errorf("got key %q, want %q", got, tt.key)
			}
			if r.Algorithm != tt.alg {
				t.Errorf("got alg %q, want %q", r.Algorithm, tt.alg)
			}
			if !strings.Contains(r.Reason, tt.because) {
				t.Errorf("got reason %q, want it to contain %q", r.Reason, tt.because)
			}
			if r.DiscoveryIssuer != "" && r.DiscoveryIssuer != ti.url {
				t.Errorf("got discovery issuer %q, want %q", r.DiscoveryIssuer, ti.url)
			}
			if tt.result == issuer.Verified && len(r.Keys) != 2 {
				t.Errorf("got %d published keys, want 2: %v", len(r.Keys), r.Keys)
			}
		})
	}
}

// unsigned returns a token with alg none.
func unsigned(t *testing.T, iss string) string {
	t.Helper()
	enc := base64.RawURLEncoding.EncodeToString
	return enc([]byte(`{"alg":"none","typ":"JWT"}`)) + "." + enc([]byte(`{"iss":"`+iss+`","sub":"x"}`)) + "."
}

func keyID(k *issuer.Key) string {
	if k == nil {
		return ""
	}
	return k.ID
}

// TestIssuerThatLies: the discovery document names another issuer than the
// one it is served by; the report says what it claims, for issuer_mismatch.
func TestIssuerThatLies(t *testing.T) {
	ti := newTestIssuer(t)
	const claimed = "https://oidc.eks.us-east-1.amazonaws.com/id/OTHER"
	ti.set(claimed, nil)
	r := ti.client(t, fetch.Options{}, 0).Examine(context.Background(), []byte(ti.sign(t, "rsa-1", "rsa-1")), ti.url)
	if r.DiscoveryIssuer != claimed {
		t.Fatalf("got discovery issuer %q, want %q", r.DiscoveryIssuer, claimed)
	}
	var out bytes.Buffer
	if err := r.WriteText(&out); err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(out.String(), "differs from the token's iss") {
		t.Errorf("got\n%s\nwant the discovery issuer shown as differing", out.String())
	}
}

func TestUnreachable(t *testing.T) {
	ti := newTestIssuer(t)
	token := []byte(ti.sign(t, "rsa-1", "rsa-1"))
	released := make(chan struct{})
	t.Cleanup(func() { close(released) })
	tests := []struct {
		name  string
		jwks  http.HandlerFunc
		iss   string
		opts  fetch.Options
		max   int64
		check func(error) bool
	}{
		{
			name: "slow key set",
			jwks: func(w http.ResponseWriter, r *http.Request) {
				select { // answers after the client gave up
				case <-released:
				case <-r.Context().Done():
				}
			},
			opts:  fetch.Options{Timeout: 300 * time.Millisecond},
			check: isTimeout,
		},
		{
			name: "oversized key set, declared",
			jwks: func(w http.ResponseWriter, r *http.Request) {
				w.Header().Set("Content-Length", "4096")
				_, _ = w.Write(bytes.Repeat([]byte(" "), 4096))
			},
			max:   1024,
			check: func(err error) bool { return errors.Is(err, fetch.ErrTooLarge) },
		},
		{
			name: "oversized key set, chunked",
			jwks: func(w http.ResponseWriter, r *http.Request) {
				_, _ = w.Write([]byte(`{"keys":[`))
				w.(http.Flusher).Flush() // no Content-Length: chunked
				for range 64 {
					_, _ = w.Write(bytes.Repeat([]byte(" "), 1024))
				}
			},
			max:   1024,
			check: func(err error) bool { return errors.Is(err, fetch.ErrTooLarge) },
		},
		{
			name:  "key set is not JSON",
			jwks:  func(w http.ResponseWriter, r *http.Request) { _, _ = w.Write([]byte("<html>")) },
			check: func(err error) bool { return errors.Is(err, issuer.ErrDocument) },
		},
		{
			name:  "key set answers 403",
			jwks:  func(w http.ResponseWriter, r *http.Request) { http.Error(w, "forbidden", http.StatusForbidden) },
			check: func(err error) bool { return errors.Is(err, fetch.ErrStatus) },
		},
		{
			name:  "issuer on a metadata address",
			iss:   "https://169.254.169.254",
			check: func(err error) bool { return errors.Is(err, fetch.ErrBlockedAddress) },
		},
		{
			name:  "issuer refuses connections",
			iss:   "https://" + closedPort(t),
			check: func(err error) bool { var op *net.OpError; return errors.As(err, &op) },
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ti.set(ti.url, tt.jwks)
			iss := tt.iss
			if iss == "" {
				iss = ti.url
			}
			r := ti.client(t, tt.opts, tt.max).Examine(context.Background(), token, iss)
			if r.Result != issuer.Unchecked || !r.Unreachable() {
				t.Fatalf("got %s, unreachable %t (%s), want could not be checked, unreachable", r.Result, r.Unreachable(), r.Reason)
			}
			if !tt.check(r.Err) {
				t.Errorf("got error %v, not the one expected", r.Err)
			}
			var out bytes.Buffer
			_ = r.WriteText(&out)
			if !strings.Contains(out.String(), "STS fetches the same discovery document and keys") {
				t.Errorf("got\n%s\nwant why it matters", out.String())
			}
		})
	}
}

func isTimeout(err error) bool {
	var ne net.Error
	return errors.As(err, &ne) && ne.Timeout()
}

// closedPort returns a loopback address nothing listens on.
func closedPort(t *testing.T) string {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := l.Addr().String()
	l.Close()
	return addr
}

// TestNotChecked: no https issuer, no request.
func TestNotChecked(t *testing.T) {
	ti := newTestIssuer(t)
	token := []byte(ti.sign(t, "rsa-1", "rsa-1"))
	for name, iss := range map[string]string{
		"no iss":    "",
		"http":      strings.Replace(ti.url, "https://", "http://", 1),
		"not a url": "kubernetes/serviceaccount",
	} {
		t.Run(name, func(t *testing.T) {
			r := ti.client(t, fetch.Options{}, 0).Examine(context.Background(), token, iss)
			if r.Result != issuer.Unchecked || r.Unreachable() || r.DiscoveryURL != "" {
				t.Fatalf("got %s, unreachable %t, discovery %q, want could not be checked without a request", r.Result, r.Unreachable(), r.DiscoveryURL)
			}
			if r.KeyID != "rsa-1" || r.Algorithm != "RS256" {
				t.Errorf("got kid %q alg %q, want rsa-1 RS256", r.KeyID, r.Algorithm)
			}
		})
	}
}

// TestNoSecretInText is a canary: the report's text never holds the token,
// its signature, or any of its base64url parts.
func TestNoSecretInText(t *testing.T) {
	ti := newTestIssuer(t)
	c := ti.client(t, fetch.Options{}, 0)
	good := ti.sign(t, "rsa-1", "rsa-1")
	for _, token := range []string{good, tamper(t, good), ti.sign(t, "ec-1", "gone")} {
		var out bytes.Buffer
		r := c.Examine(context.Background(), []byte(token), ti.url)
		_ = r.WriteText(&out)
		for i, part := range strings.Split(token, ".") {
			if strings.Contains(out.String(), part) {
				t.Errorf("part %d of the token is in the output:\n%s", i, out.String())
			}
		}
		if strings.Contains(out.String(), "eyJ") {
			t.Errorf("something base64url JSON is in the output:\n%s", out.String())
		}
	}
}
