package diagnose

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"syscall"
	"time"

	awsmiddleware "github.com/aws/aws-sdk-go-v2/aws/middleware"
	"github.com/aws/smithy-go"
	"github.com/aws/smithy-go/middleware"
	smithyhttp "github.com/aws/smithy-go/transport/http"
	"github.com/eks-least-privilege/uploader/internal/creds"
	"github.com/eks-least-privilege/uploader/internal/failure"
)

// PodIdentityAgent diagnoses a credential error of the container endpoint
// (pod-identity mode) that is a refused connection or a timeout: the agent's
// address and the usual causes. Answers of the agent (4xx, 5xx) are not this.
func PodIdentityAgent(err error, mode creds.Mode, env Env) []Diagnosis {
	if err == nil || mode != creds.ModePodIdentity {
		return nil
	}
	var status interface{ HTTPStatusCode() int }
	if errors.As(err, &status) && status.HTTPStatusCode() != 0 {
		return nil
	}
	var what string
	var ne net.Error
	switch {
	case errors.Is(err, syscall.ECONNREFUSED):
		what = "connection refused"
	case errors.Is(err, syscall.EHOSTUNREACH), errors.Is(err, syscall.ENETUNREACH):
		what = "no route"
	case errors.Is(err, context.DeadlineExceeded), errors.As(err, &ne) && ne.Timeout():
		what = "no answer (timeout)"
	default:
		return nil
	}
	addr := env(EnvContainerFullURI)
	if u, perr := url.Parse(addr); perr == nil && u.Host != "" {
		addr = u.Host
	}
	return []Diagnosis{{
		Name:     PodIdentityAgentUnreachable,
		Observed: fmt.Sprintf("the EKS Pod Identity agent at %s: %s", addr, what),
		Fix: "is the eks-pod-identity-agent add-on installed and running on this node (kubectl -n kube-system get ds eks-pod-identity-agent)? " +
			"a NetworkPolicy must allow egress to 169.254.170.23:80 (and [fd00:ec2::23]:80); hostNetwork pods and Fargate are not served by the agent",
	}}
}

// ClockSkewLimit is how far a response Date may be from the local clock
// before it is a diagnosis: SigV4 allows 5 minutes at STS and 15 at S3.
const ClockSkewLimit = 5 * time.Minute

// Clock diagnoses a clock off from the service's: an error coded
// RequestTimeTooSkewed (or STS's "Signature expired"), or a response Date
// more than ClockSkewLimit from local. date is the Date header of a response
// (zero: unknown; see [ResponseDate]); when zero it is taken from err's
// response, if any.
func Clock(err error, date, local time.Time) []Diagnosis {
	if date.IsZero() {
		date = errorDate(err)
	}
	var api smithy.APIError
	coded := err != nil && errors.As(err, &api) &&
		(failure.Classify(err) == failure.KindClockSkew || strings.Contains(api.ErrorMessage(), "Signature expired"))
	skew := local.Sub(date)
	far := !date.IsZero() && (skew > ClockSkewLimit || skew < -ClockSkewLimit)
	if !coded && !far {
		return nil
	}
	obs := "the service's clock differs from the local one"
	if coded {
		obs = "the service refused the request time (" + api.ErrorCode() + ")"
	}
	if !date.IsZero() {
		dir := "ahead of"
		if skew < 0 {
			dir, skew = "behind", -skew
		}
		obs += fmt.Sprintf(": the local clock is %s %s the service's (local %s, service Date %s)",
			skew.Round(time.Second), dir, stamp(local), stamp(date))
	}
	return []Diagnosis{{
		Name:     ClockSkew,
		Observed: obs,
		Fix:      "synchronise the node's clock (chrony with the Amazon Time Sync Service, 169.254.169.123); requests are signed with the local time",
	}}
}

// ResponseDate returns the service's Date of an SDK operation's response,
// from its result metadata (PutObjectOutput.ResultMetadata), or zero.
func ResponseDate(md middleware.Metadata) time.Time {
	t, _ := awsmiddleware.GetServerTime(md)
	return t
}

func errorDate(err error) time.Time {
	var re *smithyhttp.ResponseError
	if err == nil || !errors.As(err, &re) || re.Response == nil {
		return time.Time{}
	}
	return parseDate(re.Response.Header.Get("Date"))
}

func parseDate(s string) time.Time {
	if s == "" {
		return time.Time{}
	}
	t, err := http.ParseTime(s)
	if err != nil {
		return time.Time{}
	}
	return t
}

// checksumCodes are the S3 error codes of a store that cannot verify the
// SDK's payload hash or checksum.
var checksumCodes = []string{"XAmzContentSHA256Mismatch", "BadDigest", "InvalidDigest"}

// checksumHints are message parts of a store that refuses aws-chunked
// uploads or their trailing checksum.
var checksumHints = []string{"chunk too big", "trailer", "x-amz-checksum", "x-amz-content-sha256", "aws-chunked", "streaming-unsigned-payload", "content-encoding"}

// Checksum diagnoses an S3 error of a store that refuses the SDK's request
// checksums (the default since SDK v1.73 of service/s3): a payload-hash or
// digest mismatch, or a refused aws-chunked encoding or trailer.
func Checksum(err error) []Diagnosis {
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

// Refresh diagnoses a failed credential refresh while the credentials last
// retrieved still work: err is the refresh's error, last the identity
// retrieved before it (with its expiry). It says how long is left, and what
// to look at for the mode.
func Refresh(err error, last creds.Identity, now time.Time) []Diagnosis {
	if err == nil || !last.CanExpire || !now.Before(last.Expires) {
		return nil
	}
	left := last.Expires.Sub(now).Round(time.Second)
	fix := map[creds.Mode]string{
		creds.ModeIRSA:        "the projected token file (token_file_*), STS reachability (AWS_ENDPOINT_URL_STS, a NetworkPolicy) and the role's trust policy",
		creds.ModePodIdentity: "the eks-pod-identity-agent on this node and the Pod Identity association",
		creds.ModeNodeRole:    "instance metadata (imds_* diagnoses)",
	}[last.Mode]
	if fix == "" {
		fix = "the credential source " + last.Source
	}
	return []Diagnosis{{
		Name: CredentialsRefreshFailing,
		Observed: fmt.Sprintf("refreshing the %s credentials failed (%s) while the current ones still work until %s (%s left)",
			last.Mode, creds.Reason(err), stamp(last.Expires), left),
		Fix: "fix it before they expire: check " + fix,
	}}
}

// Storage diagnoses a failed S3 call (an upload, a probe of `uploader
// check`): checksums the store refuses, and a clock off from the store's.
func Storage(err error, now time.Time) List {
	return append(Checksum(err), Clock(err, time.Time{}, now)...)
}
