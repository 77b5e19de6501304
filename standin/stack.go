package standin

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"path/filepath"
	"slices"
	"sync"
	"sync/atomic"
	"time"
)

// The stand-ins a Stack can serve; each is also a `standin` subcommand.
const (
	ServiceIMDS        = "imds"
	ServiceOIDC        = "oidc"
	ServicePodIdentity = "pod-identity"
)

// Services lists every stand-in service.
var Services = []string{ServiceIMDS, ServiceOIDC, ServicePodIdentity}

// StackOptions configure a Stack. Zero values are documented per field.
type StackOptions struct {
	// Listen is the address all stand-ins share. Zero: 127.0.0.1:0.
	Listen string
	// AllowNonLoopback permits a non-loopback Listen address.
	AllowNonLoopback bool
	// Services selects the stand-ins served. Zero: all of Services.
	Services []string
	// TokenDir holds the token files when IRSATokenFile or PodTokenFile is
	// zero; it must then be set.
	TokenDir string
	// IRSATokenFile is the web identity token file. Zero:
	// TokenDir/eks.amazonaws.com/serviceaccount/token.
	IRSATokenFile string
	// PodTokenFile is the Pod Identity token file. Zero:
	// TokenDir/pods.eks.amazonaws.com/serviceaccount/eks-pod-identity-token.
	PodTokenFile string
	// TokenLifetime is the lifetime of the tokens written; they are rewritten
	// at 80% of it. With IRSA, MinIO's credentials end when the token does.
	// Zero: 1h (the kubelet's usual expirationSeconds is 3607 to 86400).
	TokenLifetime time.Duration
	// ServiceAccount the tokens are for. Zero: default/uploader.
	ServiceAccount ServiceAccount
	// IRSAAudience is the aud of the IRSA tokens written. Zero: AudienceSTS.
	// Another value gets the tokens refused at MinIO's STS, as AWS STS refuses
	// a token whose audience the trust policy does not name.
	IRSAAudience string
	// MinIORegion is the region configured in MinIO (MINIO_SITE_REGION),
	// part of its role ARN. Zero: none, MinIO's default.
	MinIORegion string
	// RoleARN is the IRSA role ARN. Zero: MinIORoleARN(AudienceSTS, MinIORegion).
	RoleARN string
	// IssuerURL is the issuer the OIDC stand-in advertises, as MinIO reaches
	// it (docker compose: http://oidc:8080). Zero: the listener's URL.
	IssuerURL string
	// MinIOEndpoint is MinIO's URL, the STS endpoint of IRSA clients. Zero:
	// taken from the Minter given to UseMinter.
	MinIOEndpoint string
	// IMDS and PodIdentity options; their Logger defaults to Logger.
	IMDS        IMDSOptions
	PodIdentity PodIdentityOptions
	// Logger logs requests and token writes, never secrets. Zero: none.
	Logger *slog.Logger
}

// Stack serves the selected stand-ins on one loopback listener (their paths
// do not overlap) and keeps their token files fresh, until Close.
type Stack struct {
	// URL is the base URL of the stand-ins: http://127.0.0.1:port.
	URL string
	// Issuer, IMDS, PodIdentity, IRSAToken and PodToken are nil when their
	// service is not selected.
	Issuer      *Issuer
	IMDS        *IMDS
	PodIdentity *PodIdentity
	IRSAToken   *TokenWriter
	PodToken    *TokenWriter

	opts   StackOptions
	minter atomic.Pointer[Minter]
	srv    *Server
	cancel context.CancelFunc
	wg     sync.WaitGroup
}

// StartStack starts the stand-ins. Credentials are served once UseMinter has
// given a Minter; until then credential requests fail. The OIDC issuer is up
// when StartStack returns, so MinIO can be started with MinIOEnv afterwards.
func StartStack(opts StackOptions) (*Stack, error) {
	if opts.Listen == "" {
		opts.Listen = "127.0.0.1:0"
	}
	if len(opts.Services) == 0 {
		opts.Services = Services
	}
	for _, s := range opts.Services {
		if !slices.Contains(Services, s) {
			return nil, fmt.Errorf("start stand-ins: unknown service %q", s)
		}
	}
	if opts.TokenLifetime <= 0 {
		opts.TokenLifetime = time.Hour
	}
	if opts.RoleARN == "" {
		opts.RoleARN = MinIORoleARN(AudienceSTS, opts.MinIORegion)
	}
	if opts.IRSATokenFile == "" {
		opts.IRSATokenFile = filepath.Join(opts.TokenDir, "eks.amazonaws.com", "serviceaccount", "token")
	}
	if opts.PodTokenFile == "" {
		opts.PodTokenFile = filepath.Join(opts.TokenDir, "pods.eks.amazonaws.com", "serviceaccount", "eks-pod-identity-token")
	}
	if opts.TokenDir == "" && (!filepath.IsAbs(opts.IRSATokenFile) || !filepath.IsAbs(opts.PodTokenFile)) {
		return nil, errors.New("start stand-ins: TokenDir or absolute token file paths are required")
	}
	if opts.IMDS.Logger == nil {
		opts.IMDS.Logger = opts.Logger
	}
	if opts.PodIdentity.Logger == nil {
		opts.PodIdentity.Logger = opts.Logger
	}

	ln, err := Listen(opts.Listen, ListenOptions{AllowNonLoopback: opts.AllowNonLoopback})
	if err != nil {
		return nil, fmt.Errorf("start stand-ins: %w", err)
	}
	s := &Stack{URL: "http://" + ln.Addr().String(), opts: opts}
	has := func(name string) bool { return slices.Contains(opts.Services, name) }
	mux := http.NewServeMux()
	var writers []*TokenWriter

	// Pod Identity tokens are signed too, so the issuer exists for both.
	if has(ServiceOIDC) || has(ServicePodIdentity) {
		issuer := s.URL
		if opts.IssuerURL != "" {
			issuer = opts.IssuerURL
		}
		if s.Issuer, err = NewIssuer(issuer, IssuerOptions{}); err != nil {
			ln.Close()
			return nil, fmt.Errorf("start stand-ins: %w", err)
		}
	}
	wopts := TokenWriterOptions{Logger: opts.Logger}
	if has(ServiceOIDC) {
		mux.Handle(DiscoveryPath, s.Issuer)
		mux.Handle(JWKSPath, s.Issuer)
		s.IRSAToken = NewTokenWriter(opts.IRSATokenFile, s.Issuer.TokenFunc(opts.ServiceAccount, cmp.Or(opts.IRSAAudience, AudienceSTS), opts.TokenLifetime), wopts)
		writers = append(writers, s.IRSAToken)
	}
	if has(ServiceIMDS) {
		s.IMDS = NewIMDS(s.mint, opts.IMDS)
		mux.Handle("/latest/", s.IMDS)
	}
	if has(ServicePodIdentity) {
		s.PodToken = NewTokenWriter(opts.PodTokenFile, s.Issuer.TokenFunc(opts.ServiceAccount, AudiencePodIdentity, opts.TokenLifetime), wopts)
		writers = append(writers, s.PodToken)
		s.PodIdentity = NewPodIdentity(s.mint, opts.PodTokenFile, opts.PodIdentity)
		mux.Handle(PodIdentityPath, s.PodIdentity)
	}
	for _, w := range writers {
		if err := w.Write(); err != nil {
			ln.Close()
			return nil, fmt.Errorf("start stand-ins: %w", err)
		}
	}
	s.srv = Serve(ln, mux, opts.Logger)
	ctx, cancel := context.WithCancel(context.Background())
	s.cancel = cancel
	for _, w := range writers {
		s.wg.Go(func() { _ = w.Run(ctx) })
	}
	return s, nil
}

// UseMinter makes the IMDS and Pod Identity stand-ins serve credentials from
// m (the put-only user's), replacing any Minter given before.
func (s *Stack) UseMinter(m *Minter) { s.minter.Store(m) }

// Minter returns the Minter in use, or nil.
func (s *Stack) Minter() *Minter { return s.minter.Load() }

func (s *Stack) mint(ctx context.Context) (Credentials, error) {
	m := s.minter.Load()
	if m == nil {
		return Credentials{}, errors.New("mint credentials: no MinIO user configured")
	}
	return m.Mint(ctx)
}

// RoleARN returns the IRSA role ARN clients assume.
func (s *Stack) RoleARN() string { return s.opts.RoleARN }

// MinIOEnv returns the environment a MinIO server needs to accept the
// issuer's IRSA tokens, granting them the policy rolePolicy. MinIO fetches
// the discovery document at start, so it must start after the Stack. The
// client id is the tokens' audience; MINIO_IDENTITY_OPENID_CLAIM_NAME must
// stay unset, MinIO refuses it together with a role policy.
// It is empty when ServiceOIDC is not served.
func (s *Stack) MinIOEnv(rolePolicy string) []string {
	if s.IRSAToken == nil {
		return nil
	}
	return []string{
		"MINIO_IDENTITY_OPENID_CONFIG_URL=" + s.Issuer.DiscoveryURL(),
		"MINIO_IDENTITY_OPENID_CLIENT_ID=" + AudienceSTS,
		"MINIO_IDENTITY_OPENID_ROLE_POLICY=" + rolePolicy,
	}
}

// Env returns the AWS_* variables ("KEY=value") that point the SDK's default
// credential chain at the stand-in for mode: "node-role" (ServiceIMDS),
// "irsa" (ServiceOIDC) or "pod-identity". They carry no secret. Every mode
// gets AWS_ENDPOINT_URL_STS when the MinIO endpoint is known, so that no STS
// call (GetCallerIdentity included) leaves the machine.
func (s *Stack) Env(mode string) ([]string, error) {
	env, err := s.env(mode)
	if err != nil || mode == "irsa" || mode == ServiceOIDC {
		return env, err
	}
	if endpoint := s.stsEndpoint(); endpoint != "" {
		env = append(env, "AWS_ENDPOINT_URL_STS="+endpoint)
	}
	return env, nil
}

func (s *Stack) stsEndpoint() string {
	if s.opts.MinIOEndpoint != "" {
		return s.opts.MinIOEndpoint
	}
	if m := s.minter.Load(); m != nil {
		return m.Endpoint()
	}
	return ""
}

func (s *Stack) env(mode string) ([]string, error) {
	switch mode {
	case "node-role", ServiceIMDS:
		if s.IMDS == nil {
			return nil, errors.New("stand-in env: imds is not served")
		}
		return []string{
			"AWS_EC2_METADATA_DISABLED=false",
			"AWS_EC2_METADATA_SERVICE_ENDPOINT=" + s.URL,
		}, nil
	case "irsa", ServiceOIDC:
		if s.IRSAToken == nil {
			return nil, errors.New("stand-in env: oidc is not served")
		}
		endpoint := s.stsEndpoint()
		if endpoint == "" {
			return nil, errors.New("stand-in env: irsa needs the MinIO endpoint (MinIOEndpoint or UseMinter)")
		}
		return []string{
			"AWS_ROLE_ARN=" + s.opts.RoleARN,
			"AWS_WEB_IDENTITY_TOKEN_FILE=" + s.IRSAToken.Path(),
			"AWS_ROLE_SESSION_NAME=" + s.opts.ServiceAccount.withDefaults().Name,
			"AWS_ENDPOINT_URL_STS=" + endpoint,
		}, nil
	case ServicePodIdentity:
		if s.PodIdentity == nil {
			return nil, errors.New("stand-in env: pod-identity is not served")
		}
		return []string{
			"AWS_CONTAINER_CREDENTIALS_FULL_URI=" + s.URL + PodIdentityPath,
			"AWS_CONTAINER_AUTHORIZATION_TOKEN_FILE=" + s.PodToken.Path(),
		}, nil
	}
	return nil, fmt.Errorf("stand-in env: unknown mode %q", mode)
}

// Close stops the token writers and the server, waiting for requests in
// flight until ctx ends.
func (s *Stack) Close(ctx context.Context) error {
	s.cancel()
	s.wg.Wait()
	return s.srv.Shutdown(ctx)
}
