package standin

import (
	"context"
	"encoding/json"
	"errors"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	jose "github.com/go-jose/go-jose/v4"
	"github.com/go-jose/go-jose/v4/jwt"

	"github.com/eks-least-privilege/uploader/test/testenv"
)

func fakeMint(ctx context.Context) (Credentials, error) {
	return Credentials{
		AccessKeyID: "ASIAFAKE", SecretAccessKey: "secret", SessionToken: "session",
		Expiration: time.Date(2030, 1, 2, 3, 4, 5, 0, time.UTC),
	}, nil
}

func TestListenRefusesNonLoopback(t *testing.T) {
	tests := []struct {
		name  string
		addr  string
		allow bool
		want  error
	}{
		{"ipv4 loopback", "127.0.0.1:0", false, nil},
		{"ipv6 loopback", "[::1]:0", false, nil},
		{"localhost", "localhost:0", false, nil},
		{"all interfaces", ":0", false, ErrNotLoopback},
		{"unspecified", "0.0.0.0:0", false, ErrNotLoopback},
		{"other address", "192.0.2.1:0", false, ErrNotLoopback},
		{"unspecified allowed", "0.0.0.0:0", true, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ln, err := Listen(tt.addr, ListenOptions{AllowNonLoopback: tt.allow})
			if ln != nil {
				ln.Close()
			}
			if tt.want == nil && err != nil && strings.Contains(err.Error(), "cannot assign") {
				t.Skipf("address not available here: %v", err)
			}
			if !errors.Is(err, tt.want) {
				t.Errorf("Listen(%q) error: got %v, want %v", tt.addr, err, tt.want)
			}
		})
	}
}

func do(t *testing.T, h http.Handler, method, path string, header map[string]string) *httptest.ResponseRecorder {
	t.Helper()
	r := httptest.NewRequest(method, path, nil)
	for k, v := range header {
		r.Header.Set(k, v)
	}
	w := httptest.NewRecorder()
	h.ServeHTTP(w, r)
	return w
}

func TestIMDSRequiresSessionToken(t *testing.T) {
	s := NewIMDS(fakeMint, IMDSOptions{RoleName: "node"})
	tok := do(t, s, http.MethodPut, "/latest/api/token", map[string]string{IMDSTokenTTLHeader: "60"})
	if tok.Code != http.StatusOK {
		t.Fatalf("PUT token: got status %d, want 200", tok.Code)
	}
	token := tok.Body.String()
	tests := []struct {
		name   string
		method string
		path   string
		header map[string]string
		want   int
		body   string
	}{
		{"token without ttl", http.MethodPut, "/latest/api/token", nil, http.StatusBadRequest, ""},
		{"token ttl too long", http.MethodPut, "/latest/api/token", map[string]string{IMDSTokenTTLHeader: "21601"}, http.StatusBadRequest, ""},
		{"token by GET", http.MethodGet, "/latest/api/token", map[string]string{IMDSTokenTTLHeader: "60"}, http.StatusMethodNotAllowed, ""},
		{"token through proxy", http.MethodPut, "/latest/api/token", map[string]string{IMDSTokenTTLHeader: "60", "X-Forwarded-For": "10.0.0.1"}, http.StatusForbidden, ""},
		{"IMDSv1 role list", http.MethodGet, "/latest/meta-data/iam/security-credentials/", nil, http.StatusUnauthorized, ""},
		{"unknown token", http.MethodGet, "/latest/meta-data/iam/security-credentials/", map[string]string{IMDSTokenHeader: "nope"}, http.StatusUnauthorized, ""},
		{"role list", http.MethodGet, "/latest/meta-data/iam/security-credentials/", map[string]string{IMDSTokenHeader: token}, http.StatusOK, "node"},
		{"credentials", http.MethodGet, "/latest/meta-data/iam/security-credentials/node", map[string]string{IMDSTokenHeader: token}, http.StatusOK, `"Code":"Success"`},
		{"other role", http.MethodGet, "/latest/meta-data/iam/security-credentials/other", map[string]string{IMDSTokenHeader: token}, http.StatusNotFound, ""},
		{"iam info", http.MethodGet, "/latest/meta-data/iam/info", map[string]string{IMDSTokenHeader: token}, http.StatusOK, "instance-profile/node"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			w := do(t, s, tt.method, tt.path, tt.header)
			if w.Code != tt.want {
				t.Errorf("%s %s: got status %d, want %d", tt.method, tt.path, w.Code, tt.want)
			}
			if !strings.Contains(w.Body.String(), tt.body) {
				t.Errorf("%s %s: got body %q, want it to contain %q", tt.method, tt.path, w.Body.String(), tt.body)
			}
		})
	}
}

func TestIMDSCredentialsShape(t *testing.T) {
	s := NewIMDS(fakeMint, IMDSOptions{})
	token := do(t, s, http.MethodPut, "/latest/api/token", map[string]string{IMDSTokenTTLHeader: "60"}).Body.String()
	w := do(t, s, http.MethodGet, "/latest/meta-data/iam/security-credentials/uploader-node-role", map[string]string{IMDSTokenHeader: token})
	var got map[string]string
	if err := json.Unmarshal(w.Body.Bytes(), &got); err != nil {
		t.Fatalf("decode %q: %v", w.Body.String(), err)
	}
	want := map[string]string{
		"Code": "Success", "Type": "AWS-HMAC", "AccessKeyId": "ASIAFAKE", "SecretAccessKey": "secret",
		"Token": "session", "Expiration": "2030-01-02T03:04:05Z",
	}
	for k, v := range want {
		if got[k] != v {
			t.Errorf("%s: got %q, want %q", k, got[k], v)
		}
	}
	if _, err := time.Parse(time.RFC3339, got["LastUpdated"]); err != nil {
		t.Errorf("LastUpdated: got %q, want RFC 3339: %v", got["LastUpdated"], err)
	}
}

func TestIMDSHopLimitHangsTokenRequest(t *testing.T) {
	s := NewIMDS(fakeMint, IMDSOptions{})
	s.SetHopLimitExceeded(true)
	srv := httptest.NewServer(s)
	t.Cleanup(srv.Close)
	req, _ := http.NewRequest(http.MethodPut, srv.URL+"/latest/api/token", nil)
	req.Header.Set(IMDSTokenTTLHeader, "60")
	client := &http.Client{Timeout: 300 * time.Millisecond}
	resp, err := client.Do(req)
	if err == nil {
		resp.Body.Close()
		t.Fatalf("PUT token with hop limit exceeded: got status %d, want a timeout", resp.StatusCode)
	}
}

func TestIssuerServesDiscoveryAndVerifiableTokens(t *testing.T) {
	srv := httptest.NewUnstartedServer(nil)
	url := "http://" + srv.Listener.Addr().String()
	iss, err := NewIssuer(url, IssuerOptions{})
	if err != nil {
		t.Fatal(err)
	}
	srv.Config.Handler = iss
	srv.Start()
	t.Cleanup(srv.Close)

	var doc struct {
		Issuer  string `json:"issuer"`
		JWKSURI string `json:"jwks_uri"`
	}
	getJSON(t, url+DiscoveryPath, &doc)
	if doc.Issuer != url {
		t.Errorf("issuer: got %q, want %q", doc.Issuer, url)
	}
	var keys jose.JSONWebKeySet
	getJSON(t, doc.JWKSURI, &keys)

	sa := ServiceAccount{Namespace: "demo", Name: "uploader"}
	raw, err := iss.Sign(sa, AudienceSTS, time.Hour)
	if err != nil {
		t.Fatal(err)
	}
	tok, err := jwt.ParseSigned(raw, []jose.SignatureAlgorithm{jose.RS256})
	if err != nil {
		t.Fatal(err)
	}
	var claims Claims
	if err := tok.Claims(keys.Keys[0].Key, &claims); err != nil {
		t.Fatalf("verify with served JWKS: %v", err)
	}
	if err := claims.Validate(jwt.Expected{Issuer: url, AnyAudience: jwt.Audience{AudienceSTS}, Time: time.Now()}); err != nil {
		t.Errorf("validate claims: %v", err)
	}
	if got, want := claims.Subject, "system:serviceaccount:demo:uploader"; got != want {
		t.Errorf("sub: got %q, want %q", got, want)
	}
	if got, want := claims.Kubernetes.ServiceAccount.Name, "uploader"; got != want {
		t.Errorf("kubernetes.io serviceaccount: got %q, want %q", got, want)
	}
	if got, want := tok.Headers[0].KeyID, keys.Keys[0].KeyID; got != want {
		t.Errorf("kid: got %q, want %q", got, want)
	}

	iss.Revoke()
	raw, err = iss.Sign(sa, AudienceSTS, time.Hour)
	if err != nil {
		t.Fatal(err)
	}
	tok, _ = jwt.ParseSigned(raw, []jose.SignatureAlgorithm{jose.RS256})
	if err := tok.Claims(keys.Keys[0].Key, &claims); err == nil {
		t.Error("token signed while revoked: got valid signature, want invalid")
	}
}

func getJSON(t *testing.T, url string, v any) {
	t.Helper()
	resp, err := http.Get(url)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("GET %s: got status %d, want 200", url, resp.StatusCode)
	}
	if err := json.NewDecoder(resp.Body).Decode(v); err != nil {
		t.Fatalf("GET %s: %v", url, err)
	}
}

func TestMinIORoleARN(t *testing.T) {
	// What `mc idp openid ls` showed for client id sts.amazonaws.com.
	got, want := MinIORoleARN(AudienceSTS, ""), "arn:minio:iam:::role/oxnUw3DAuQF1uggjXGxI2AmW8IA"
	if got != want {
		t.Errorf("MinIORoleARN: got %q, want %q", got, want)
	}
	log := "API: http://127.0.0.1:9000\nIAM Roles: \x1b[1m" + got + "\x1b[22m\n"
	if arn, ok := FindRoleARN(log); !ok || arn != got {
		t.Errorf("FindRoleARN: got %q, %v, want %q, true", arn, ok, got)
	}
}

func TestWriteTokenFileLikeKubelet(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "token")
	for _, token := range []string{"first", "second", "third"} {
		if err := WriteTokenFile(path, []byte(token)); err != nil {
			t.Fatal(err)
		}
		got, err := os.ReadFile(path)
		if err != nil {
			t.Fatal(err)
		}
		if string(got) != token {
			t.Errorf("token: got %q, want %q", got, token)
		}
		if target, _ := os.Readlink(path); target != filepath.Join("..data", "token") {
			t.Errorf("token symlink: got %q, want %q", target, "..data/token")
		}
		data, _ := os.Readlink(filepath.Join(dir, "..data"))
		if !strings.HasPrefix(data, "..20") {
			t.Errorf("..data symlink: got %q, want a timestamped directory", data)
		}
	}
	entries, _ := os.ReadDir(dir)
	if len(entries) != 3 {
		var names []string
		for _, e := range entries {
			names = append(names, e.Name())
		}
		t.Errorf("entries: got %v, want token, ..data and one timestamped directory", names)
	}
}

func TestTokenWriterRewritesBeforeExpiry(t *testing.T) {
	path := filepath.Join(t.TempDir(), "token")
	n := 0
	w := NewTokenWriter(path, func() (string, time.Duration, error) {
		n++
		return strings.Repeat("t", n), 100 * time.Millisecond, nil
	}, TokenWriterOptions{})
	if err := w.Write(); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 450*time.Millisecond)
	defer cancel()
	if err := w.Run(ctx); err != nil {
		t.Fatal(err)
	}
	// Rewritten every 80ms: about 5 more writes in 450ms.
	if got := w.Writes(); got < 4 || got > 7 {
		t.Errorf("writes: got %d, want 4 to 7", got)
	}
}

func TestTokenWriterRefusesNewline(t *testing.T) {
	w := NewTokenWriter(filepath.Join(t.TempDir(), "token"), func() (string, time.Duration, error) {
		return "token\n", time.Hour, nil
	}, TokenWriterOptions{})
	if err := w.Write(); err == nil {
		t.Error("Write of a token ending in a newline: got nil error, want one")
	}
}

func TestPodIdentityAuthorization(t *testing.T) {
	path := filepath.Join(t.TempDir(), "token")
	if err := WriteTokenFile(path, []byte("old")); err != nil {
		t.Fatal(err)
	}
	p := NewPodIdentity(fakeMint, path, PodIdentityOptions{})
	if w := do(t, p, http.MethodGet, PodIdentityPath, map[string]string{"Authorization": "old"}); w.Code != http.StatusOK {
		t.Fatalf("old token before rotation: got %d, want 200", w.Code)
	}
	if err := WriteTokenFile(path, []byte("new")); err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name  string
		path  string
		token string
		want  int
	}{
		{"no token", PodIdentityPath, "", http.StatusUnauthorized},
		{"wrong token", PodIdentityPath, "forged", http.StatusForbidden},
		{"current token", PodIdentityPath, "new", http.StatusOK},
		{"previous token", PodIdentityPath, "old", http.StatusOK},
		{"other path", "/v1/other", "new", http.StatusNotFound},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			h := map[string]string{}
			if tt.token != "" {
				h["Authorization"] = tt.token
			}
			w := do(t, p, http.MethodGet, tt.path, h)
			if w.Code != tt.want {
				t.Errorf("got status %d, want %d", w.Code, tt.want)
			}
			if tt.want == http.StatusOK {
				var got map[string]string
				_ = json.Unmarshal(w.Body.Bytes(), &got)
				for _, k := range []string{"AccessKeyId", "SecretAccessKey", "Token", "AccountId", "Expiration"} {
					if got[k] == "" {
						t.Errorf("%s: got empty, want a value", k)
					}
				}
			}
		})
	}
}

func TestLogsCarryNoSecrets(t *testing.T) {
	// One locked buffer behind one logger: the handlers log from the server's
	// goroutines while the test reads.
	var logs testenv.LockedBuffer
	logger := slog.New(slog.NewTextHandler(&logs, nil))
	st, err := StartStack(StackOptions{TokenDir: t.TempDir(), Logger: logger})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = st.Close(context.Background()) })
	st.UseMinter(nil)
	// Serve credentials from the fake through the real handlers.
	imds := NewIMDS(fakeMint, IMDSOptions{Logger: logger})
	pod := NewPodIdentity(fakeMint, st.PodToken.Path(), PodIdentityOptions{Logger: logger})
	token := do(t, imds, http.MethodPut, "/latest/api/token", map[string]string{IMDSTokenTTLHeader: "60"}).Body.String()
	do(t, imds, http.MethodGet, "/latest/meta-data/iam/security-credentials/uploader-node-role", map[string]string{IMDSTokenHeader: token})
	podToken, _ := os.ReadFile(st.PodToken.Path())
	do(t, pod, http.MethodGet, PodIdentityPath, map[string]string{"Authorization": string(podToken)})
	irsaToken, _ := os.ReadFile(st.IRSAToken.Path())
	resp, err := http.Get(st.URL + "/nothing")
	if err == nil {
		io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
	}
	testenv.NoSecrets(t, logs.String(), "secret", "session", "ASIAFAKE", token, string(podToken), string(irsaToken))
	if !strings.Contains(logs.String(), "credentials served") {
		t.Errorf("logs: got %q, want credential serving logged", logs.String())
	}
}
