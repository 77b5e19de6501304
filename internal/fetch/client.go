package fetch

import (
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"math/rand/v2"
	"net"
	"net/http"
	"net/url"
	"sync"
	"time"
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
	// RootCAs are the certificate authorities an https server must chain
	// to. Nil means the system's roots.
	RootCAs *x509.CertPool
	// Rand drives the "builtin:" source; a seeded Rand makes its images
	// deterministic. Nil means a randomly seeded generator. The Client
	// serialises its use, so the Rand must not be shared with other code.
	Rand *rand.Rand
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
	errs := checkOptions(opts)
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
	c.http = guardedClient(opts)
	c.transport = c.http.Transport.(*http.Transport)
	return c, nil
}

// HTTPClient returns an http.Client with the guards of a Client, for other
// documents fetched from servers the configuration names (an OIDC issuer's
// discovery document and keys): the timeouts of opts, at most MaxRedirects
// redirects to http or https URLs, no connection to a link-local or
// metadata address. It does not bound bodies: read them with [ReadBody] and
// opts.MaxBytes. Options that only images use (Rand) are ignored.
func HTTPClient(opts Options) (*http.Client, error) {
	if err := errors.Join(checkOptions(opts)...); err != nil {
		return nil, fmt.Errorf("new http client: %w", err)
	}
	return guardedClient(withDefaults(opts)), nil
}

// checkOptions returns a problem for each negative size or duration.
func checkOptions(opts Options) []error {
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
	return errs
}

// guardedClient builds the http.Client of opts, defaults applied.
func guardedClient(opts Options) *http.Client {
	maxRedirects := opts.MaxRedirects
	return &http.Client{
		Transport: newTransport(opts),
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

// CheckSource returns the error New would return for sourceURL, if any: it
// must be an http or https URL with a host, or BuiltinSource.
func CheckSource(sourceURL string) error {
	_, _, err := parseSource(sourceURL)
	return err
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

// RedactURL is s without its password, query or fragment, which may hold
// credentials (basic auth, presigned URLs), fit for logs and errors.
func RedactURL(s string) string {
	u, err := url.Parse(s)
	if err != nil {
		return "<unparseable URL>"
	}
	return redact(u)
}

// redact returns u without its password, query or fragment.
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
	if opts.RootCAs != nil {
		t.TLSClientConfig = &tls.Config{RootCAs: opts.RootCAs, MinVersion: tls.VersionTLS12}
	}
	// Images are compressed already; asking for gzip would only hide the
	// real Content-Length and let a small response inflate.
	t.DisableCompression = true
	return t
}

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
