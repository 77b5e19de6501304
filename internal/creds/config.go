package creds

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	awsconfig "github.com/aws/aws-sdk-go-v2/config"
)

// ExpiryWindow is how long before their expiry temporary credentials are
// refreshed (less up to half of it, jittered), so that a request signed just
// before expiry does not reach S3 just after it.
const ExpiryWindow = time.Minute

// ConfigHelp is what help says of the SDK's configuration: the region
// [LoadConfig] requires and the SDK's own variables.
const ConfigHelp = `AWS_REGION (or AWS_DEFAULT_REGION, or a region in the AWS profile) is required.
The SDK's own variables set endpoints, credentials and checksums, e.g. AWS_ENDPOINT_URL_S3,
AWS_ENDPOINT_URL_STS, AWS_PROFILE, AWS_ROLE_ARN, AWS_WEB_IDENTITY_TOKEN_FILE,
AWS_CONTAINER_CREDENTIALS_FULL_URI, AWS_REQUEST_CHECKSUM_CALCULATION.
`

// LoadConfig loads the SDK's configuration from the environment and the
// shared files, its credentials refreshed ExpiryWindow before they expire. A
// configuration without a region is an error that names AWS_REGION.
func LoadConfig(ctx context.Context) (aws.Config, error) {
	cfg, err := awsconfig.LoadDefaultConfig(ctx, awsconfig.WithCredentialsCacheOptions(func(o *aws.CredentialsCacheOptions) {
		o.ExpiryWindow = ExpiryWindow
		o.ExpiryWindowJitterFrac = 0.5
	}))
	if err != nil {
		return cfg, fmt.Errorf("AWS configuration: %w", err)
	}
	if cfg.Region == "" {
		// The SDK reads AWS_REGION, AWS_DEFAULT_REGION and the shared profile.
		return cfg, errors.New("AWS_REGION: required (or AWS_DEFAULT_REGION, or region in the AWS profile), not set")
	}
	return cfg, nil
}
