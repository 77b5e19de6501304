package standin

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"net/http"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/sts"
)

// MinDuration is the shortest session MinIO's STS grants (DurationSeconds 900).
const MinDuration = 15 * time.Minute

// Credentials are temporary AWS credentials as a stand-in serves them.
type Credentials struct {
	AccessKeyID     string
	SecretAccessKey string
	SessionToken    string
	// Expiration is the time the stand-in advertises; it may be earlier than
	// the time the credentials really stop working (MinterOptions.Advertise).
	Expiration time.Time
}

// MintFunc returns fresh temporary credentials. Minter.Mint is one.
type MintFunc func(ctx context.Context) (Credentials, error)

// MinterOptions change how a Minter asks MinIO for credentials.
type MinterOptions struct {
	// Region signs the STS request. Zero: us-east-1.
	Region string
	// Duration is the DurationSeconds asked of MinIO. Zero: MinDuration,
	// MinIO's minimum; a shorter one is refused by MinIO.
	Duration time.Duration
	// Advertise, when > 0 and shorter than Duration, is the lifetime put in the
	// advertised Expiration, so that SDK clients refresh that early while the
	// credentials themselves stay valid for Duration. Rotation tests use it to
	// see many refreshes in seconds. Note: the SDK's container (Pod Identity)
	// provider refreshes 5 minutes before the advertised Expiration, so with
	// Advertise under 5 minutes it refreshes before every request.
	Advertise time.Duration
	// RoleARN is sent as AssumeRole's RoleArn, which MinIO ignores (the
	// credentials inherit the user's policy). Zero: a placeholder ARN.
	RoleARN string
	// HTTPClient calls MinIO. Zero: a client with a 10s timeout.
	HTTPClient *http.Client
	// Now is the clock. Zero: time.Now.
	Now func() time.Time
}

// Minter mints temporary credentials for one MinIO user with STS AssumeRole,
// so they carry exactly that user's permissions.
type Minter struct {
	endpoint string
	client   *sts.Client
	opts     MinterOptions

	revoked atomic.Bool
	minted  atomic.Int64

	mu      sync.Mutex // guards invalid and secrets
	invalid Credentials
	secrets []string
}

// NewMinter returns a Minter for the user accessKey/secretKey of the MinIO
// server at endpoint (http://127.0.0.1:9000).
func NewMinter(endpoint, accessKey, secretKey string, opts MinterOptions) *Minter {
	if opts.Region == "" {
		opts.Region = "us-east-1"
	}
	if opts.Duration <= 0 {
		opts.Duration = MinDuration
	}
	if opts.RoleARN == "" {
		opts.RoleARN = "arn:aws:iam::000000000000:role/standin"
	}
	if opts.HTTPClient == nil {
		opts.HTTPClient = &http.Client{Timeout: 10 * time.Second}
	}
	if opts.Now == nil {
		opts.Now = time.Now
	}
	client := sts.New(sts.Options{
		Region:       opts.Region,
		BaseEndpoint: aws.String(endpoint),
		Credentials:  credentials.NewStaticCredentialsProvider(accessKey, secretKey, ""),
		HTTPClient:   opts.HTTPClient,
		// Bounded: one retry at most, the caller is a stand-in answering a client.
		RetryMaxAttempts: 2,
	})
	return &Minter{endpoint: endpoint, client: client, opts: opts}
}

// Mint returns fresh credentials from MinIO's AssumeRole. While revoked it
// returns well-formed credentials MinIO does not know (see Revoke).
func (m *Minter) Mint(ctx context.Context) (Credentials, error) {
	if m.revoked.Load() {
		return m.invalidCredentials(), nil
	}
	now := m.opts.Now()
	out, err := m.client.AssumeRole(ctx, &sts.AssumeRoleInput{
		RoleArn:         aws.String(m.opts.RoleARN),
		RoleSessionName: aws.String(fmt.Sprintf("standin-%d", now.UnixNano())),
		DurationSeconds: aws.Int32(int32(m.opts.Duration / time.Second)),
	})
	if err != nil {
		return Credentials{}, fmt.Errorf("mint credentials: assume role: %w", err)
	}
	if out.Credentials == nil {
		return Credentials{}, fmt.Errorf("mint credentials: assume role: no credentials in response")
	}
	c := Credentials{
		AccessKeyID:     aws.ToString(out.Credentials.AccessKeyId),
		SecretAccessKey: aws.ToString(out.Credentials.SecretAccessKey),
		SessionToken:    aws.ToString(out.Credentials.SessionToken),
		Expiration:      aws.ToTime(out.Credentials.Expiration),
	}
	if m.opts.Advertise > 0 {
		if adv := now.Add(m.opts.Advertise); adv.Before(c.Expiration) {
			c.Expiration = adv
		}
	}
	m.minted.Add(1)
	m.mu.Lock()
	m.secrets = append(m.secrets, c.SecretAccessKey, c.SessionToken)
	m.mu.Unlock()
	return c, nil
}

// Secrets returns the secret keys and session tokens minted so far, so that a
// test can prove none of them reaches a log, a metric or an error.
func (m *Minter) Secrets() []string {
	m.mu.Lock()
	defer m.mu.Unlock()
	return append([]string(nil), m.secrets...)
}

// Endpoint returns the MinIO endpoint the Minter asks.
func (m *Minter) Endpoint() string { return m.endpoint }

// Minted returns how many credentials Mint has obtained from MinIO.
func (m *Minter) Minted() int64 { return m.minted.Load() }

// Revoke makes Mint serve credentials that MinIO rejects (InvalidAccessKeyId)
// until Restore: the stand-in keeps answering, as an identity service does
// when a role's access is withdrawn, and the client fails at S3. Failing the
// credential request instead would not show a revocation: the SDK's IMDS
// provider keeps using the previous credentials when a refresh fails, and
// those stay valid at MinIO.
func (m *Minter) Revoke() { m.revoked.Store(true) }

// Restore ends Revoke: Mint serves valid credentials again. Clients pick them
// up at their next refresh, i.e. by the advertised Expiration.
func (m *Minter) Restore() { m.revoked.Store(false) }

// Revoked reports whether Revoke is in effect.
func (m *Minter) Revoked() bool { return m.revoked.Load() }

func (m *Minter) invalidCredentials() Credentials {
	m.mu.Lock()
	defer m.mu.Unlock()
	lifetime := m.opts.Advertise
	if lifetime <= 0 {
		lifetime = m.opts.Duration
	}
	exp := m.opts.Now().Add(lifetime)
	if m.invalid.AccessKeyID == "" {
		m.invalid = Credentials{
			AccessKeyID:     "ASIAREVOKED" + strings.ToUpper(randomHex(5)),
			SecretAccessKey: randomHex(20),
			SessionToken:    randomHex(32),
		}
	}
	c := m.invalid
	c.Expiration = exp
	return c
}

func randomHex(n int) string {
	b := make([]byte, n)
	_, _ = rand.Read(b)
	return hex.EncodeToString(b)
}

// maskKey shows the first 4 characters of an access key id, for logs.
func maskKey(id string) string {
	if len(id) <= 4 {
		return "****"
	}
	return id[:4] + "****"
}
