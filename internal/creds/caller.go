package creds

import (
	"errors"
	"slices"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/aws/aws-sdk-go-v2/service/sts"
	"github.com/aws/smithy-go"
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

// callerNotImplemented follows the reason in Identity.CallerUnavailable when
// the STS endpoint does not implement GetCallerIdentity, so that a reader of
// "InvalidParameterValue (http 400)" does not look for a wrong parameter.
const callerNotImplemented = "this STS endpoint does not implement GetCallerIdentity " +
	"(S3-compatible stores such as MinIO do not; AWS STS does)"

// callerNotImplementedCodes are the answers of an STS endpoint that does not
// implement GetCallerIdentity. AWS STS implements it for every caller and it
// takes no parameter, so none of these can come from AWS: MinIO answers
// InvalidParameterValue ("Unsupported action GetCallerIdentity"), AWS-style
// query APIs InvalidAction for an action they do not know, others
// NotImplemented.
var callerNotImplementedCodes = []string{"InvalidParameterValue", "InvalidAction", "NotImplemented"}

// callerLookupNotImplemented reports whether err, from GetCallerIdentity,
// says the endpoint does not implement it.
func callerLookupNotImplemented(err error) bool {
	var api smithy.APIError
	return errors.As(err, &api) && slices.Contains(callerNotImplementedCodes, api.ErrorCode())
}
