package issuer

import (
	"context"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/rsa"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"slices"
	"strings"

	jose "github.com/go-jose/go-jose/v4"

	"github.com/eks-least-privilege/uploader/internal/fetch"
)

// DiscoveryPath is where an OIDC issuer serves its discovery document,
// under the issuer URL (OpenID Connect Discovery 1.0, section 4).
const DiscoveryPath = "/.well-known/openid-configuration"

// DefaultMaxBytes bounds each document fetched when Options.MaxBytes is zero:
// a discovery document or a key set is a few KiB.
const DefaultMaxBytes = 256 << 10

// Algorithms are the signature algorithms a token may use: those STS accepts
// for OIDC tokens and Kubernetes signs with (RS256 by default, ES256 with an
// EC key). Anything else, "none" first, is refused before a key is looked at.
var Algorithms = []jose.SignatureAlgorithm{
	jose.RS256, jose.RS384, jose.RS512,
	jose.PS256, jose.PS384, jose.PS512,
	jose.ES256, jose.ES384, jose.ES512,
}

// ErrDocument means the issuer answered with something that is not the
// document asked for (not JSON, no jwks_uri, no keys).
var ErrDocument = errors.New("not an OIDC document")

// Doer sends one HTTP request; an *http.Client is one. Build it with
// fetch.HTTPClient so that it has the guards images have.
type Doer interface {
	Do(*http.Request) (*http.Response, error)
}

// Options are the optional knobs of a Client.
type Options struct {
	// MaxBytes bounds each document, declared or read. Zero means
	// DefaultMaxBytes.
	MaxBytes int64
}

// Client fetches an issuer's documents and checks tokens against its keys.
type Client struct {
	http     Doer
	maxBytes int64
}

// New returns a Client that fetches with doer.
func New(doer Doer, opts Options) *Client {
	if opts.MaxBytes <= 0 {
		opts.MaxBytes = DefaultMaxBytes
	}
	return &Client{http: doer, maxBytes: opts.MaxBytes}
}

// Result is the outcome of a signature check.
type Result int

// The results of a signature check.
const (
	// Unchecked: the keys could not be had (no https issuer, issuer
	// unreachable, not a discovery document or key set).
	Unchecked Result = iota
	// Verified: the signature verifies with the issuer's key of the token's
	// kid.
	Verified
	// NotVerified: the token is not a JWS of an accepted algorithm, no key of
	// the issuer has its kid, or the signature does not match that key.
	NotVerified
)

// String returns "verified", "not verified" or "could not be checked".
func (r Result) String() string {
	switch r {
	case Verified:
		return "verified"
	case NotVerified:
		return "not verified"
	}
	return "could not be checked"
}

// Key describes one published key, without its material.
type Key struct {
	ID        string // kid
	Algorithm string // alg; empty when the set does not say
	Type      string // kty: RSA, EC, OKP
	Use       string // use: sig, or empty
}

// String returns "kid (RS256, RSA)".
func (k Key) String() string {
	id := k.ID
	if id == "" {
		id = "(no kid)"
	}
	return fmt.Sprintf("%s (%s, %s)", id, orDash(k.Algorithm), k.Type)
}

// Report is what Examine found. It holds neither the token nor its
// signature.
type Report struct {
	// Issuer is the token's iss, as given to Examine.
	Issuer string
	// KeyID and Algorithm are the token header's kid and alg; empty when
	// the token does not parse as a JWS.
	KeyID, Algorithm string
	// DiscoveryURL is where the discovery document was asked for; empty
	// when the issuer is not an https URL.
	DiscoveryURL string
	// DiscoveryIssuer is the discovery document's issuer, which must equal
	// Issuer; empty when the document was not read.
	DiscoveryIssuer string
	// JWKSURI is the discovery document's jwks_uri.
	JWKSURI string
	// Keys are the keys the issuer publishes (jwks_uri); Skipped counts the
	// entries of the set that are not usable public keys.
	Keys    []Key
	Skipped int
	// Result is the outcome of the signature check; Key the key it was
	// checked against (Verified, or NotVerified by a signature that does not
	// match); Reason says why when the result is not Verified.
	Result Result
	Key    *Key
	Reason string
	// Err is the error that left the signature unchecked: the issuer could
	// not be reached or did not serve its documents. Nil otherwise.
	Err error
}

// Unreachable reports whether the issuer's documents could not be fetched
// or read, as opposed to a token that could not be checked at all.
func (r Report) Unreachable() bool { return r.Result == Unchecked && r.Err != nil }

// Examine checks token, a compact JWS, against the keys of iss, its issuer
// (the iss claim, which the caller has decoded): it fetches
// iss/.well-known/openid-configuration, then its jwks_uri, and verifies the
// signature with the key of the token's kid. Every outcome is in the Report;
// the context bounds the requests.
func (c *Client) Examine(ctx context.Context, token []byte, iss string) Report {
	r := Report{Issuer: iss}
	jws, err := jose.ParseSignedCompact(strings.TrimSpace(string(token)), Algorithms)
	if err != nil {
		r.Result, r.Reason = NotVerified, parseReason(err)
		return r
	}
	h := jws.Signatures[0].Protected
	r.KeyID, r.Algorithm = h.KeyID, h.Algorithm

	if iss == "" {
		r.Reason = "the token has no iss: there is no issuer to ask for keys"
		return r
	}
	u, err := url.Parse(iss)
	if err != nil || u.Scheme != "https" || u.Host == "" {
		r.Reason = fmt.Sprintf("the issuer %q is not an https URL: OIDC discovery, and STS, fetch keys over https only", iss)
		return r
	}
	r.DiscoveryURL = strings.TrimSuffix(iss, "/") + DiscoveryPath
	var disc struct {
		Issuer  string `json:"issuer"`
		JWKSURI string `json:"jwks_uri"`
	}
	if err := c.getJSON(ctx, r.DiscoveryURL, acceptDiscovery, &disc); err != nil {
		r.Reason, r.Err = "the discovery document could not be read", err
		return r
	}
	r.DiscoveryIssuer, r.JWKSURI = disc.Issuer, disc.JWKSURI
	if j, err := url.Parse(disc.JWKSURI); err != nil || j.Scheme != "https" || j.Host == "" {
		r.Reason = "the discovery document's jwks_uri is not an https URL"
		r.Err = fmt.Errorf("discovery document %s: jwks_uri %q: %w", r.DiscoveryURL, disc.JWKSURI, ErrDocument)
		return r
	}
	keys, skipped, err := c.keys(ctx, disc.JWKSURI)
	if err != nil {
		r.Reason, r.Err = "the issuer's keys could not be read", err
		return r
	}
	r.Skipped = skipped
	for _, k := range keys {
		r.Keys = append(r.Keys, describe(k))
	}
	verify(&r, jws, keys)
	return r
}

// verify checks jws against the keys of its kid (every key when the token
// names none) and records the outcome in r.
func verify(r *Report, jws *jose.JSONWebSignature, keys []jose.JSONWebKey) {
	candidates := keys
	if r.KeyID != "" {
		candidates = slices.DeleteFunc(slices.Clone(keys), func(k jose.JSONWebKey) bool { return k.KeyID != r.KeyID })
	}
	if len(candidates) == 0 {
		r.Result = NotVerified
		r.Reason = fmt.Sprintf("the issuer publishes no key with kid %s (its keys: %s): it rotated its keys after the token was signed, or another issuer signed the token",
			r.KeyID, keyList(r.Keys))
		return
	}
	var mismatch []string
	for _, k := range candidates {
		if k.Algorithm != "" && k.Algorithm != r.Algorithm {
			mismatch = append(mismatch, fmt.Sprintf("key %s is for %s, the token says %s", orDash(k.KeyID), k.Algorithm, r.Algorithm))
			continue
		}
		if _, err := jws.Verify(k); err == nil {
			key := describe(k)
			r.Result, r.Key, r.Reason = Verified, &key, ""
			return
		}
	}
	key := describe(candidates[0])
	r.Result, r.Key = NotVerified, &key
	if len(mismatch) == len(candidates) {
		r.Reason = strings.Join(mismatch, "; ")
		return
	}
	r.Reason = fmt.Sprintf("the %s signature does not match key %s: a claim or the signature was changed after signing, or another key with the same kid signed it",
		r.Algorithm, key)
}

// parseReason says why a token is not a JWS of an accepted algorithm,
// without quoting it (go-jose's errors may carry parts of the input).
func parseReason(err error) string {
	var alg *jose.ErrUnexpectedSignatureAlgorithm
	if errors.As(err, &alg) {
		return fmt.Sprintf("the token's algorithm %q is not one STS accepts (%s)", alg.Got, algorithmList())
	}
	return "the token is not a signed JWT (a compact JWS of three base64url parts with a JSON header)"
}

// Media types asked for. A key set is application/jwk-set+json (RFC 7517
// section 8.5): the kube-apiserver answers 406 to a request that accepts
// only application/json.
const (
	acceptDiscovery = "application/json"
	acceptKeySet    = "application/jwk-set+json, application/json"
)

// getJSON fetches url with the guarded client, asking for the media types
// in accept, and decodes its JSON body into v.
func (c *Client) getJSON(ctx context.Context, u, accept string, v any) error {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, u, nil)
	if err != nil {
		return fmt.Errorf("get %s: %w", u, err)
	}
	req.Header.Set("Accept", accept)
	resp, err := c.http.Do(req)
	if err != nil {
		// url.Error repeats the URL; say it once.
		var ue *url.Error
		if errors.As(err, &ue) {
			err = ue.Err
		}
		return fmt.Errorf("get %s: %w", u, err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return fmt.Errorf("get %s: status %d: %w", u, resp.StatusCode, fetch.ErrStatus)
	}
	body, err := fetch.ReadBody(resp, c.maxBytes)
	if err != nil {
		return fmt.Errorf("get %s: %w", u, err)
	}
	if err := json.Unmarshal(body, v); err != nil {
		return fmt.Errorf("get %s: body is not JSON: %w", u, ErrDocument)
	}
	return nil
}

// keys fetches a JWK set and returns its usable public keys, and how many
// entries it skipped (unknown key types, private keys).
func (c *Client) keys(ctx context.Context, jwksURI string) ([]jose.JSONWebKey, int, error) {
	var set struct {
		Keys []json.RawMessage `json:"keys"`
	}
	if err := c.getJSON(ctx, jwksURI, acceptKeySet, &set); err != nil {
		return nil, 0, err
	}
	if set.Keys == nil {
		return nil, 0, fmt.Errorf("get %s: no keys member: %w", jwksURI, ErrDocument)
	}
	// One key of an unknown type must not hide the others: parse each.
	var keys []jose.JSONWebKey
	skipped := 0
	for _, raw := range set.Keys {
		var k jose.JSONWebKey
		if err := k.UnmarshalJSON(raw); err != nil || !k.Valid() || !k.IsPublic() || k.Use == "enc" {
			skipped++
			continue
		}
		keys = append(keys, k)
	}
	return keys, skipped, nil
}

func describe(k jose.JSONWebKey) Key {
	kty := fmt.Sprintf("%T", k.Key)
	switch k.Key.(type) {
	case *rsa.PublicKey:
		kty = "RSA"
	case *ecdsa.PublicKey:
		kty = "EC"
	case ed25519.PublicKey:
		kty = "OKP"
	}
	return Key{ID: k.KeyID, Algorithm: k.Algorithm, Type: kty, Use: k.Use}
}

func keyList(keys []Key) string {
	if len(keys) == 0 {
		return "none"
	}
	s := make([]string, len(keys))
	for i, k := range keys {
		s[i] = k.String()
	}
	return strings.Join(s, ", ")
}

func algorithmList() string {
	s := make([]string, len(Algorithms))
	for i, a := range Algorithms {
		s[i] = string(a)
	}
	return strings.Join(s, ", ")
}

func orDash(s string) string {
	if s == "" {
		return "-"
	}
	return s
}
