package upload

import (
	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/s3"
)

// ClientOptions adjust the S3 client built by NewClient. The endpoint, retry
// limit (3 attempts unless AWS_MAX_ATTEMPTS says otherwise) and checksums
// (CRC32 when supported) are not here: config.LoadDefaultConfig reads them
// from the SDK's own variables.
type ClientOptions struct {
	// UsePathStyle addresses buckets as https://host/bucket/key instead of
	// https://bucket.host/key; MinIO and other stand-ins need it
	// (S3_USE_PATH_STYLE=true).
	UsePathStyle bool
}

// Endpoint is the S3 endpoint client sends to, for messages: its
// BaseEndpoint (AWS_ENDPOINT_URL_S3), else the region's.
func Endpoint(client *s3.Client) string {
	o := client.Options()
	if o.BaseEndpoint != nil {
		return *o.BaseEndpoint
	}
	return "https://s3." + o.Region + ".amazonaws.com"
}

// NewClient returns an S3 client from cfg (config.LoadDefaultConfig) with
// opts applied.
func NewClient(cfg aws.Config, opts ClientOptions) *s3.Client {
	return s3.NewFromConfig(cfg, func(o *s3.Options) {
		o.UsePathStyle = opts.UsePathStyle
	})
}
