package upload

import (
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"strings"
	"time"
)

// Keys makes object keys of the form
//
//	{prefix}{host}/{yyyy}/{mm}/{dd}/{yyyymmddThhmmss.mmmZ}-{8 hex}.{ext}
//
// in UTC: they sort by time, hold no spaces or colons, and stay unique across
// replicas (host) and within one millisecond (32 random bits).
type Keys struct {
	// Prefix goes first, normalized: leading slashes are dropped and a
	// non-empty prefix gets a trailing slash. CheckPrefix reports a prefix
	// that would make odd keys.
	Prefix string
	// Host names the writer, usually the pod name. It is lower-cased and any
	// character outside [a-z0-9.-] becomes '-'; empty means "unknown".
	Host string
	// Now is the clock; nil means time.Now.
	Now func() time.Time
	// Rand is the source of the random suffix; nil means crypto/rand. If it
	// fails, crypto/rand is used instead.
	Rand io.Reader
}

// Next returns a new key with extension ext (a leading dot is dropped; empty
// means no extension).
func (k Keys) Next(ext string) string {
	now := time.Now
	if k.Now != nil {
		now = k.Now
	}
	t := now().UTC()

	var b [4]byte
	if k.Rand == nil {
		_, _ = rand.Read(b[:]) // never fails (crypto/rand, Go 1.24+)
	} else if _, err := io.ReadFull(k.Rand, b[:]); err != nil {
		_, _ = rand.Read(b[:])
	}

	var s strings.Builder
	s.WriteString(normalizePrefix(k.Prefix))
	s.WriteString(sanitizeHost(k.Host))
	s.WriteString(t.Format("/2006/01/02/20060102T150405.000Z-"))
	s.WriteString(hex.EncodeToString(b[:]))
	if ext = sanitize(strings.TrimPrefix(ext, "."), false); ext != "" {
		s.WriteString(".")
		s.WriteString(ext)
	}
	return s.String()
}

// CheckBucket reports why bucket cannot be an S3 bucket name: 3 to 63
// characters, no space, slash or colon.
func CheckBucket(bucket string) error {
	if len(bucket) < 3 || len(bucket) > 63 || strings.ContainsAny(bucket, " /:") {
		return fmt.Errorf("not a valid bucket name: %q", bucket)
	}
	return nil
}

// CheckPrefix reports why prefix would make awkward keys: a leading slash,
// an empty, "." or ".." segment, or a character other than [A-Za-z0-9._-/].
// A missing trailing slash is fine: Keys adds it.
func CheckPrefix(prefix string) error {
	if prefix == "" {
		return nil
	}
	var errs []error
	if strings.HasPrefix(prefix, "/") {
		errs = append(errs, errors.New(`must not start with "/"`))
	}
	for _, seg := range strings.Split(strings.Trim(prefix, "/"), "/") {
		if seg == "" || seg == "." || seg == ".." {
			errs = append(errs, fmt.Errorf("segment %q not allowed", seg))
			break
		}
	}
	for _, c := range prefix {
		if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || strings.ContainsRune("._-/", c)) {
			errs = append(errs, fmt.Errorf("character %q not allowed", c))
			break
		}
	}
	return errors.Join(errs...)
}

func normalizePrefix(p string) string {
	p = strings.TrimLeft(p, "/")
	if p != "" && !strings.HasSuffix(p, "/") {
		p += "/"
	}
	return p
}

func sanitizeHost(h string) string {
	h = strings.Trim(sanitize(h, true), ".-")
	if h == "" {
		return "unknown"
	}
	return h
}

// sanitize lower-cases s and maps characters outside [a-z0-9] (plus '.' and
// '-' when dots is set) to '-', or drops them when dots is unset.
func sanitize(s string, dots bool) string {
	var b strings.Builder
	for _, c := range strings.ToLower(s) {
		switch {
		case c >= 'a' && c <= 'z', c >= '0' && c <= '9':
			b.WriteRune(c)
		case dots && (c == '.' || c == '-'):
			b.WriteRune(c)
		case dots:
			b.WriteByte('-')
		}
	}
	return b.String()
}
