// Package fetch provides images to upload: it downloads one image from an
// HTTP(S) source, or makes a random one in process for the "builtin:" source.
//
// Every download is bounded in time (dial, TLS handshake, response headers and
// the whole request) and in size (the declared Content-Length and the bytes
// actually read), must answer 200 OK, and must start with the magic bytes of a
// JPEG, PNG, GIF or WebP image whose header then parses (header.go): the
// content type and file extension come from those bytes, never from the
// server's Content-Type header. Connections to
// link-local and cloud instance-metadata addresses are refused when dialling,
// so neither a redirect nor a DNS answer can reach them.
package fetch

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"net"
	"net/http"
	"net/url"
	"sync"
	"time"
)

// Sentinel errors. Fetch and Image.Body return errors that wrap them, so
// callers decide with errors.Is. Network errors and timeouts are returned
// wrapped as they come: use errors.As with net.Error, or errors.Is with
// context.DeadlineExceeded / context.Canceled.
var (
	// ErrStatus means the source answered with a status other than 200 OK.
	ErrStatus = errors.New("unexpected status")
	// ErrRedirects means the source redirected more than Options.MaxRedirects times.
	ErrRedirects = errors.New("too many redirects")
	// ErrNotImage means the body does not start with the magic bytes of a
	// supported image format (JPEG, PNG, GIF, WebP).
	ErrNotImage = errors.New("not an image")
	// ErrEmpty means the source answered 200 OK with an empty body.
	ErrEmpty = errors.New("empty body")
	// ErrTruncated means the body ended before its declared Content-Length,
	// or a chunked body was cut off mid-stream.
	ErrTruncated = errors.New("truncated body")
	// ErrTooLarge means the declared Content-Length, or the bytes actually
	// read, exceed Options.MaxBytes.
	ErrTooLarge = errors.New("body too large")
	// ErrBlockedAddress means a connection to a link-local or cloud metadata
	// address (such as 169.254.169.254) was refused.
	ErrBlockedAddress = errors.New("blocked address")
)

// Defaults applied by New to zero-valued Options fields.
const (
	DefaultMaxBytes              = 32 << 20 // 32 MiB
	DefaultTimeout               = 30 * time.Second
	DefaultDialTimeout           = 5 * time.Second
	DefaultTLSHandshakeTimeout   = 5 * time.Second
	DefaultResponseHeaderTimeout = 10 * time.Second
	DefaultMaxRedirects          = 5
	DefaultUserAgent             = "eks-least-privilege-uploader"
)

// BuiltinSource is the source URL that makes a random image in process
// instead of downloading one, for demos, benchmarks and offline clusters.
const BuiltinSource = "builtin:"

// sniffLen is how many leading bytes are inspected to recognise the format;
// it is what http.DetectContentType considers.
const sniffLen = 512

// Options are the optional knobs of a Client. The zero value of each field
// selects its default.
type Options struct {
	// MaxBytes is the largest body accepted, declared or read.
	// Zero means DefaultMaxBytes (32 MiB).
	MaxBytes int64
	// Timeout bounds a whole request: connection, redirects, headers and
	// reading the body. The clock runs until Image.Body is read to the end
	// or closed, so it covers a caller that streams the body onward (to S3)
	// as well. Zero means DefaultTimeout (30s).
	Timeout time.Duration
	// DialTimeout bounds establishing a TCP connection.
	// Zero means DefaultDialTimeout (5s).
	DialTimeout time.Duration
	// TLSHandshakeTimeout bounds the TLS handshake.
	// Zero means DefaultTLSHandshakeTimeout (5s).
	TLSHandshakeTimeout time.Duration
	// ResponseHeaderTimeout bounds the wait for response headers once the
	// request is sent. Zero means DefaultResponseHeaderTimeout (10s).
	ResponseHeaderTimeout time.Duration
	// MaxRedirects is how many redirects are followed before failing with
	// ErrRedirects. Zero means DefaultMaxRedirects (5); to refuse every
	// redirect, use a negative value.
	MaxRedirects int
	// UserAgent is sent with every request. Empty means DefaultUserAgent.
	UserAgent string
	// Rand drives the "builtin:" source; a seeded Rand makes its images
	// deterministic. Nil means a randomly seeded generator. The Client
	// serialises its use, so the Rand must not be shared with other code.
	Rand *rand.Rand
}

// Image is one fetched image. The caller must close Body.
type Image struct {
	// Body streams every byte of the image (the sniffed first bytes
	// included). A read that would pass MaxBytes returns an error wrapping
	// ErrTooLarge; a body that ends early returns an error wrapping
	// ErrTruncated; other failures (timeouts, resets) come as they are.
	// Any error means the image is incomplete. Close releases the
	// connection.
	Body io.ReadCloser
	// Size is the declared length in bytes, or -1 when unknown (chunked).
	Size int64
	// ContentType is the sniffed media type: image/jpeg, image/png,
	// image/gif or image/webp.
	ContentType string
	// Ext is the file extension for ContentType, without a dot: jpg, png,
	// gif or webp.
	Ext string
	// Width and Height are the image's size in pixels, read from its header
	// (see header.go), which must parse for Fetch to succeed.
	Width, Height int
}

// extensions maps the supported sniffed media types to file extensions.
// Other image types that http.DetectContentType knows (BMP, ICO) are
// refused: "BM" is too weak a signature to tell a bitmap from text.
var extensions = map[string]string{
	"image/jpeg": "jpg",
	"image/png":  "png",
	"image/gif":  "gif",
	"image/webp": "webp",
}

// Client fetches images from one source. It is safe for concurrent use.
type Client struct {
	source   *url.URL // nil for the builtin source
	redacted string   // source fit for errors and logs
	maxBytes int64
	agent    string

	http      *http.Client
	transport *http.Transport

	mu  sync.Mutex // guards rnd
	rnd *rand.Rand
}

// New returns a Client for sourceURL, an http or https URL or BuiltinSource.
// Zero-valued Options fields take their defaults; negative sizes and
// durations are rejected.
func New(sourceURL string, opts Options) (*Client, error) {
	var errs []error
	if opts.MaxBytes < 0 {
		errs = append(errs, fmt.Errorf("max bytes: must be >= 0, got %d", opts.MaxBytes))
	}
	for _, d := range []struct {
		name string
		v    time.Duration
	}{
		{"timeout", opts.Timeout},
		{"dial timeout", opts.DialTimeout},
		{"tls handshake timeout", opts.TLSHandshakeTimeout},
		{"response header timeout", opts.ResponseHeaderTimeout},
	} {
		if d.v < 0 {
			errs = append(errs, fmt.Errorf("%s: must be >= 0, got %q", d.name, d.v))
		}
	}
	source, redacted, err := parseSource(sourceURL)
	if err != nil {
		errs = append(errs, err)
	}
	if err := errors.Join(errs...); err != nil {
		return nil, fmt.Errorf("new fetch client: %w", err)
	}

	opts = withDefaults(opts)
	c := &Client{
		source:   source,
		redacted: redacted,
		maxBytes: opts.MaxBytes,
		agent:    opts.UserAgent,
		rnd:      opts.Rand,
	}
	if source == nil {
		return c, nil
	}
	c.transport = newTransport(opts)
	maxRedirects := opts.MaxRedirects
	c.http = &http.Client{
		Transport: c.transport,
		Timeout:   opts.Timeout,
		CheckRedirect: func(req *http.Request, via []*http.Request) error {
			if len(via) > maxRedirects {
				return fmt.Errorf("stopped after %d redirects: %w", maxRedirects, ErrRedirects)
			}
			// The dial control and the proxy check guard the address;
			// here only the scheme is kept to what New accepts.
			if req.URL.Scheme != "http" && req.URL.Scheme != "https" {
				return fmt.Errorf("redirect to unsupported scheme %q", req.URL.Scheme)
			}
			return nil
		},
	}
	return c, nil
}

func withDefaults(opts Options) Options {
	if opts.MaxBytes == 0 {
		opts.MaxBytes = DefaultMaxBytes
	}
	if opts.Timeout == 0 {
		opts.Timeout = DefaultTimeout
	}
	if opts.DialTimeout == 0 {
		opts.DialTimeout = DefaultDialTimeout
	}
	if opts.TLSHandshakeTimeout == 0 {
		opts.TLSHandshakeTimeout = DefaultTLSHandshakeTimeout
	}
	if opts.ResponseHeaderTimeout == 0 {
		opts.ResponseHeaderTimeout = DefaultResponseHeaderTimeout
	}
	switch {
	case opts.MaxRedirects == 0:
		opts.MaxRedirects = DefaultMaxRedirects
	case opts.MaxRedirects < 0:
		opts.MaxRedirects = 0
	}
	if opts.UserAgent == "" {
		opts.UserAgent = DefaultUserAgent
	}
	if opts.Rand == nil {
		opts.Rand = rand.New(rand.NewPCG(rand.Uint64(), rand.Uint64()))
	}
	return opts
}

// parseSource validates sourceURL. It returns a nil URL for the builtin
// source, and the URL as it may appear in errors and logs.
func parseSource(sourceURL string) (*url.URL, string, error) {
	if sourceURL == BuiltinSource {
		return nil, BuiltinSource, nil
	}
	u, err := url.Parse(sourceURL)
	if err != nil {
		// url.Error repeats the raw URL, secrets included: keep only the cause.
		var ue *url.Error
		if errors.As(err, &ue) {
			err = ue.Err
		}
		return nil, "", fmt.Errorf("source url: %w", err)
	}
	redacted := redact(u)
	switch {
	case u.Scheme == "builtin":
		return nil, "", fmt.Errorf("source url %s: want exactly %q for the builtin source", redacted, BuiltinSource)
	case u.Scheme != "http" && u.Scheme != "https":
		return nil, "", fmt.Errorf("source url %s: scheme must be http or https", redacted)
	case u.Host == "":
		return nil, "", fmt.Errorf("source url %s: missing host", redacted)
	}
	return u, redacted, nil
}

// redact returns u without its password, query or fragment, which may hold
// credentials (basic auth, presigned URLs).
func redact(u *url.URL) string {
	r := *u
	if r.RawQuery != "" || r.ForceQuery {
		r.RawQuery, r.ForceQuery = "redacted", false
	}
	r.Fragment, r.RawFragment = "", ""
	return r.Redacted()
}

// newTransport returns a clone of http.DefaultTransport with the given
// timeouts and a dialer that refuses blocked addresses.
func newTransport(opts Options) *http.Transport {
	dialer := &net.Dialer{
		Timeout:   opts.DialTimeout,
		KeepAlive: 30 * time.Second,
		Control:   dialControl,
	}
	t := http.DefaultTransport.(*http.Transport).Clone()
	t.Proxy = guardProxy(http.ProxyFromEnvironment)
	t.DialContext = dialer.DialContext
	t.TLSHandshakeTimeout = opts.TLSHandshakeTimeout
	t.ResponseHeaderTimeout = opts.ResponseHeaderTimeout
	// Images are compressed already; asking for gzip would only hide the
	// real Content-Length and let a small response inflate.
	t.DisableCompression = true
	return t
}

// Source returns the source URL with any password and query redacted, fit
// for logs.
func (c *Client) Source() string { return c.redacted }

// Fetch downloads one image, or makes one for the builtin source. On success
// the caller must close Image.Body, which may still fail while streaming (see
// Image). Errors wrap the package's sentinels, or the network error as it
// came.
func (c *Client) Fetch(ctx context.Context) (*Image, error) {
	if c.source == nil {
		return c.builtin(ctx)
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, c.source.String(), nil)
	if err != nil {
		return nil, c.errorf("%w", err)
	}
	req.Header.Set("User-Agent", c.agent)
	req.Header.Set("Accept", "image/*")

	resp, err := c.http.Do(req)
	if err != nil {
		// url.Error names the URL unredacted; say it once, redacted.
		var ue *url.Error
		if errors.As(err, &ue) {
			err = ue.Err
		}
		return nil, c.errorf("%w", err)
	}
	img, err := c.open(resp)
	if err != nil {
		resp.Body.Close()
		return nil, err
	}
	return img, nil
}

// open checks resp and sniffs its first bytes.
func (c *Client) open(resp *http.Response) (*Image, error) {
	if resp.StatusCode != http.StatusOK {
		// Read a little so the connection can be reused, not a lot.
		_, _ = io.CopyN(io.Discard, resp.Body, 4<<10)
		return nil, c.errorf("status %d: %w", resp.StatusCode, ErrStatus)
	}
	switch {
	case resp.ContentLength > c.maxBytes:
		return nil, c.errorf("content length %d exceeds %d bytes: %w", resp.ContentLength, c.maxBytes, ErrTooLarge)
	case resp.ContentLength == 0:
		return nil, c.errorf("%w", ErrEmpty)
	}

	// MaxBytesReader cuts the body off past maxBytes, whatever the server
	// declared; the bufio.Reader keeps the sniffed head for the upload.
	b := &body{r: bufio.NewReaderSize(http.MaxBytesReader(nil, resp.Body, c.maxBytes), sniffLen), rc: resp.Body, client: c}
	head, err := b.r.Peek(sniffLen)
	if err != nil && err != io.EOF { // EOF: a body shorter than sniffLen, fine
		return nil, b.mapErr(err)
	}
	if len(head) == 0 {
		return nil, c.errorf("%w", ErrEmpty)
	}
	contentType, ext, err := sniff(head)
	if err != nil {
		return nil, c.errorf("%w", err)
	}
	cfg, err := b.readHeader(contentType)
	if err != nil {
		return nil, err
	}
	return &Image{Body: b, Size: resp.ContentLength, ContentType: contentType, Ext: ext, Width: cfg.Width, Height: cfg.Height}, nil
}

// sniff returns the media type and extension of a supported image format
// recognised by its leading bytes.
func sniff(head []byte) (contentType, ext string, err error) {
	// Image types come back without parameters; anything else is refused.
	detected := http.DetectContentType(head)
	ext, ok := extensions[detected]
	if !ok {
		return "", "", fmt.Errorf("content sniffed as %s: %w", detected, ErrNotImage)
	}
	return detected, ext, nil
}

// errorf formats an error prefixed with the operation and redacted source.
func (c *Client) errorf(format string, args ...any) error {
	return fmt.Errorf("fetch %s: "+format, append([]any{c.redacted}, args...)...)
}

// body streams a response body, its sniffed head first, with errors mapped to
// the package's sentinels.
type body struct {
	ahead  []byte        // read ahead to parse the header, streamed first
	r      *bufio.Reader // over http.MaxBytesReader over rc
	rc     io.ReadCloser
	client *Client
}

func (b *body) Read(p []byte) (int, error) {
	if len(b.ahead) > 0 {
		n := copy(p, b.ahead)
		b.ahead = b.ahead[n:]
		return n, nil
	}
	n, err := b.r.Read(p)
	if err != nil && err != io.EOF {
		err = b.mapErr(err)
	}
	return n, err
}

// mapErr maps a read error to ErrTooLarge, ErrTruncated, or a wrapped error.
func (b *body) mapErr(err error) error {
	var tooLarge *http.MaxBytesError
	switch {
	case errors.As(err, &tooLarge):
		return b.client.errorf("body exceeds %d bytes: %w", b.client.maxBytes, ErrTooLarge)
	case errors.Is(err, io.ErrUnexpectedEOF):
		// What the transport reports for a body shorter than its
		// Content-Length or a chunked body cut off mid-stream.
		return b.client.errorf("%w: %w", ErrTruncated, err)
	}
	return b.client.errorf("read body: %w", err)
}

// Close closes the response body.
func (b *body) Close() error { return b.rc.Close() }

// guardProxy wraps a proxy function: a request sent through a proxy is
// dialled by the proxy, out of reach of dialControl, so its host is checked
// here instead when it is a literal IP address. (A name that the proxy
// resolves to a metadata address cannot be seen from here.)
func guardProxy(proxy func(*http.Request) (*url.URL, error)) func(*http.Request) (*url.URL, error) {
	return func(req *http.Request) (*url.URL, error) {
		p, err := proxy(req)
		if err != nil || p == nil {
			return p, err
		}
		if err := checkHost(req.URL.Hostname()); err != nil {
			return nil, err
		}
		return p, nil
	}
}
