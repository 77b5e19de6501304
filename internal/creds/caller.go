package creds

import (
	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/aws/aws-sdk-go-v2/service/sts"
)

// CallerNotLookedUp is Identity.CallerUnavailable when S3 has a custom
// endpoint (a local store such as MinIO) and STS has none: the lookup would
// go to public STS, a request signed with the local store's access key id
// leaving the machine, so it is not made. It names what would enable it.
const CallerNotLookedUp = "not looked up: S3 has a custom endpoint and STS none, " +
	"so the request would go to public STS; set AWS_ENDPOINT_URL_STS (or AWS_ENDPOINT_URL, " +
	"or services in the profile) to look it up"

// callerLookupAllowed reports whether the caller identity may be asked of
// the STS that cfg resolves to. Both endpoints are the ones the SDK's clients
// resolve from cfg: AWS_ENDPOINT_URL_S3 / AWS_ENDPOINT_URL_STS,
// AWS_ENDPOINT_URL, the profile's services section, cfg.BaseEndpoint, and
// AWS_IGNORE_CONFIGURED_ENDPOINT_URLS.
func callerLookupAllowed(cfg aws.Config) bool {
	customS3 := s3.NewFromConfig(cfg).Options().BaseEndpoint != nil
	customSTS := sts.NewFromConfig(cfg).Options().BaseEndpoint != nil
	return customSTS || !customS3
}
