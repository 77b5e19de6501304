package standin

import (
	"crypto"
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha1"
	_ "crypto/sha256" // thumbprint hash
	"encoding/base64"
	"fmt"
	"net/http"
	"regexp"
	"sync"
	"sync/atomic"
	"time"

	jose "github.com/go-jose/go-jose/v4"
	"github.com/go-jose/go-jose/v4/jwt"
)

// Audiences of the tokens the stand-ins use.
const (
	// AudienceSTS is the audience of IRSA tokens, and the client id MinIO's
	// OpenID provider must be configured with (MINIO_IDENTITY_OPENID_CLIENT_ID).
	AudienceSTS = "sts.amazonaws.com"
	// AudiencePodIdentity is the audience of EKS Pod Identity tokens.
	AudiencePodIdentity = "pods.eks.amazonaws.com"
)

const (
	// DiscoveryPath is the OIDC discovery document path under the issuer URL.
	DiscoveryPath = "/.well-known/openid-configuration"
	// JWKSPath is where the issuer serves its public keys, as kube-apiserver does.
	JWKSPath = "/openid/v1/jwks"
)

// ServiceAccount names the Kubernetes service account a token is for.
type ServiceAccount struct {
	Namespace string // zero: "default"
	Name      string // zero: "uploader"
	Pod       string // zero: Name + "-0"
}

func (sa ServiceAccount) withDefaults() ServiceAccount {
	if sa.Namespace == "" {
		sa.Namespace = "default"
	}
	if sa.Name == "" {
		sa.Name = "uploader"
	}
	if sa.Pod == "" {
		sa.Pod = sa.Name + "-0"
	}
	return sa
}

// Subject is the token subject: system:serviceaccount:<namespace>:<name>.
func (sa ServiceAccount) Subject() string {
	sa = sa.withDefaults()
	return "system:serviceaccount:" + sa.Namespace + ":" + sa.Name
}

// IssuerOptions change an Issuer.
type IssuerOptions struct {
	// Now is the clock. Zero: time.Now.
	Now func() time.Time
}

// Issuer is an OIDC issuer, as a cluster's service-account issuer is for
// IRSA: it serves a discovery document and JWKS, and signs tokens shaped like
// Kubernetes projected service-account tokens with a key made at start.
type Issuer struct {
	url  string
	opts IssuerOptions
	key  *rsa.PrivateKey
	kid  string
	jwks jose.JSONWebKeySet

	revoked atomic.Bool
	signed  atomic.Int64

	mu    sync.Mutex // guards rogue
	rogue jose.Signer
}

// NewIssuer returns an issuer whose tokens name url (http://127.0.0.1:port,
// the base URL it is served at) as iss.
func NewIssuer(url string, opts IssuerOptions) (*Issuer, error) {
	if opts.Now == nil {
		opts.Now = time.Now
	}
	key, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		return nil, fmt.Errorf("issuer key: %w", err)
	}
	pub := jose.JSONWebKey{Key: &key.PublicKey, Algorithm: string(jose.RS256), Use: "sig"}
	thumb, err := pub.Thumbprint(crypto.SHA256)
	if err != nil {
		return nil, fmt.Errorf("issuer key id: %w", err)
	}
	pub.KeyID = base64.RawURLEncoding.EncodeToString(thumb)
	return &Issuer{
		url:  url,
		opts: opts,
		key:  key,
		kid:  pub.KeyID,
		jwks: jose.JSONWebKeySet{Keys: []jose.JSONWebKey{pub}},
	}, nil
}

// URL returns the issuer URL (the iss claim).
func (i *Issuer) URL() string { return i.url }

// DiscoveryURL returns the URL of the discovery document, the value of
// MINIO_IDENTITY_OPENID_CONFIG_URL.
func (i *Issuer) DiscoveryURL() string { return i.url + DiscoveryPath }

// JWKS returns the issuer's public keys.
func (i *Issuer) JWKS() jose.JSONWebKeySet { return i.jwks }

// ServeHTTP serves the discovery document and the JWKS.
func (i *Issuer) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if r.Method != http.MethodGet && r.Method != http.MethodHead {
		http.Error(w, "method not allowed", http.StatusMethodNotAllowed)
		return
	}
	switch r.URL.Path {
	case DiscoveryPath:
		writeJSON(w, http.StatusOK, map[string]any{
			"issuer":                                i.url,
			"jwks_uri":                              i.url + JWKSPath,
			"response_types_supported":              []string{"id_token"},
			"subject_types_supported":               []string{"public"},
			"id_token_signing_alg_values_supported": []string{string(jose.RS256)},
			"claims_supported":                      []string{"sub", "iss"},
		})
	case JWKSPath:
		writeJSON(w, http.StatusOK, i.jwks)
	default:
		http.NotFound(w, r)
	}
}

// Claims are the claims of a Kubernetes projected service-account token.
type Claims struct {
	jwt.Claims
	Kubernetes KubernetesClaims `json:"kubernetes.io"`
}

// KubernetesClaims is the kubernetes.io claim.
type KubernetesClaims struct {
	Namespace      string  `json:"namespace"`
	Pod            NameUID `json:"pod"`
	ServiceAccount NameUID `json:"serviceaccount"`
}

// NameUID names a Kubernetes object.
type NameUID struct {
	Name string `json:"name"`
	UID  string `json:"uid"`
}

// Sign returns a token for sa with the given audience, valid for lifetime
// from now. While revoked it is signed by a key the JWKS does not hold.
func (i *Issuer) Sign(sa ServiceAccount, audience string, lifetime time.Duration) (string, error) {
	token, _, err := i.sign(sa, audience, lifetime)
	return token, err
}

// sign is Sign, also returning the token's expiry: the exp claim counts whole
// seconds, so a token ends up to a second before now+lifetime.
func (i *Issuer) sign(sa ServiceAccount, audience string, lifetime time.Duration) (string, time.Time, error) {
	sa = sa.withDefaults()
	now := i.opts.Now()
	exp := now.Add(lifetime).Truncate(time.Second)
	claims := Claims{
		Claims: jwt.Claims{
			Issuer:    i.url,
			Subject:   sa.Subject(),
			Audience:  jwt.Audience{audience},
			Expiry:    jwt.NewNumericDate(exp),
			NotBefore: jwt.NewNumericDate(now),
			IssuedAt:  jwt.NewNumericDate(now),
			ID:        uuid(),
		},
		Kubernetes: KubernetesClaims{
			Namespace:      sa.Namespace,
			Pod:            NameUID{Name: sa.Pod, UID: uuid()},
			ServiceAccount: NameUID{Name: sa.Name, UID: uuid()},
		},
	}
	signer, err := i.signer()
	if err != nil {
		return "", time.Time{}, err
	}
	token, err := jwt.Signed(signer).Claims(claims).Serialize()
	if err != nil {
		return "", time.Time{}, fmt.Errorf("sign token: %w", err)
	}
	i.signed.Add(1)
	return token, exp, nil
}

// TokenFunc returns a TokenFunc signing tokens for sa and audience that live
// for lifetime, for a TokenWriter. It reports the lifetime the token really
// has, exp being in whole seconds.
func (i *Issuer) TokenFunc(sa ServiceAccount, audience string, lifetime time.Duration) TokenFunc {
	return func() (string, time.Duration, error) {
		t, exp, err := i.sign(sa, audience, lifetime)
		return t, exp.Sub(i.opts.Now()), err
	}
}

// Signed returns how many tokens Sign has made.
func (i *Issuer) Signed() int64 { return i.signed.Load() }

// Revoke makes Sign use a key the JWKS does not publish, so MinIO refuses
// the tokens written from then on, until Restore.
func (i *Issuer) Revoke() { i.revoked.Store(true) }

// Restore ends Revoke.
func (i *Issuer) Restore() { i.revoked.Store(false) }

func (i *Issuer) signer() (jose.Signer, error) {
	opts := (&jose.SignerOptions{}).WithType("JWT").WithHeader("kid", i.kid)
	if !i.revoked.Load() {
		s, err := jose.NewSigner(jose.SigningKey{Algorithm: jose.RS256, Key: i.key}, opts)
		if err != nil {
			return nil, fmt.Errorf("token signer: %w", err)
		}
		return s, nil
	}
	i.mu.Lock()
	defer i.mu.Unlock()
	if i.rogue == nil {
		// Same kid, unpublished key: the signature does not verify.
		key, err := rsa.GenerateKey(rand.Reader, 2048)
		if err != nil {
			return nil, fmt.Errorf("revoked signer key: %w", err)
		}
		s, err := jose.NewSigner(jose.SigningKey{Algorithm: jose.RS256, Key: key}, opts)
		if err != nil {
			return nil, fmt.Errorf("revoked token signer: %w", err)
		}
		i.rogue = s
	}
	return i.rogue, nil
}

// MinIORoleARN returns the role ARN MinIO derives for an OpenID provider
// configured with MINIO_IDENTITY_OPENID_ROLE_POLICY: the resource id is the
// base64url SHA-1 of the client id, the region MinIO's configured one (none by
// default: arn:minio:iam:::role/...). MinIO prints it at start ("IAM Roles:
// ...", not with --quiet; see FindRoleARN) and `mc idp openid ls` lists it.
func MinIORoleARN(clientID, region string) string {
	sum := sha1.Sum([]byte(clientID))
	return "arn:minio:iam:" + region + "::role/" + base64.RawURLEncoding.EncodeToString(sum[:])
}

var roleARNPattern = regexp.MustCompile(`arn:minio:iam:[a-z0-9-]*::role/[A-Za-z0-9_-]+`)

// FindRoleARN returns the first MinIO role ARN in a MinIO server log.
func FindRoleARN(log string) (string, bool) {
	arn := roleARNPattern.FindString(log)
	return arn, arn != ""
}

func uuid() string {
	b := make([]byte, 16)
	_, _ = rand.Read(b)
	b[6] = b[6]&0x0f | 0x40
	b[8] = b[8]&0x3f | 0x80
	return fmt.Sprintf("%x-%x-%x-%x-%x", b[0:4], b[4:6], b[6:8], b[8:10], b[10:])
}
