// Package testenv is what every test needs around it, whatever it talks to:
// an AWS environment that asks nothing outside 127.0.0.0/8, free loopback
// ports, random names, a buffer goroutines may write while the test reads it,
// and the rule that an integration test which cannot run skips outside CI and
// fails in it.
package testenv

import (
	"crypto/rand"
	"encoding/hex"
	"net"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"
)

// Unavailable skips the test with msg, or fails it when CI=true: in CI an
// integration test that cannot run is a failure, never a silent skip.
func Unavailable(t testing.TB, msg string) {
	t.Helper()
	if os.Getenv("CI") == "true" {
		t.Fatalf("CI=true and integration test cannot run: %s", msg)
	}
	t.Skip(msg)
}

// IsolateAWSEnv clears every AWS_* variable for the test and points the SDK
// at no shared files and no IMDS, so nothing outside 127.0.0.0/8 is asked.
func IsolateAWSEnv(t testing.TB) {
	t.Helper()
	for _, kv := range os.Environ() {
		k, _, _ := strings.Cut(kv, "=")
		if strings.HasPrefix(k, "AWS_") {
			t.Setenv(k, "")
			os.Unsetenv(k)
		}
	}
	dir := t.TempDir()
	t.Setenv("AWS_CONFIG_FILE", filepath.Join(dir, "config"))
	t.Setenv("AWS_SHARED_CREDENTIALS_FILE", filepath.Join(dir, "credentials"))
	t.Setenv("AWS_EC2_METADATA_DISABLED", "true")
	// Any service a test does not point somewhere gets a dead loopback port,
	// never AWS: STS, for one, is asked for the caller identity.
	t.Setenv("AWS_ENDPOINT_URL", "http://127.0.0.1:9")
}

// FreePort returns a free 127.0.0.1:port address.
func FreePort(t testing.TB) string {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatalf("free port: %v", err)
	}
	defer l.Close()
	return l.Addr().String()
}

// RandomHex returns n random bytes in hex.
func RandomHex(n int) string {
	b := make([]byte, n)
	_, _ = rand.Read(b)
	return hex.EncodeToString(b)
}

// LockedBuffer collects output that goroutines or a process write while a
// test reads it.
type LockedBuffer struct {
	mu sync.Mutex // guards b
	b  strings.Builder
}

func (b *LockedBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.b.Write(p)
}

// String returns what was written so far.
func (b *LockedBuffer) String() string {
	if b == nil {
		return ""
	}
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.b.String()
}

// SilentAddr returns a 127.0.0.1:port that accepts connections and never
// answers, as an endpoint behind a firewall that drops packets looks once
// connected; the connections are closed when the test ends.
func SilentAddr(t testing.TB) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatalf("silent listener: %v", err)
	}
	var (
		mu    sync.Mutex // guards conns
		conns []net.Conn
	)
	done := make(chan struct{})
	go func() {
		defer close(done)
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			mu.Lock()
			conns = append(conns, c)
			mu.Unlock()
		}
	}()
	t.Cleanup(func() {
		ln.Close()
		<-done
		mu.Lock()
		defer mu.Unlock()
		for _, c := range conns {
			c.Close()
		}
	})
	return ln.Addr().String()
}

// WriteFile writes content to a file called name in a fresh temporary
// directory, readable by its owner only (as a projected token or a shared
// config file is), and returns its path.
func WriteFile(t testing.TB, name, content string) string {
	t.Helper()
	p := filepath.Join(t.TempDir(), name)
	if err := os.WriteFile(p, []byte(content), 0o600); err != nil {
		t.Fatal(err)
	}
	return p
}

// WaitReturn waits up to limit for what (a run, a server, a process) to
// send its result on done, and fails the test unless that is nil and in
// time: a clean stop returns nil. logs, when not nil, is what it wrote,
// shown with a failure.
func WaitReturn(t testing.TB, done <-chan error, limit time.Duration, what string, logs *LockedBuffer) {
	t.Helper()
	show := func() string {
		if s := logs.String(); s != "" {
			return "\n" + s
		}
		return ""
	}
	select {
	case err := <-done:
		if err != nil {
			t.Fatalf("%s: got %v, want nil%s", what, err, show())
		}
	case <-time.After(limit):
		t.Fatalf("%s did not return within %s%s", what, limit, show())
	}
}

// WaitFor polls cond every 100ms and fails the test when it is still false
// after limit; what names what the test waits for.
func WaitFor(t testing.TB, limit time.Duration, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(limit)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("waited %s for %s", limit, what)
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// NoSecrets fails the test when out (what the code under test printed,
// logged or exported) holds any of secrets, empty ones skipped, or what
// looks like a JWT: a token's encoded header, and so a raw token, begins
// "eyJ". A secret found is named by its length only.
func NoSecrets(t testing.TB, out string, secrets ...string) {
	t.Helper()
	for _, s := range secrets {
		if s != "" && strings.Contains(out, s) {
			t.Errorf("output holds a secret (%d characters) of this test", len(s))
		}
	}
	if strings.Contains(out, "eyJ") {
		t.Errorf("output holds what looks like a JWT (a token):\n%s", out)
	}
}
