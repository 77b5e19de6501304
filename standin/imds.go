package standin

import (
	"encoding/json"
	"log/slog"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"
)

// IMDS header names (IMDSv2).
const (
	IMDSTokenHeader    = "X-Aws-Ec2-Metadata-Token"
	IMDSTokenTTLHeader = "X-Aws-Ec2-Metadata-Token-Ttl-Seconds"
)

const (
	imdsTokenPath = "/latest/api/token"
	imdsCredsPath = "/latest/meta-data/iam/security-credentials/"
	imdsInfoPath  = "/latest/meta-data/iam/info"
	maxTokenTTL   = 21600
)

// IMDSOptions change an IMDS stand-in.
type IMDSOptions struct {
	// RoleName is the instance profile role listed under
	// security-credentials/. Zero: "uploader-node-role".
	RoleName string
	// AccountID goes into the instance profile ARN. Zero: "000000000000".
	AccountID string
	// Logger logs served credentials (masked key id, expiration). Zero: none.
	Logger *slog.Logger
	// Now is the clock. Zero: time.Now.
	Now func() time.Time
}

// IMDS is an IMDSv2-only instance metadata service serving node-role
// credentials from a MintFunc. Requests without a valid session token get
// 401, as on an instance with HttpTokens=required, unless SetV1Allowed or
// SetV1Only says otherwise.
type IMDS struct {
	mint MintFunc
	opts IMDSOptions

	hopLimit atomic.Bool
	v1Only   atomic.Bool
	v1       atomic.Bool
	noRole   atomic.Bool

	mu     sync.Mutex // guards tokens
	tokens map[string]time.Time
}

// NewIMDS returns an IMDS stand-in serving credentials from mint.
func NewIMDS(mint MintFunc, opts IMDSOptions) *IMDS {
	if opts.RoleName == "" {
		opts.RoleName = "uploader-node-role"
	}
	if opts.AccountID == "" {
		opts.AccountID = "000000000000"
	}
	if opts.Now == nil {
		opts.Now = time.Now
	}
	return &IMDS{mint: mint, opts: opts, tokens: map[string]time.Time{}}
}

// SetHopLimitExceeded simulates a pod whose IMDSv2 token response is dropped
// because the instance's metadata hop limit is 1: PUT /latest/api/token never
// answers (until the client gives up), so IMDSv2 sessions cannot start.
func (s *IMDS) SetHopLimitExceeded(on bool) { s.hopLimit.Store(on) }

// SetV1Only simulates a metadata service without the IMDSv2 token API (an
// old IMDS, or a metadata proxy such as kube2iam that lacks it): PUT
// /latest/api/token answers 404 and requests without a token are served, so
// the SDK falls back to IMDSv1.
func (s *IMDS) SetV1Only(on bool) { s.v1Only.Store(on) }

// SetV1Allowed serves requests without a token too, as an instance with
// HttpTokens=optional does; IMDSv2 keeps working.
func (s *IMDS) SetV1Allowed(on bool) { s.v1.Store(on) }

// SetNoRole simulates an instance without an instance profile: the role list
// under security-credentials/ and iam/info answer 404.
func (s *IMDS) SetNoRole(on bool) { s.noRole.Store(on) }

// ServeHTTP implements http.Handler.
func (s *IMDS) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if r.URL.Path == imdsTokenPath {
		s.serveToken(w, r)
		return
	}
	if r.Method != http.MethodGet && r.Method != http.MethodHead {
		http.Error(w, "method not allowed", http.StatusMethodNotAllowed)
		return
	}
	if !s.validToken(r.Header.Get(IMDSTokenHeader)) && !s.v1Only.Load() && !s.v1.Load() {
		// IMDSv1 (no token) is disabled, as with HttpTokens=required.
		http.Error(w, "unauthorized", http.StatusUnauthorized)
		return
	}
	switch p := r.URL.Path; {
	case s.noRole.Load() && strings.HasPrefix(p, "/latest/meta-data/iam/"):
		http.NotFound(w, r)
	case p == imdsCredsPath:
		w.Header().Set("Content-Type", "text/plain")
		_, _ = w.Write([]byte(s.opts.RoleName))
	case p == imdsCredsPath+s.opts.RoleName:
		s.serveCredentials(w, r)
	case p == imdsInfoPath:
		writeJSON(w, http.StatusOK, map[string]string{
			"Code":               "Success",
			"LastUpdated":        s.opts.Now().UTC().Format(time.RFC3339),
			"InstanceProfileArn": "arn:aws:iam::" + s.opts.AccountID + ":instance-profile/" + s.opts.RoleName,
			"InstanceProfileId":  "AIPASTANDIN" + strings.ToUpper(s.opts.AccountID),
		})
	default:
		http.NotFound(w, r)
	}
}

func (s *IMDS) serveToken(w http.ResponseWriter, r *http.Request) {
	if r.Method != http.MethodPut {
		http.Error(w, "method not allowed", http.StatusMethodNotAllowed)
		return
	}
	if s.v1Only.Load() {
		http.NotFound(w, r)
		return
	}
	if s.hopLimit.Load() {
		// The response would be dropped one hop short of the pod: hang until
		// the client gives up or the server shuts down.
		<-r.Context().Done()
		return
	}
	// IMDS refuses token requests that went through a proxy.
	if r.Header.Get("X-Forwarded-For") != "" {
		http.Error(w, "forbidden", http.StatusForbidden)
		return
	}
	ttl, err := strconv.Atoi(r.Header.Get(IMDSTokenTTLHeader))
	if err != nil || ttl < 1 || ttl > maxTokenTTL {
		http.Error(w, "bad request: "+IMDSTokenTTLHeader+" must be 1-21600", http.StatusBadRequest)
		return
	}
	token := randomHex(24)
	now := s.opts.Now()
	s.mu.Lock()
	for t, exp := range s.tokens {
		if !now.Before(exp) {
			delete(s.tokens, t)
		}
	}
	s.tokens[token] = now.Add(time.Duration(ttl) * time.Second)
	s.mu.Unlock()
	w.Header().Set("Content-Type", "text/plain")
	w.Header().Set(IMDSTokenTTLHeader, strconv.Itoa(ttl))
	_, _ = w.Write([]byte(token))
}

func (s *IMDS) validToken(token string) bool {
	if token == "" {
		return false
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	exp, ok := s.tokens[token]
	return ok && s.opts.Now().Before(exp)
}

// imdsCredentials is the body of security-credentials/<role>.
type imdsCredentials struct {
	Code            string
	Message         string `json:",omitempty"`
	LastUpdated     string
	Type            string `json:",omitempty"`
	AccessKeyID     string `json:"AccessKeyId,omitempty"`
	SecretAccessKey string `json:",omitempty"`
	Token           string `json:",omitempty"`
	Expiration      string `json:",omitempty"`
}

func (s *IMDS) serveCredentials(w http.ResponseWriter, r *http.Request) {
	now := s.opts.Now().UTC()
	c, err := s.mint(r.Context())
	if err != nil {
		if s.opts.Logger != nil {
			s.opts.Logger.Warn("node role credentials failed", "err", err)
		}
		writeJSON(w, http.StatusInternalServerError, imdsCredentials{
			Code: "Failed", Message: "credentials unavailable", LastUpdated: now.Format(time.RFC3339),
		})
		return
	}
	if s.opts.Logger != nil {
		s.opts.Logger.Info("node role credentials served", "role", s.opts.RoleName,
			"access_key_id", maskKey(c.AccessKeyID), "expiration", c.Expiration.UTC())
	}
	writeJSON(w, http.StatusOK, imdsCredentials{
		Code:            "Success",
		LastUpdated:     now.Format(time.RFC3339),
		Type:            "AWS-HMAC",
		AccessKeyID:     c.AccessKeyID,
		SecretAccessKey: c.SecretAccessKey,
		Token:           c.SessionToken,
		Expiration:      c.Expiration.UTC().Format(time.RFC3339),
	})
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(v)
}
