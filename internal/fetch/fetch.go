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
	"net/http"
	"net/url"
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

// sniffLen is how many leading bytes are inspected to recognise the format;
// it is what http.DetectContentType considers.
const sniffLen = 512

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
	return b.client.errorf("%w", readErr(err, b.client.maxBytes))
}

// readErr maps an error reading a body through http.MaxBytesReader(maxBytes)
// to ErrTooLarge, ErrTruncated, or a wrapped error.
func readErr(err error, maxBytes int64) error {
	var tooLarge *http.MaxBytesError
	switch {
	case errors.As(err, &tooLarge):
		return fmt.Errorf("body exceeds %d bytes: %w", maxBytes, ErrTooLarge)
	case errors.Is(err, io.ErrUnexpectedEOF):
		// What the transport reports for a body shorter than its
		// Content-Length or a chunked body cut off mid-stream.
		return fmt.Errorf("%w: %w", ErrTruncated, err)
	}
	return fmt.Errorf("read body: %w", err)
}

// Close closes the response body.
func (b *body) Close() error { return b.rc.Close() }

// ReadBody reads a whole response body of at most maxBytes, for a small
// document (not an image) fetched with an [HTTPClient]: a declared or actual
// length over maxBytes is an error wrapping ErrTooLarge, a body cut short
// one wrapping ErrTruncated. It does not close the body.
func ReadBody(resp *http.Response, maxBytes int64) ([]byte, error) {
	if resp.ContentLength > maxBytes {
		return nil, fmt.Errorf("content length %d exceeds %d bytes: %w", resp.ContentLength, maxBytes, ErrTooLarge)
	}
	b, err := io.ReadAll(http.MaxBytesReader(nil, resp.Body, maxBytes))
	if err != nil {
		return nil, readErr(err, maxBytes)
	}
	return b, nil
}
