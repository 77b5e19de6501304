package upload

import (
	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/s3"
)

// DefaultMaxAttempts is the SDK retryer's attempt limit when
// ClientOptions.MaxAttempts is zero.
const DefaultMaxAttempts = 3

// ClientOptions adjust the S3 client built by NewClient. The endpoint is not
// here: the SDK reads AWS_ENDPOINT_URL_S3 / AWS_ENDPOINT_URL itself in
// config.LoadDefaultConfig.
type ClientOptions struct {
	// UsePathStyle addresses buckets as https://host/bucket/key instead of
	// https://bucket.host/key; MinIO and other stand-ins need it
	// (S3_USE_PATH_STYLE=true).
	UsePathStyle bool
	// MaxAttempts bounds the SDK's retryer (attempts per request, first one
	// included). Zero means DefaultMaxAttempts.
	MaxAttempts int
}

// NewClient returns an S3 client from cfg (config.LoadDefaultConfig) with
// opts applied. Request checksums are turned on (CRC32, "when supported")
// if cfg leaves them unset.
func NewClient(cfg aws.Config, opts ClientOptions) *s3.Client {
	if opts.MaxAttempts <= 0 {
		opts.MaxAttempts = DefaultMaxAttempts
	}
	return s3.NewFromConfig(cfg, func(o *s3.Options) {
		o.UsePathStyle = opts.UsePathStyle
		o.RetryMaxAttempts = opts.MaxAttempts
		if o.RequestChecksumCalculation == aws.RequestChecksumCalculationUnset {
			o.RequestChecksumCalculation = aws.RequestChecksumCalculationWhenSupported
		}
	})
}
