package diagnose

import (
	"errors"
	"fmt"
	"slices"
	"strings"

	"github.com/aws/smithy-go"
)

// checksumCodes are the S3 error codes of a store that cannot verify the
// SDK's payload hash or checksum.
var checksumCodes = []string{"XAmzContentSHA256Mismatch", "BadDigest", "InvalidDigest"}

// checksumHints are message parts of a store that refuses aws-chunked
// uploads or their trailing checksum.
var checksumHints = []string{"chunk too big", "trailer", "x-amz-checksum", "x-amz-content-sha256", "aws-chunked", "streaming-unsigned-payload", "content-encoding"}

// checksum diagnoses an S3 error of a store that refuses the SDK's request
// checksums (the default since SDK v1.73 of service/s3): a payload-hash or
// digest mismatch, or a refused aws-chunked encoding or trailer.
func checksum(err error) []Diagnosis {
	var api smithy.APIError
	if err == nil || !errors.As(err, &api) {
		return nil
	}
	code, msg := api.ErrorCode(), strings.ToLower(api.ErrorMessage())
	hinted := slices.ContainsFunc(checksumHints, func(h string) bool { return strings.Contains(msg, h) })
	if !slices.Contains(checksumCodes, code) &&
		!(hinted && slices.Contains([]string{"NotImplemented", "InvalidArgument", "InvalidRequest", "BadRequest", "EntityTooLarge"}, code)) {
		return nil
	}
	return []Diagnosis{{
		Name:     ChecksumRejected,
		Observed: fmt.Sprintf("the S3 store refused the request's checksum or encoding: %s %q", code, truncate(api.ErrorMessage(), 200)),
		Fix: "an S3-compatible store that does not support the SDK's default request checksums (aws-chunked with a trailing CRC32): " +
			"set AWS_REQUEST_CHECKSUM_CALCULATION=when_required (and AWS_RESPONSE_CHECKSUM_VALIDATION=when_required); " +
			"what is lost: the store no longer verifies a CRC32 of each upload end to end, so only TLS (and the signed payload hash, where the body can be hashed) protects the bytes in transit",
	}}
}

func truncate(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return s[:n] + "…"
}
