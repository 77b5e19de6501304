package standin

import (
	"bytes"
	"context"
	"crypto/subtle"
	"log/slog"
	"net/http"
	"os"
	"sync"
	"time"
)

// PodIdentityPath is the credentials path of the EKS Pod Identity agent.
const PodIdentityPath = "/v1/credentials"

// PodIdentityOptions change a Pod Identity agent stand-in.
type PodIdentityOptions struct {
	// AccountID is returned with the credentials. Zero: "000000000000".
	AccountID string
	// Logger logs served credentials (masked key id, expiration). Zero: none.
	Logger *slog.Logger
	// Authorize decides whether the pod's token may have credentials, in
	// place of the comparison with the token file, as the real agent asks EKS
	// Auth: a non-empty refusal is answered 403 with it, an error 500. Zero:
	// the token must equal the token file's contents.
	Authorize func(ctx context.Context, token string) (refusal string, err error)
}

// tokenRefused is the agent's answer to a token that is not the pod's.
const tokenRefused = "Service account token is not valid"

// PodIdentity is an EKS Pod Identity agent: GET PodIdentityPath with an
// Authorization header equal to the pod's token file returns credentials from
// a MintFunc. A missing header gets 401, a wrong one 403.
//
// The token is compared with the file's current contents, or with its
// previous contents: the file may be rewritten between the client reading it
// and the agent doing so, and a rotated projected token stays valid anyway
// until it expires.
type PodIdentity struct {
	mint      MintFunc
	tokenFile string
	opts      PodIdentityOptions

	mu        sync.Mutex // guards cur, prev
	cur, prev []byte
}

// NewPodIdentity returns an agent that accepts the token in tokenFile and
// serves credentials from mint.
func NewPodIdentity(mint MintFunc, tokenFile string, opts PodIdentityOptions) *PodIdentity {
	if opts.AccountID == "" {
		opts.AccountID = "000000000000"
	}
	return &PodIdentity{mint: mint, tokenFile: tokenFile, opts: opts}
}

// podIdentityCredentials is the agent's response body.
type podIdentityCredentials struct {
	AccessKeyID     string `json:"AccessKeyId"`
	SecretAccessKey string
	Token           string
	AccountID       string `json:"AccountId"`
	Expiration      string
}

// ServeHTTP implements http.Handler.
func (p *PodIdentity) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if r.URL.Path != PodIdentityPath {
		http.NotFound(w, r)
		return
	}
	if r.Method != http.MethodGet {
		http.Error(w, "method not allowed", http.StatusMethodNotAllowed)
		return
	}
	got := r.Header.Get("Authorization")
	if got == "" {
		writeJSON(w, http.StatusUnauthorized, map[string]string{"code": "AccessDeniedException", "message": "Service account token cannot be empty"})
		return
	}
	refusal, err := p.authorize(r.Context(), got)
	if err != nil {
		if p.opts.Logger != nil {
			p.opts.Logger.Warn("pod identity token check failed", "err", err)
		}
		writeJSON(w, http.StatusInternalServerError, map[string]string{"code": "ServiceUnavailableException", "message": "token check failed"})
		return
	}
	if refusal != "" {
		if p.opts.Logger != nil {
			p.opts.Logger.Info("pod identity refused", "reason", refusal)
		}
		writeJSON(w, http.StatusForbidden, map[string]string{"code": "AccessDeniedException", "message": refusal})
		return
	}
	c, err := p.mint(r.Context())
	if err != nil {
		if p.opts.Logger != nil {
			p.opts.Logger.Warn("pod identity credentials failed", "err", err)
		}
		writeJSON(w, http.StatusInternalServerError, map[string]string{"code": "ServiceUnavailableException", "message": "credentials unavailable"})
		return
	}
	if p.opts.Logger != nil {
		p.opts.Logger.Info("pod identity credentials served",
			"access_key_id", maskKey(c.AccessKeyID), "expiration", c.Expiration.UTC())
	}
	writeJSON(w, http.StatusOK, podIdentityCredentials{
		AccessKeyID:     c.AccessKeyID,
		SecretAccessKey: c.SecretAccessKey,
		Token:           c.SessionToken,
		AccountID:       p.opts.AccountID,
		Expiration:      c.Expiration.UTC().Format(time.RFC3339),
	})
}

func (p *PodIdentity) authorize(ctx context.Context, token string) (string, error) {
	if p.opts.Authorize != nil {
		return p.opts.Authorize(ctx, token)
	}
	if !p.tokenFileHolds([]byte(token)) {
		return tokenRefused, nil
	}
	return "", nil
}

func (p *PodIdentity) tokenFileHolds(token []byte) bool {
	data, err := os.ReadFile(p.tokenFile)
	if err != nil || len(data) == 0 {
		return false
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	if !bytes.Equal(data, p.cur) {
		p.prev, p.cur = p.cur, data
	}
	return subtle.ConstantTimeCompare(token, p.cur) == 1 ||
		(len(p.prev) > 0 && subtle.ConstantTimeCompare(token, p.prev) == 1)
}
