package main

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/s3"

	"github.com/eks-least-privilege/uploader/internal/creds"
	"github.com/eks-least-privilege/uploader/internal/cycle"
	"github.com/eks-least-privilege/uploader/internal/diagnose"
	"github.com/eks-least-privilege/uploader/internal/fetch"
	"github.com/eks-least-privilege/uploader/internal/privilege"
	"github.com/eks-least-privilege/uploader/internal/settings"
	"github.com/eks-least-privilege/uploader/internal/upload"
)

// config is the whole configuration, read from the environment once, into
// the types the program uses. The names are those of the walkthrough's
// manifests, so they keep working; endpoints and checksums use the SDK's own
// variables (AWS_ENDPOINT_URL_S3, ...).
//
// The bounds (min, max tags) are long enough for any real use and short
// enough that sums of them (the liveness window) stay meaningful.
// MAX_IMAGE_BYTES stops at 5 GiB, the largest object one S3 PutObject takes:
// far above any image, and well below what multipart uploads of the default
// 8 MiB parts can hold (10,000 parts, 78 GiB), let alone S3's 5 TiB.
type config struct {
	Bucket       string `envconfig:"S3_BUCKET_NAME" required:"true" desc:"bucket the images are written to"`
	KeyPrefix    string `envconfig:"S3_KEY_PREFIX" desc:"prefix of every object key, e.g. images/"`
	UsePathStyle bool   `envconfig:"S3_USE_PATH_STYLE" default:"false" desc:"path-style addressing, for MinIO and other S3-compatible stores"`

	SSE           upload.SSE       `envconfig:"S3_SSE" desc:"server-side encryption of each object: empty (the bucket's default), AES256, aws:kms or aws:kms:dsse"`
	SSEKMSKeyID   string           `envconfig:"S3_SSE_KMS_KEY_ID" desc:"with aws:kms*: the KMS key id, key ARN or alias ARN (empty: the bucket's default key, else aws/s3)"`
	BucketKey     bool             `envconfig:"S3_BUCKET_KEY_ENABLED" default:"false" desc:"with aws:kms: S3 Bucket Keys (fewer KMS calls; the encryption context is the bucket's ARN, not the object's)"`
	ExpectedOwner upload.AccountID `envconfig:"S3_EXPECTED_BUCKET_OWNER" desc:"12-digit account id the bucket must belong to, sent on every S3 request (x-amz-expected-bucket-owner); empty: not checked"`

	SourceURL     string           `envconfig:"IMAGE_SOURCE_URL" default:"https://picsum.photos/1024/768" desc:"http(s) URL answering with a random image, or builtin: for an image made in process"`
	MaxImageBytes settings.Decimal `envconfig:"MAX_IMAGE_BYTES" default:"33554432" min:"1" max:"5368709120" desc:"largest image accepted, in bytes (at most 5 GiB)"`
	FetchTimeout  time.Duration    `envconfig:"FETCH_TIMEOUT" default:"30s" min:"100ms" max:"1h" desc:"bound on one download, headers and body; the body streams into S3, so this bounds the upload too"`

	Interval        time.Duration    `envconfig:"UPLOAD_INTERVAL" default:"30s" min:"100ms" max:"24h" desc:"time between the starts of two cycles; the first starts at once"`
	Count           settings.Decimal `envconfig:"UPLOAD_COUNT" default:"0" min:"0" desc:"0 runs forever (Deployment); N exits 0 after N uploads (Job)"`
	MaxFailures     settings.Decimal `envconfig:"UPLOAD_MAX_CONSECUTIVE_FAILURES" default:"5" min:"1" desc:"Job mode exits non-zero after this many failed cycles in a row"`
	CycleTimeout    time.Duration    `envconfig:"UPLOAD_TIMEOUT" default:"2m" min:"100ms" max:"1h" desc:"deadline of one cycle: credentials, download and upload"`
	ShutdownTimeout time.Duration    `envconfig:"SHUTDOWN_TIMEOUT" default:"25s" min:"0s" max:"10m" desc:"on SIGTERM, time the upload in flight gets to finish; with the abort that may follow (4s) it stays below Kubernetes' 30s grace"`

	RequireModes   creds.ModeList       `envconfig:"REQUIRE_CREDENTIAL_MODE" desc:"comma list of allowed credential modes (static, node-role, irsa, pod-identity, ecs, shared-profile); refuse to start otherwise"`
	LeastPrivilege cycle.LeastPrivilege `envconfig:"LEAST_PRIVILEGE_CHECK" default:"off" desc:"off, warn or enforce: probe at start that the credentials can put objects and nothing more"`
	PodName        string               `envconfig:"POD_NAME" desc:"name used in object keys; defaults to the hostname"`
	MetricsAddr    string               `envconfig:"METRICS_ADDR" default:":9090" desc:"listen address of /metrics, /healthz and /readyz; empty disables"`
	LogFormat      settings.LogFormat   `envconfig:"LOG_FORMAT" default:"json" desc:"json or text"`
	LogLevel       settings.Level       `envconfig:"LOG_LEVEL" default:"info" desc:"debug, info, warn or error"`
}

// loadConfig reads the environment and validates it, reporting every problem
// at once, each naming its variable.
func loadConfig() (config, error) {
	var cfg config
	err := settings.Load(&cfg, cfg.validate)
	return cfg, err
}

// loadAll reads the uploader's configuration and the SDK's, and reports
// every problem of both at once.
func loadAll(ctx context.Context) (config, aws.Config, error) {
	cfg, problems := loadConfig()
	awsCfg, err := creds.LoadConfig(ctx)
	if err := errors.Join(problems, err); err != nil {
		return cfg, awsCfg, fmt.Errorf("invalid configuration (see uploader help):\n%w", err)
	}
	return cfg, awsCfg, nil
}

func (c *config) validate() []error {
	var p []error
	bad := func(name, format string, args ...any) {
		p = append(p, fmt.Errorf("%s: "+format, append([]any{name}, args...)...))
	}
	if c.Bucket == "" {
		bad("S3_BUCKET_NAME", "required, not set")
	} else if err := upload.CheckBucket(c.Bucket); err != nil {
		bad("S3_BUCKET_NAME", "%v", err)
	}
	if err := upload.CheckPrefix(c.KeyPrefix); err != nil {
		bad("S3_KEY_PREFIX", "%v", err)
	}
	p = append(p, c.encryption().Problems()...)
	if fetch.CheckSource(c.SourceURL) != nil {
		bad("IMAGE_SOURCE_URL", "must be an http(s) URL or builtin:, got %q", fetch.RedactURL(c.SourceURL))
	}
	if c.MetricsAddr != "" {
		if _, _, err := net.SplitHostPort(c.MetricsAddr); err != nil {
			bad("METRICS_ADDR", "must be host:port, got %q", c.MetricsAddr)
		}
	}
	return p
}

// encryption is what every write asks S3 for.
func (c *config) encryption() upload.Encryption {
	return upload.Encryption{SSE: c.SSE, KMSKeyID: c.SSEKMSKeyID, BucketKey: c.BucketKey}
}

// checkOptions make the least-privilege probes carry what the uploads do.
func (c *config) checkOptions() privilege.Options {
	return privilege.Options{Encryption: c.encryption(), ExpectedBucketOwner: c.ExpectedOwner}
}

// store is what the S3 requests carry and where they go, for the
// diagnoses of their failures.
func (c *config) store(client *s3.Client) diagnose.Store {
	return diagnose.Store{Encryption: c.encryption(), ExpectedOwner: c.ExpectedOwner, Endpoint: upload.Endpoint(client)}
}

// LogValue is the effective configuration for the start line, each variable
// under its lower-cased name; the image source's password and query hidden.
func (c config) LogValue() slog.Value {
	return settings.LogValue(c, map[string]func(string) string{"image_source_url": fetch.RedactURL})
}
