package fetch

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"image"
	"image/color"
	"image/gif"
	"image/jpeg"
	"image/png"
	"io"
	"math"
	"math/rand/v2"
	"net"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"
	"time"
)

// webpBlob is a minimal lossless 1x1 WebP: RIFF header, WEBP, VP8L chunk.
var webpBlob = []byte("RIFF\x1a\x00\x00\x00WEBPVP8L\x0d\x00\x00\x00\x2f\x00\x00\x00\x10\x07\x10\x11\x11\x88\x88\xfe\x07\x00")

// testImage returns a small, valid image (but for WebP, a minimal blob)
// with noise, so that it is larger than the sniffed head (512 bytes) and
// exercises the replay of the head.
func testImage(t testing.TB, format string) []byte {
	t.Helper()
	const side = 64
	pal := color.Palette{color.Black, color.White, color.RGBA{R: 0xff, A: 0xff}, color.RGBA{B: 0xff, A: 0xff}}
	img := image.NewPaletted(image.Rect(0, 0, side, side), pal)
	noise := rand.New(rand.NewPCG(1, 2))
	for i := range img.Pix {
		img.Pix[i] = uint8(noise.IntN(len(pal)))
	}
	var buf bytes.Buffer
	var err error
	switch format {
	case "png":
		err = png.Encode(&buf, img)
	case "jpeg":
		err = jpeg.Encode(&buf, img, nil)
	case "gif":
		err = gif.Encode(&buf, img, nil)
	case "webp":
		buf.Write(webpBlob)
	default:
		t.Fatalf("unknown format %q", format)
	}
	if err != nil {
		t.Fatalf("encode %s: %v", format, err)
	}
	return buf.Bytes()
}

// serve starts an httptest server on loopback and returns its URL.
func serve(t testing.TB, h http.Handler) string {
	t.Helper()
	srv := httptest.NewServer(h)
	t.Cleanup(srv.Close)
	return srv.URL
}

// newTestClient returns a client that never uses a proxy from the
// environment, so the dial control is what the test exercises.
func newTestClient(t testing.TB, sourceURL string, opts Options) *Client {
	t.Helper()
	c, err := New(sourceURL, opts)
	if err != nil {
		t.Fatalf("New(%q): %v", sourceURL, err)
	}
	if c.transport != nil {
		c.transport.Proxy = nil
		t.Cleanup(c.transport.CloseIdleConnections)
	}
	return c
}

// fetchAll fetches and reads the whole body. atFetch reports whether a
// non-nil error came from Fetch rather than from reading the body.
func fetchAll(ctx context.Context, c *Client) (img *Image, data []byte, atFetch bool, err error) {
	img, err = c.Fetch(ctx)
	if err != nil {
		return nil, nil, true, err
	}
	defer img.Body.Close()
	data, err = io.ReadAll(img.Body)
	return img, data, false, err
}

// serving is a table's handler: bodyHandler's, whatever the test.
func serving(data []byte, chunked bool, claimed string) func(*testing.T) http.Handler {
	return func(*testing.T) http.Handler { return bodyHandler(data, chunked, claimed) }
}

// bodyHandler serves data, chunked or with a Content-Length, under a
// Content-Type header that may lie.
func bodyHandler(data []byte, chunked bool, claimed string) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		if claimed != "" {
			w.Header().Set("Content-Type", claimed)
		}
		if !chunked {
			w.Header().Set("Content-Length", strconv.Itoa(len(data)))
			w.Write(data)
			return
		}
		// Flushing before the end, with no Content-Length, makes the
		// server send chunks; split so the sniffed head spans two chunks.
		half := min(len(data)/2, 300)
		w.Write(data[:half])
		w.(http.Flusher).Flush()
		w.Write(data[half:])
	}
}

// trickling returns a handler that sends head at once, then rest a byte
// every 50ms until the client goes away.
func trickling(head, rest []byte) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		w.Write(head)
		w.(http.Flusher).Flush()
		for _, b := range rest {
			select {
			case <-r.Context().Done():
				return
			case <-time.After(50 * time.Millisecond):
			}
			w.Write([]byte{b})
			w.(http.Flusher).Flush()
		}
	}
}

// silent sends nothing, not even headers, for 10s or until the client goes
// away.
func silent(w http.ResponseWriter, r *http.Request) {
	select {
	case <-r.Context().Done():
	case <-time.After(10 * time.Second):
	}
}

// redirecting returns a handler that redirects to with code.
func redirecting(to string, code int) func(*testing.T) http.Handler {
	return func(*testing.T) http.Handler { return http.RedirectHandler(to, code) }
}

// answering returns a handler that answers status with body.
func answering(status int, body []byte) func(*testing.T) http.Handler {
	return func(*testing.T) http.Handler {
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			w.WriteHeader(status)
			w.Write(body)
		})
	}
}

// rawHandler hijacks the connection, writes raw and closes it: the way to
// send a response that breaks HTTP framing.
func rawHandler(t testing.TB, raw []byte) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		conn, buf, err := w.(http.Hijacker).Hijack()
		if err != nil {
			t.Errorf("hijack: %v", err)
			return
		}
		defer conn.Close()
		buf.Write(raw)
		buf.Flush()
	}
}

func TestFetchImages(t *testing.T) {
	for _, format := range []string{"jpeg", "png", "gif", "webp"} {
		data := testImage(t, format)
		wantType, wantExt := "image/"+format, format
		if format == "jpeg" {
			wantExt = "jpg"
		}
		for _, chunked := range []bool{false, true} {
			for _, claimed := range []string{"", "text/html; charset=utf-8", "image/jpeg", "application/octet-stream"} {
				name := fmt.Sprintf("%s/chunked=%t/claimed=%q", format, chunked, claimed)
				t.Run(name, func(t *testing.T) {
					url := serve(t, bodyHandler(data, chunked, claimed))
					c := newTestClient(t, url+"/img", Options{})
					img, got, _, err := fetchAll(t.Context(), c)
					if err != nil {
						t.Fatalf("got error %v, want nil", err)
					}
					if img.ContentType != wantType {
						t.Errorf("got ContentType %q, want %q", img.ContentType, wantType)
					}
					if img.Ext != wantExt {
						t.Errorf("got Ext %q, want %q", img.Ext, wantExt)
					}
					wantSize := int64(len(data))
					if chunked {
						wantSize = -1
					}
					if img.Size != wantSize {
						t.Errorf("got Size %d, want %d", img.Size, wantSize)
					}
					if !bytes.Equal(got, data) {
						t.Errorf("got %d bytes, want the %d bytes served", len(got), len(data))
					}
				})
			}
		}
	}
}

func TestFetchTLS(t *testing.T) {
	data := testImage(t, "jpeg")
	short := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Length", strconv.Itoa(len(data)))
		w.Write(data[:len(data)/2])
	})
	tests := []struct {
		name    string
		http2   bool
		handler http.Handler
		wantErr error
	}{
		{"http1", false, bodyHandler(data, false, "text/plain"), nil},
		{"http2", true, bodyHandler(data, false, "text/plain"), nil},
		{"http2 chunked", true, bodyHandler(data, true, "text/plain"), nil},
		{"http2 body shorter than declared", true, short, ErrTruncated},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			srv := httptest.NewUnstartedServer(tt.handler)
			srv.EnableHTTP2 = tt.http2
			srv.StartTLS()
			t.Cleanup(srv.Close)
			c := newTestClient(t, srv.URL, Options{})
			c.transport.TLSClientConfig = srv.Client().Transport.(*http.Transport).TLSClientConfig.Clone()
			img, got, _, err := fetchAll(t.Context(), c)
			if !errors.Is(err, tt.wantErr) {
				t.Fatalf("got error %v, want %v", err, tt.wantErr)
			}
			if err == nil && (img.ContentType != "image/jpeg" || !bytes.Equal(got, data)) {
				t.Errorf("got %s of %d bytes, want image/jpeg of %d bytes", img.ContentType, len(got), len(data))
			}
		})
	}
}

func TestFetchLimitsAndRedirects(t *testing.T) {
	data := testImage(t, "png")
	mux := http.NewServeMux()
	mux.Handle("/img", bodyHandler(data, true, "image/png"))
	mux.Handle("/r/{n}", http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		n, _ := strconv.Atoi(r.PathValue("n"))
		target := "/img"
		if n > 1 {
			target = "/r/" + strconv.Itoa(n-1)
		}
		http.Redirect(w, r, target, http.StatusFound)
	}))
	base := serve(t, mux)

	tests := []struct {
		name    string
		path    string
		opts    Options
		wantErr error
	}{
		{"body exactly MaxBytes", "/img", Options{MaxBytes: int64(len(data))}, nil},
		{"body one byte over MaxBytes", "/img", Options{MaxBytes: int64(len(data)) - 1}, ErrTooLarge},
		{"MaxBytes below sniff length", "/img", Options{MaxBytes: 100}, ErrTooLarge},
		{"MaxBytes at its largest", "/img", Options{MaxBytes: math.MaxInt64}, nil},
		{"redirects up to the default", "/r/5", Options{}, nil},
		{"one redirect past the default", "/r/6", Options{}, ErrRedirects},
		{"redirects up to MaxRedirects", "/r/2", Options{MaxRedirects: 2}, nil},
		{"negative MaxRedirects refuses any", "/r/1", Options{MaxRedirects: -1}, ErrRedirects},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := newTestClient(t, base+tt.path, tt.opts)
			_, got, _, err := fetchAll(t.Context(), c)
			if !errors.Is(err, tt.wantErr) {
				t.Fatalf("got error %v, want %v", err, tt.wantErr)
			}
			if err == nil && !bytes.Equal(got, data) {
				t.Errorf("got %d bytes, want the %d bytes served", len(got), len(data))
			}
		})
	}
}

func TestFetchRejects(t *testing.T) {
	png := testImage(t, "png")
	html := []byte("<!DOCTYPE html><html><head><title>503 Service Unavailable</title></head><body>try later</body></html>")

	tests := []struct {
		name    string
		handler func(t *testing.T) http.Handler
		path    string // default "/"
		opts    Options
		wantErr error
		atFetch bool   // the error must come from Fetch, before any body read
		inError string // the message must contain this
	}{
		{
			name:    "status 404",
			handler: func(*testing.T) http.Handler { return http.NotFoundHandler() },
			wantErr: ErrStatus, atFetch: true, inError: "status 404",
		},
		{
			name:    "status 500 with an image body",
			handler: answering(http.StatusInternalServerError, png),
			wantErr: ErrStatus, atFetch: true, inError: "status 500",
		},
		{
			name:    "status 206",
			handler: answering(http.StatusPartialContent, png),
			wantErr: ErrStatus, atFetch: true, inError: "status 206",
		},
		{
			name: "302 to itself",
			handler: func(*testing.T) http.Handler {
				return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
					http.Redirect(w, r, r.URL.Path, http.StatusFound)
				})
			},
			wantErr: ErrRedirects, atFetch: true,
		},
		{
			name: "redirect ping-pong",
			handler: func(*testing.T) http.Handler {
				return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
					next := "/a"
					if r.URL.Path == "/a" {
						next = "/b"
					}
					http.Redirect(w, r, next, http.StatusMovedPermanently)
				})
			},
			opts:    Options{MaxRedirects: 2},
			wantErr: ErrRedirects, atFetch: true,
		},
		{
			name:    "redirect to IMDS",
			handler: redirecting("http://169.254.169.254/latest/meta-data/", http.StatusFound),
			wantErr: ErrBlockedAddress, atFetch: true, inError: "169.254.169.254",
		},
		{
			name:    "redirect to IPv6 IMDS",
			handler: redirecting("http://[fd00:ec2::254]/latest/api/token", http.StatusTemporaryRedirect),
			wantErr: ErrBlockedAddress, atFetch: true, inError: "fd00:ec2::254",
		},
		{
			name:    "redirect to another scheme",
			handler: redirecting("file:///etc/passwd", http.StatusFound),
			wantErr: nil, atFetch: true, inError: "unsupported scheme",
		},
		{
			name:    "HTML error page as 200 image/jpeg",
			handler: serving(html, false, "image/jpeg"),
			wantErr: ErrNotImage, atFetch: true, inError: "text/html",
		},
		{
			name:    "HTML error page chunked",
			handler: serving(html, true, "image/png"),
			wantErr: ErrNotImage, atFetch: true,
		},
		{
			name:    "JSON",
			handler: serving([]byte(`{"error":"rate limited"}`), false, "image/gif"),
			wantErr: ErrNotImage, atFetch: true,
		},
		{
			name:    "plain text",
			handler: serving([]byte("BM is not a bitmap"), false, "image/bmp"),
			wantErr: ErrNotImage, atFetch: true,
		},
		{
			name:    "empty with content length",
			handler: serving(nil, false, "image/jpeg"),
			wantErr: ErrEmpty, atFetch: true,
		},
		{
			name: "empty chunked",
			handler: func(*testing.T) http.Handler {
				return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
					w.(http.Flusher).Flush()
				})
			},
			wantErr: ErrEmpty, atFetch: true,
		},
		{
			name: "truncated before any byte",
			handler: func(t *testing.T) http.Handler {
				return rawHandler(t, []byte("HTTP/1.1 200 OK\r\nContent-Length: 1000\r\n\r\n"))
			},
			wantErr: ErrTruncated, atFetch: true,
		},
		{
			name: "truncated too short to sniff",
			handler: func(t *testing.T) http.Handler {
				return rawHandler(t, []byte("HTTP/1.1 200 OK\r\nContent-Length: 1000\r\n\r\nab"))
			},
			wantErr: ErrTruncated, atFetch: true,
		},
		{
			name: "truncated within the sniffed head",
			handler: func(t *testing.T) http.Handler {
				head := fmt.Sprintf("HTTP/1.1 200 OK\r\nContent-Length: %d\r\n\r\n", len(png))
				return rawHandler(t, append([]byte(head), png[:100]...))
			},
			wantErr: ErrTruncated, atFetch: true,
		},
		{
			name: "truncated after the sniffed head",
			handler: func(t *testing.T) http.Handler {
				head := fmt.Sprintf("HTTP/1.1 200 OK\r\nContent-Length: %d\r\n\r\n", len(png))
				return rawHandler(t, append([]byte(head), png[:len(png)-10]...))
			},
			wantErr: ErrTruncated, atFetch: false,
		},
		{
			name: "chunked cut mid-chunk",
			handler: func(t *testing.T) http.Handler {
				raw := "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n" +
					fmt.Sprintf("%x\r\n", len(png)) + string(png[:len(png)-10])
				return rawHandler(t, []byte(raw))
			},
			wantErr: ErrTruncated, atFetch: false,
		},
		{
			name: "chunked cut between chunks",
			handler: func(t *testing.T) http.Handler {
				raw := "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n" +
					fmt.Sprintf("%x\r\n", len(png)) + string(png) + "\r\n"
				return rawHandler(t, []byte(raw))
			},
			wantErr: ErrTruncated, atFetch: false,
		},
		{
			name:    "oversize declared",
			handler: serving(png, false, "image/png"),
			opts:    Options{MaxBytes: int64(len(png)) - 1},
			wantErr: ErrTooLarge, atFetch: true, inError: strconv.Itoa(len(png)),
		},
		{
			name: "oversize chunked stream without end",
			handler: func(*testing.T) http.Handler {
				return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
					w.Write(png)
					chunk := make([]byte, 32<<10)
					for r.Context().Err() == nil {
						if _, err := w.Write(chunk); err != nil {
							return
						}
						w.(http.Flusher).Flush()
					}
				})
			},
			opts:    Options{MaxBytes: 256 << 10},
			wantErr: ErrTooLarge, atFetch: false,
		},
		{
			name: "oversize close-delimited stream without end",
			handler: func(t *testing.T) http.Handler {
				return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
					conn, buf, err := w.(http.Hijacker).Hijack()
					if err != nil {
						t.Errorf("hijack: %v", err)
						return
					}
					defer conn.Close()
					buf.WriteString("HTTP/1.1 200 OK\r\nConnection: close\r\n\r\n")
					buf.Write(png)
					chunk := make([]byte, 32<<10)
					for {
						if _, err := buf.Write(chunk); err != nil {
							return
						}
					}
				})
			},
			opts:    Options{MaxBytes: 256 << 10},
			wantErr: ErrTooLarge, atFetch: false,
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			base := serve(t, tt.handler(t))
			path := tt.path
			if path == "" {
				path = "/"
			}
			c := newTestClient(t, base+path, tt.opts)
			_, _, atFetch, err := fetchAll(t.Context(), c)
			if err == nil {
				t.Fatalf("got no error, want %v", tt.wantErr)
			}
			if tt.wantErr != nil && !errors.Is(err, tt.wantErr) {
				t.Fatalf("got error %v, want %v", err, tt.wantErr)
			}
			if atFetch != tt.atFetch {
				t.Errorf("got error from Fetch = %t, want %t (error %v)", atFetch, tt.atFetch, err)
			}
			if !strings.HasPrefix(err.Error(), "fetch ") {
				t.Errorf("got error %q, want it to start with the operation %q", err, "fetch ")
			}
			if !strings.Contains(err.Error(), tt.inError) {
				t.Errorf("got error %q, want it to contain %q", err, tt.inError)
			}
		})
	}
}

func TestFetchTimeouts(t *testing.T) {
	png := testImage(t, "png")
	tests := []struct {
		name    string
		handler http.HandlerFunc
		opts    Options
	}{
		{
			name:    "slow body",
			handler: trickling(png[:len(png)/2], png[len(png)/2:]),
			opts:    Options{Timeout: 200 * time.Millisecond},
		},
		{
			name:    "slow head",
			handler: trickling(nil, png),
			opts:    Options{Timeout: 200 * time.Millisecond},
		},
		{
			name:    "slow headers",
			handler: silent,
			opts:    Options{ResponseHeaderTimeout: 100 * time.Millisecond},
		},
		{
			name:    "slow headers under the whole-request timeout",
			handler: silent,
			opts:    Options{Timeout: 100 * time.Millisecond},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := newTestClient(t, serve(t, tt.handler), tt.opts)
			_, _, _, err := fetchAll(t.Context(), c)
			var netErr net.Error
			if !errors.As(err, &netErr) || !netErr.Timeout() {
				t.Fatalf("got error %v, want a net.Error timeout", err)
			}
			if !errors.Is(err, context.DeadlineExceeded) {
				t.Errorf("got error %v, want errors.Is context.DeadlineExceeded", err)
			}
		})
	}
}

func TestFetchContextCanceled(t *testing.T) {
	c := newTestClient(t, serve(t, bodyHandler(testImage(t, "gif"), false, "")), Options{})
	ctx, cancel := context.WithCancel(t.Context())
	cancel()
	_, err := c.Fetch(ctx)
	if !errors.Is(err, context.Canceled) {
		t.Fatalf("got error %v, want context.Canceled", err)
	}
}

func TestFetchBlockedDirect(t *testing.T) {
	for _, source := range []string{
		"http://169.254.169.254/latest/meta-data/",
		"http://169.254.170.23/v1/credentials",
		"http://169.254.170.2/v2/credentials/x",
		"https://169.254.169.254/",
		"http://[fd00:ec2::23]/v1/credentials",
		"http://[fd00:ec2::254]/latest/meta-data/",
		"http://[::ffff:169.254.169.254]/latest/meta-data/",
	} {
		t.Run(source, func(t *testing.T) {
			c := newTestClient(t, source, Options{})
			_, err := c.Fetch(t.Context())
			if !errors.Is(err, ErrBlockedAddress) {
				t.Fatalf("got error %v, want %v", err, ErrBlockedAddress)
			}
		})
	}
}

// TestFetchBlockedThroughProxy checks that a literal metadata address is
// refused even when a proxy would do the dialling, while other requests go
// through the proxy (a loopback server standing in for one).
func TestFetchBlockedThroughProxy(t *testing.T) {
	png := testImage(t, "png")
	var hits atomic.Int32
	proxyURL, err := url.Parse(serve(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		hits.Add(1)
		w.Write(png)
	})))
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		source   string
		wantErr  error
		wantHits int32
	}{
		{"http://169.254.169.254/latest/meta-data/", ErrBlockedAddress, 0},
		{"http://[fd00:ec2::23]/v1/credentials", ErrBlockedAddress, 0},
		{"http://images.example.invalid/cat.png", nil, 1},
	}
	for _, tt := range tests {
		t.Run(tt.source, func(t *testing.T) {
			hits.Store(0)
			c := newTestClient(t, tt.source, Options{})
			c.transport.Proxy = guardProxy(http.ProxyURL(proxyURL))
			_, _, _, err := fetchAll(t.Context(), c)
			if !errors.Is(err, tt.wantErr) {
				t.Fatalf("got error %v, want %v", err, tt.wantErr)
			}
			if got := hits.Load(); got != tt.wantHits {
				t.Errorf("got %d proxy requests, want %d", got, tt.wantHits)
			}
		})
	}
}

func TestFetchErrorsRedactSecrets(t *testing.T) {
	mux := http.NewServeMux()
	mux.Handle("/500", http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.WriteHeader(http.StatusInternalServerError)
	}))
	mux.Handle("/loop", http.RedirectHandler("/loop?token=hunter2", http.StatusFound))
	mux.Handle("/imds", http.RedirectHandler("http://169.254.169.254/?token=hunter2", http.StatusFound))
	mux.Handle("/html", bodyHandler([]byte("<html>no</html>"), false, ""))
	base := serve(t, mux)
	u, err := url.Parse(base)
	if err != nil {
		t.Fatal(err)
	}
	closed := httptest.NewServer(http.NotFoundHandler())
	closed.Close()

	for _, source := range []string{
		"http://alice:s3cret@" + u.Host + "/500?token=hunter2",
		"http://alice:s3cret@" + u.Host + "/loop?token=hunter2",
		"http://alice:s3cret@" + u.Host + "/imds?token=hunter2",
		"http://alice:s3cret@" + u.Host + "/html?token=hunter2#hunter2",
		strings.Replace(closed.URL, "http://", "http://alice:s3cret@", 1) + "/?token=hunter2",
	} {
		t.Run(source, func(t *testing.T) {
			c := newTestClient(t, source, Options{})
			_, err := c.Fetch(t.Context())
			if err == nil {
				t.Fatal("got no error, want one")
			}
			for _, secret := range []string{"s3cret", "hunter2"} {
				if strings.Contains(err.Error(), secret) {
					t.Errorf("got error %q, want it without %q", err, secret)
				}
			}
			if strings.Contains(c.Source(), "s3cret") || strings.Contains(c.Source(), "hunter2") {
				t.Errorf("got Source() %q, want it redacted", c.Source())
			}
		})
	}
}

func TestNew(t *testing.T) {
	tests := []struct {
		name    string
		source  string
		opts    Options
		wantErr string // "" for success
	}{
		{"http", "http://127.0.0.1:8080/img", Options{}, ""},
		{"https", "https://picsum.photos/640/480", Options{}, ""},
		{"builtin", "builtin:", Options{}, ""},
		{"empty", "", Options{}, "scheme must be http or https"},
		{"no scheme", "picsum.photos/640/480", Options{}, "scheme must be http or https"},
		{"ftp", "ftp://example.com/a.jpg", Options{}, "scheme must be http or https"},
		{"file", "file:///etc/passwd", Options{}, "scheme must be http or https"},
		{"no host", "http:///img", Options{}, "missing host"},
		{"builtin with suffix", "builtin:png", Options{}, "builtin"},
		{"bad url", "http://a b/", Options{}, "source url"},
		{"negative MaxBytes", "builtin:", Options{MaxBytes: -1}, "max bytes: must be >= 0, got -1"},
		{"negative Timeout", "builtin:", Options{Timeout: -time.Second}, `timeout: must be >= 0, got "-1s"`},
		{"every problem at once", "ftp://x", Options{MaxBytes: -1, DialTimeout: -1}, "dial timeout"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c, err := New(tt.source, tt.opts)
			switch {
			case tt.wantErr == "" && err != nil:
				t.Fatalf("got error %v, want nil", err)
			case tt.wantErr != "" && err == nil:
				t.Fatalf("got client for %q, want error containing %q", tt.source, tt.wantErr)
			case tt.wantErr != "" && !strings.Contains(err.Error(), tt.wantErr):
				t.Fatalf("got error %q, want it to contain %q", err, tt.wantErr)
			case tt.wantErr == "" && c == nil:
				t.Fatal("got nil client, want one")
			}
		})
	}
}

func TestNewDefaults(t *testing.T) {
	c, err := New("http://127.0.0.1/", Options{})
	if err != nil {
		t.Fatal(err)
	}
	if c.maxBytes != DefaultMaxBytes {
		t.Errorf("got MaxBytes %d, want %d", c.maxBytes, DefaultMaxBytes)
	}
	if c.http.Timeout != DefaultTimeout {
		t.Errorf("got Timeout %v, want %v", c.http.Timeout, DefaultTimeout)
	}
	if c.transport.TLSHandshakeTimeout != DefaultTLSHandshakeTimeout {
		t.Errorf("got TLSHandshakeTimeout %v, want %v", c.transport.TLSHandshakeTimeout, DefaultTLSHandshakeTimeout)
	}
	if c.transport.ResponseHeaderTimeout != DefaultResponseHeaderTimeout {
		t.Errorf("got ResponseHeaderTimeout %v, want %v", c.transport.ResponseHeaderTimeout, DefaultResponseHeaderTimeout)
	}
	if c.transport.Proxy == nil {
		t.Error("got no proxy function, want the environment's")
	}
	if c.http.Transport == http.DefaultTransport {
		t.Error("got http.DefaultTransport, want an own transport")
	}
}

func TestFetchSendsHeaders(t *testing.T) {
	png := testImage(t, "png")
	var gotAgent, gotAccept string
	base := serve(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		gotAgent, gotAccept = r.UserAgent(), r.Header.Get("Accept")
		w.Write(png)
	}))
	tests := []struct {
		agent, want string
	}{
		{"", DefaultUserAgent},
		{"demo/1.0", "demo/1.0"},
	}
	for _, tt := range tests {
		t.Run(tt.want, func(t *testing.T) {
			c := newTestClient(t, base, Options{UserAgent: tt.agent})
			if _, _, _, err := fetchAll(t.Context(), c); err != nil {
				t.Fatal(err)
			}
			if gotAgent != tt.want {
				t.Errorf("got User-Agent %q, want %q", gotAgent, tt.want)
			}
			if gotAccept != "image/*" {
				t.Errorf("got Accept %q, want %q", gotAccept, "image/*")
			}
		})
	}
}
