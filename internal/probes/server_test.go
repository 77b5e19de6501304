package probes

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"runtime"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/eks-least-privilege/uploader/test/testenv"
)

type alwaysHealthy struct{}

func (alwaysHealthy) Alive(time.Time) bool { return true }
func (alwaysHealthy) Ready(time.Time) bool { return true }

// probesHandler is what the uploader serves.
var probesHandler = Handler(prometheus.NewRegistry(), alwaysHealthy{}, time.Now)

// bigAnswer writes 64 MiB, more than socket buffers take from a client that
// reads nothing.
var bigAnswer = http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
	chunk := make([]byte, 1<<20)
	for range 64 {
		if _, err := w.Write(chunk); err != nil {
			return
		}
	}
})

// start serves h with limits on a loopback port until the returned cancel;
// done yields Serve's result.
func start(t *testing.T, h http.Handler, limits Limits, logs io.Writer) (addr string, cancel context.CancelFunc, done <-chan error) {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	srv := NewServer(h, limits, slog.New(slog.NewJSONHandler(logs, nil)))
	ctx, cancel := context.WithCancel(context.Background())
	errc := make(chan error, 1)
	stopped := make(chan struct{})
	go func() {
		defer close(stopped)
		errc <- srv.Serve(ctx, ln)
	}()
	t.Cleanup(func() {
		cancel()
		<-stopped
	})
	return ln.Addr().String(), cancel, errc
}

// rawRequest opens a TCP connection and writes req, as a hostile or slow
// client would, without an HTTP client's goroutines.
func rawRequest(t *testing.T, addr, req string) net.Conn {
	t.Helper()
	c, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	if _, err := io.WriteString(c, req); err != nil {
		t.Fatal(err)
	}
	return c
}

// announce is a request with a body under the 256 KiB that net/http reads
// after the handler to reuse the connection (above it, it closes at once).
const announce = "GET /metrics HTTP/1.1\r\nHost: x\r\nContent-Length: 100000\r\n\r\n"

// trickle sends a request whose body comes one byte at a time, forever.
func trickle(t *testing.T, addr string) net.Conn {
	t.Helper()
	c := rawRequest(t, addr, announce)
	go func() {
		for {
			if _, err := c.Write([]byte{'x'}); err != nil {
				return
			}
			time.Sleep(50 * time.Millisecond)
		}
	}()
	return c
}

func TestServeClosesSlowClientsAtShutdown(t *testing.T) {
	tests := []struct {
		name    string
		handler http.Handler
		client  func(t *testing.T, addr string) net.Conn
	}{
		{"request body trickled", probesHandler, trickle},
		{"request body announced, never sent", probesHandler, func(t *testing.T, addr string) net.Conn {
			return rawRequest(t, addr, announce)
		}},
		{"headers trickled", probesHandler, func(t *testing.T, addr string) net.Conn {
			return rawRequest(t, addr, "GET /metrics HTTP/1.1\r\nHost: x\r\nX-Slow: ")
		}},
		{"answer never read", bigAnswer, func(t *testing.T, addr string) net.Conn {
			return rawRequest(t, addr, "GET / HTTP/1.1\r\nHost: x\r\n\r\n")
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var logs testenv.LockedBuffer
			// Timeouts longer than the shutdown: the shutdown has to
			// close the connection itself.
			limits := Limits{ReadHeader: time.Minute, Read: time.Minute, Write: time.Minute, Shutdown: 300 * time.Millisecond}
			addr, cancel, done := start(t, tt.handler, limits, &logs)
			c := tt.client(t, addr)
			// Past net/http's 500ms wait before closing a connection
			// whose body it gave up on: the client holds it now.
			time.Sleep(time.Second)
			cancel()
			// A slow client must not fail the exit.
			testenv.WaitReturn(t, done, 10*time.Second, "Serve after the shutdown began", &logs)
			c.SetReadDeadline(time.Now().Add(5 * time.Second))
			if _, err := io.Copy(io.Discard, c); err != nil && !errors.Is(err, syscall.ECONNRESET) {
				t.Errorf("client connection: got %v, want it closed by the server", err)
			}
			if !strings.Contains(logs.String(), `"msg":"metrics server shutdown timed out, connections closed"`) {
				t.Errorf("logs lack the warning:\n%s", logs.String())
			}
		})
	}
}

// TestServerReapsIdleConnections opens keep-alive connections that stay
// idle after one request, and connections that never send one: each holds a
// server goroutine until the server closes it.
func TestServerReapsIdleConnections(t *testing.T) {
	const keepAlive, silent = 300, 200
	before := runtime.NumGoroutine()
	addr, _, _ := start(t, probesHandler, Limits{ReadHeader: time.Second, Idle: time.Second}, io.Discard)
	var conns []net.Conn
	for range keepAlive {
		c := rawRequest(t, addr, "GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n")
		resp, err := http.ReadResponse(bufio.NewReader(c), nil)
		if err != nil {
			t.Fatal(err)
		}
		io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
		conns = append(conns, c)
	}
	for range silent {
		conns = append(conns, rawRequest(t, addr, ""))
	}
	// The server accepts the last connections asynchronously: wait until it
	// holds one goroutine per connection before watching them go (less the
	// same slack of 10 as below, for goroutines of earlier tests still ending).
	held := before + keepAlive + silent - 10
	for wait := time.Now().Add(5 * time.Second); runtime.NumGoroutine() < held && time.Now().Before(wait); {
		time.Sleep(10 * time.Millisecond)
	}
	if n := runtime.NumGoroutine(); n < held {
		t.Fatalf("goroutines with %d connections open: got %d, want at least %d", len(conns), n, held)
	}
	deadline := time.Now().Add(15 * time.Second)
	for runtime.NumGoroutine() > before+10 && time.Now().Before(deadline) {
		time.Sleep(100 * time.Millisecond)
	}
	if n := runtime.NumGoroutine(); n > before+10 {
		t.Errorf("goroutines 15s after the connections went idle: got %d, want about %d", n, before)
	}
	for i, c := range conns {
		c.SetReadDeadline(time.Now().Add(time.Second))
		if _, err := c.Read(make([]byte, 1)); !errors.Is(err, io.EOF) {
			t.Fatalf("connection %d: got %v, want closed by the server (EOF)", i, err)
		}
	}
}

func TestServerRefusesLargeHeaders(t *testing.T) {
	addr, _, _ := start(t, probesHandler, Limits{}, io.Discard)
	req := fmt.Sprintf("GET /healthz HTTP/1.1\r\nHost: x\r\nX-Big: %s\r\n\r\n", strings.Repeat("a", 64<<10))
	c := rawRequest(t, addr, req)
	resp, err := http.ReadResponse(bufio.NewReader(c), nil)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusRequestHeaderFieldsTooLarge {
		t.Errorf("status: got %d, want %d", resp.StatusCode, http.StatusRequestHeaderFieldsTooLarge)
	}
}

func TestNewServerDefaults(t *testing.T) {
	s := NewServer(http.NotFoundHandler(), Limits{}, slog.New(slog.DiscardHandler)).http
	for _, tt := range []struct {
		name string
		got  time.Duration
		want time.Duration
	}{
		{"ReadHeaderTimeout", s.ReadHeaderTimeout, 5 * time.Second},
		{"ReadTimeout", s.ReadTimeout, 10 * time.Second},
		{"WriteTimeout", s.WriteTimeout, 10 * time.Second},
		{"IdleTimeout", s.IdleTimeout, 30 * time.Second},
	} {
		if tt.got != tt.want {
			t.Errorf("%s: got %v, want %v", tt.name, tt.got, tt.want)
		}
	}
	if s.MaxHeaderBytes != 16<<10 {
		t.Errorf("MaxHeaderBytes: got %d, want %d", s.MaxHeaderBytes, 16<<10)
	}
}
