package token

import (
	"bytes"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"strings"
	"time"
)

// Audiences the projected tokens must carry.
const (
	AudienceSTS         = "sts.amazonaws.com"      // IRSA
	AudiencePodIdentity = "pods.eks.amazonaws.com" // EKS Pod Identity
)

// Claims are the claims of a projected service-account token that tell why
// STS or the agent refuses it. They are read without verifying the token.
type Claims struct {
	Issuer   string
	Subject  string
	Audience []string
	Expiry   time.Time // zero when absent
	IssuedAt time.Time // zero when absent
	// Namespace and ServiceAccount are from the kubernetes.io claim, when
	// present.
	Namespace, ServiceAccount string
}

// ErrNotJWT is returned by Decode for data that is not a JWS compact
// serialisation with a JSON payload. Its text never quotes the data.
var ErrNotJWT = errors.New("not a JWT")

// maxSize bounds the read of a token file: projected tokens are a few KiB.
const maxSize = 64 << 10

// Read reads the token file at path (at most 64 KiB) and decodes its claims.
func Read(path string) (Claims, error) {
	data, err := ReadFile(path)
	if err != nil {
		return Claims{}, err
	}
	return Decode(data)
}

// ReadFile returns the raw token in the file at path, at most 64 KiB of it,
// for a check of its signature (package issuer). The caller must never
// print or log it.
func ReadFile(path string) ([]byte, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	return io.ReadAll(io.LimitReader(f, maxSize))
}

// Decode decodes the payload of a JWT without verifying it. The signature
// is not looked at, and no error quotes the token.
func Decode(token []byte) (Claims, error) {
	parts := bytes.Split(bytes.TrimSpace(token), []byte("."))
	if len(parts) != 3 {
		return Claims{}, fmt.Errorf("decode token claims: %w: %d dot-separated parts, want 3", ErrNotJWT, len(parts))
	}
	payload := make([]byte, base64.RawURLEncoding.DecodedLen(len(parts[1])))
	n, err := base64.RawURLEncoding.Decode(payload, bytes.TrimRight(parts[1], "="))
	if err != nil {
		return Claims{}, fmt.Errorf("decode token claims: %w: payload is not base64url", ErrNotJWT)
	}
	var raw struct {
		Iss        string          `json:"iss"`
		Sub        string          `json:"sub"`
		Aud        json.RawMessage `json:"aud"`
		Exp        *json.Number    `json:"exp"`
		Iat        *json.Number    `json:"iat"`
		Kubernetes struct {
			Namespace      string `json:"namespace"`
			ServiceAccount struct {
				Name string `json:"name"`
			} `json:"serviceaccount"`
		} `json:"kubernetes.io"`
	}
	if err := json.Unmarshal(payload[:n], &raw); err != nil {
		return Claims{}, fmt.Errorf("decode token claims: %w: payload is not a JSON object", ErrNotJWT)
	}
	c := Claims{Issuer: raw.Iss, Subject: raw.Sub, Namespace: raw.Kubernetes.Namespace, ServiceAccount: raw.Kubernetes.ServiceAccount.Name}
	// aud is a string or an array of strings (RFC 7519 4.1.3).
	var one string
	if err := json.Unmarshal(raw.Aud, &one); err == nil {
		c.Audience = []string{one}
	} else if len(raw.Aud) > 0 {
		if err := json.Unmarshal(raw.Aud, &c.Audience); err != nil {
			return Claims{}, fmt.Errorf("decode token claims: %w: aud is neither a string nor an array of strings", ErrNotJWT)
		}
	}
	c.Expiry, c.IssuedAt = numericDate(raw.Exp), numericDate(raw.Iat)
	return c, nil
}

func numericDate(n *json.Number) time.Time {
	if n == nil {
		return time.Time{}
	}
	f, err := n.Float64()
	if err != nil {
		return time.Time{}
	}
	return time.Unix(int64(f), 0).UTC()
}

// String returns the claims on one line: iss, aud, sub, exp, iat.
func (c Claims) String() string {
	return fmt.Sprintf("iss=%s aud=%s sub=%s exp=%s iat=%s",
		c.Issuer, strings.Join(c.Audience, ","), c.Subject, Stamp(c.Expiry), Stamp(c.IssuedAt))
}

// LogValue implements slog.LogValuer: iss, aud, sub, exp and iat.
func (c Claims) LogValue() slog.Value {
	return slog.GroupValue(
		slog.String("iss", c.Issuer),
		slog.Any("aud", c.Audience),
		slog.String("sub", c.Subject),
		slog.String("exp", Stamp(c.Expiry)),
		slog.String("iat", Stamp(c.IssuedAt)),
	)
}

// Stamp writes a claim's time as RFC 3339 in UTC, or "none" for a zero
// time (an absent claim).
func Stamp(t time.Time) string {
	if t.IsZero() {
		return "none"
	}
	return t.UTC().Format(time.RFC3339)
}

// Rows returns the claims as a person reads them, as "name", "value"
// pairs for `uploader check`: issuer, audience, subject (with the
// kubernetes.io namespace and service account), issued and expires, each
// time with how long ago or how long left at now.
func (c Claims) Rows(now time.Time) [][2]string {
	subject := orNone(c.Subject)
	if c.Namespace != "" || c.ServiceAccount != "" {
		subject += fmt.Sprintf(" (namespace %s, service account %s)", orNone(c.Namespace), orNone(c.ServiceAccount))
	}
	return [][2]string{
		{"issuer", orNone(c.Issuer)},
		{"audience", orNone(strings.Join(c.Audience, ", "))},
		{"subject", subject},
		{"issued", relative(c.IssuedAt, now)},
		{"expires", relative(c.Expiry, now)},
	}
}

// relative is Stamp(t) with the time from now: "(in 23h59m0s)" or
// "(12m0s ago)".
func relative(t, now time.Time) string {
	if t.IsZero() {
		return "none"
	}
	d := t.Sub(now).Round(time.Second)
	if d <= 0 {
		return fmt.Sprintf("%s (%s ago)", Stamp(t), -d)
	}
	return fmt.Sprintf("%s (in %s)", Stamp(t), d)
}

func orNone(s string) string {
	if s == "" {
		return "none"
	}
	return s
}

// Subject is the sub a token for namespace/serviceAccount carries.
func Subject(namespace, serviceAccount string) string {
	return "system:serviceaccount:" + namespace + ":" + serviceAccount
}
