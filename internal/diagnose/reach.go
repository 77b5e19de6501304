package diagnose

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/url"
	"strings"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/smithy-go"

	"github.com/eks-least-privilege/uploader/internal/creds"
	"github.com/eks-least-privilege/uploader/internal/failure"
)

// unreachable diagnoses an STS or S3 call that got no answer: a refused
// connection, no route, a name that did not resolve, or no answer before
// the deadline (sts_unreachable, s3_unreachable). It names the endpoint the
// SDK used, regional, global or set by AWS_ENDPOINT_URL_*, and the fixes of
// a private cluster. An answer, even a 5xx, is not this. fallback is the
// endpoint the client was configured with, for an error that does not name
// it (the SDK's error after a deadline names none); "" if unknown.
func unreachable(err error, fallback string) []Diagnosis {
	var op *smithy.OperationError
	if err == nil || !errors.As(err, &op) || failure.HTTPStatus(err) != 0 {
		return nil
	}
	what := unreachableHow(err)
	if what == "" {
		return nil
	}
	endpoint := urlOf(err)
	if endpoint == "" {
		endpoint = fallback
	}
	at := describeEndpoint(endpoint, op.ServiceID)
	switch op.ServiceID {
	case "STS":
		return stsUnreachable(op.OperationName, at, what)
	case "S3":
		return []Diagnosis{{
			Name:     S3Unreachable,
			Observed: fmt.Sprintf("S3 (%s) at %s: %s", op.OperationName, at, what),
			Fix: "from a private subnet S3 is reached through a gateway VPC endpoint (com.amazonaws.REGION.s3, in the route tables of the nodes' subnets) " +
				"or an interface endpoint (then AWS_ENDPOINT_URL_S3), else through a NAT gateway; the bucket's regional endpoint " +
				"s3.REGION.amazonaws.com needs AWS_REGION to be the bucket's region; a NetworkPolicy must allow egress to 443 (and DNS, 53)",
		}}
	}
	return nil
}

// unreachableCredentials is [unreachable] for a credential error, and
// more: when the deadline ends the wait for an IRSA exchange, the SDK's
// credential cache returns only "request canceled", without the STS call's
// error; in IRSA mode that wait is STS's. The endpoint, when the error does
// not name it, is the one the environment gives the SDK.
func unreachableCredentials(err error, mode creds.Mode, env Env) []Diagnosis {
	if d := unreachable(err, stsEndpoint(env)); d != nil || err == nil || mode != creds.ModeIRSA || failure.HTTPStatus(err) != 0 {
		return d
	}
	var canceled *aws.RequestCanceledError
	if !errors.As(err, &canceled) || !errors.Is(err, context.DeadlineExceeded) {
		return nil
	}
	return stsUnreachable("AssumeRoleWithWebIdentity", describeEndpoint(stsEndpoint(env), "STS"), unreachableHow(err))
}

// stsEndpoint is the STS endpoint the SDK uses for env: AWS_ENDPOINT_URL_STS,
// else AWS_ENDPOINT_URL, else the regional one of AWS_REGION.
func stsEndpoint(env Env) string {
	for _, k := range []string{"AWS_ENDPOINT_URL_STS", "AWS_ENDPOINT_URL"} {
		if v := env(k); v != "" {
			return v
		}
	}
	region := env("AWS_REGION")
	if region == "" {
		region = env("AWS_DEFAULT_REGION")
	}
	if region == "" || region == "aws-global" {
		return "https://sts.amazonaws.com"
	}
	return "https://sts." + region + ".amazonaws.com"
}

func stsUnreachable(operation, at, what string) []Diagnosis {
	return []Diagnosis{{
		Name:     STSUnreachable,
		Observed: fmt.Sprintf("STS (%s) at %s: %s", operation, at, what),
		Fix: "from a private subnet STS is reached through an interface VPC endpoint: create com.amazonaws.REGION.sts with private DNS " +
			"(its security group allowing 443 from the nodes); use the regional endpoint sts.REGION.amazonaws.com, which the SDK uses " +
			"with AWS_REGION set (the global sts.amazonaws.com has no VPC endpoint), or point AWS_ENDPOINT_URL_STS at the VPC endpoint's DNS name; " +
			"a NetworkPolicy must allow egress to 443 (and DNS, 53)",
	}}
}

// unreachableHow says how a request without an answer failed, or "" when
// err is not a network failure: failure.NetworkCause's verdict, worded for
// a person, with the name that did not resolve.
func unreachableHow(err error) string {
	var dns *net.DNSError
	if errors.As(err, &dns) {
		return fmt.Sprintf("the name %s did not resolve (DNS)", dns.Name)
	}
	switch cause := failure.NetworkCause(err); cause {
	case failure.ReasonOther:
		return ""
	case failure.ReasonTimeout:
		return "no answer before the deadline (timeout): packets dropped on the way, or the endpoint never answered"
	case failure.ReasonNetwork:
		var ne net.Error
		errors.As(err, &ne)
		return "network error: " + truncate(ne.Error(), 200)
	default:
		return cause
	}
}

// urlOf returns the URL of the request a transport error names, or "".
func urlOf(err error) string {
	var ue *url.Error
	if errors.As(err, &ue) {
		return ue.URL
	}
	return ""
}

// describeEndpoint is "SCHEME://HOST, the KIND endpoint", KIND telling the
// service's regional, global or VPC endpoint from a custom one.
func describeEndpoint(rawURL, service string) string {
	u, err := url.Parse(rawURL)
	if rawURL == "" || err != nil || u.Host == "" {
		return "its endpoint (unknown)"
	}
	host := strings.ToLower(u.Hostname())
	prefix := strings.ToLower(service)
	kind := "custom (AWS_ENDPOINT_URL_" + strings.ToUpper(service) + " or AWS_ENDPOINT_URL)"
	switch {
	case host == prefix+".amazonaws.com", strings.HasSuffix(host, "."+prefix+".amazonaws.com"):
		kind = "global"
	case strings.Contains(host, ".vpce.amazonaws.com"):
		kind = "VPC endpoint"
	case strings.HasSuffix(host, ".amazonaws.com") && (strings.HasPrefix(host, prefix+".") || strings.Contains(host, "."+prefix+".")),
		strings.HasSuffix(host, ".amazonaws.com.cn"), strings.HasSuffix(host, ".api.aws"):
		kind = "regional"
	}
	return u.Scheme + "://" + u.Host + ", the " + kind + " endpoint"
}
