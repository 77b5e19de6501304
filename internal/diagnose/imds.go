package diagnose

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strings"
	"time"

	"github.com/aws/aws-sdk-go-v2/feature/ec2/imds"
	"github.com/aws/smithy-go"
	"github.com/eks-least-privilege/uploader/internal/creds"
	"github.com/eks-least-privilege/uploader/internal/failure"
)

// IMDS paths and headers (IMDSv2).
const (
	imdsTokenPath    = "/latest/api/token"
	imdsRolesPath    = "/latest/meta-data/iam/security-credentials/"
	imdsTokenHeader  = "X-Aws-Ec2-Metadata-Token"
	imdsTTLHeader    = "X-Aws-Ec2-Metadata-Token-Ttl-Seconds"
	imdsDefaultIPv4  = "http://169.254.169.254"
	imdsDefaultIPv6  = "http://[fd00:ec2::254]"
	imdsEndpointVar  = "AWS_EC2_METADATA_SERVICE_ENDPOINT"
	imdsModeVar      = "AWS_EC2_METADATA_SERVICE_ENDPOINT_MODE"
	imdsDisabledVar  = "AWS_EC2_METADATA_DISABLED"
	imdsProbeTimeout = time.Second
)

// imdsEndpoint returns the IMDS endpoint the SDK uses, from
// AWS_EC2_METADATA_SERVICE_ENDPOINT or its mode, and false when IMDS is
// disabled (AWS_EC2_METADATA_DISABLED=true).
func imdsEndpoint(env Env) (string, bool) {
	if strings.EqualFold(env(imdsDisabledVar), "true") {
		return "", false
	}
	if e := env(imdsEndpointVar); e != "" {
		return strings.TrimRight(e, "/"), true
	}
	if strings.EqualFold(env(imdsModeVar), "IPv6") {
		return imdsDefaultIPv6, true
	}
	return imdsDefaultIPv4, true
}

// answer is what one HTTP request got: a status, or no answer.
type answer struct {
	Status int // 0: no HTTP answer
	// Timeout is true when nothing answered within the bound; false with
	// Status 0 means the connection failed (refused, no route).
	Timeout bool
	Err     string // the network error, for Observed; never a body
}

// answered reports whether an HTTP status came back.
func (a answer) answered() bool { return a.Status != 0 }

func (a answer) String() string {
	switch {
	case a.answered():
		return fmt.Sprintf("HTTP %d", a.Status)
	case a.Timeout:
		return "no answer (timeout)"
	}
	return "no connection (" + a.Err + ")"
}

// imdsProbe is what an instance metadata service answered to the three
// requests that tell its failures apart.
type imdsProbe struct {
	Endpoint string
	Token    answer // PUT /latest/api/token (IMDSv2)
	// Roles is GET /latest/meta-data/iam/security-credentials/: with the
	// token when Token is 200, else without one (IMDSv1).
	Roles    answer
	WithV2   bool   // Roles was asked with the IMDSv2 token
	RoleName string // the first role listed, when Roles is 200
}

// probeIMDS asks endpoint for a token and the role list, each bounded by 1s
// (a hop-limited token response never comes). client must not follow
// redirects; nil means a fresh client. No credentials are requested.
func probeIMDS(ctx context.Context, client *http.Client, endpoint string) imdsProbe {
	if client == nil {
		client = &http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	}
	p := imdsProbe{Endpoint: endpoint}
	var token string
	p.Token, token = imdsCall(ctx, client, http.MethodPut, endpoint+imdsTokenPath, map[string]string{imdsTTLHeader: "60"})
	h := map[string]string{}
	if p.Token.Status == http.StatusOK && token != "" {
		h[imdsTokenHeader], p.WithV2 = token, true
	}
	var roles string
	p.Roles, roles = imdsCall(ctx, client, http.MethodGet, endpoint+imdsRolesPath, h)
	if p.Roles.Status == http.StatusOK {
		p.RoleName, _, _ = strings.Cut(strings.TrimSpace(roles), "\n")
	}
	return p
}

// imdsCall makes one bounded request and returns its answer and up to 4 KiB
// of body (a token or a role list: never credentials, which are not asked).
func imdsCall(ctx context.Context, client *http.Client, method, url string, headers map[string]string) (answer, string) {
	ctx, cancel := context.WithTimeout(ctx, imdsProbeTimeout)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, method, url, nil)
	if err != nil {
		return answer{Err: "bad endpoint"}, ""
	}
	for k, v := range headers {
		req.Header.Set(k, v)
	}
	resp, err := client.Do(req)
	if err != nil {
		cause := failure.NetworkCause(err)
		return answer{Timeout: cause == failure.ReasonTimeout, Err: cause}, ""
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(io.LimitReader(resp.Body, 4<<10))
	return answer{Status: resp.StatusCode}, string(body)
}

const imdsFixHopLimit = "raise the instance metadata hop limit to 2 so the IMDSv2 token reaches containers " +
	"(aws ec2 modify-instance-metadata-options --http-put-response-hop-limit 2, or the launch template's MetadataOptions); " +
	"better, give the pod its own role with IRSA or EKS Pod Identity instead of the node's"

// IMDS diagnoses a probe of the instance metadata service: no IMDS (nothing
// answers), a hop limit of 1 (the token PUT gets no answer while a GET
// does), IMDSv1 only (the token PUT is refused, GET works without a token),
// or no role attached (the role list is 404). A healthy IMDS gives nil.
func imdsDiagnoses(p imdsProbe) []Diagnosis {
	at := " at " + p.Endpoint
	switch {
	case !p.Token.answered() && !p.Roles.answered():
		return []Diagnosis{{
			Name: IMDSUnreachable,
			Observed: fmt.Sprintf("no instance metadata service%s: PUT %s got %s, GET %s got %s",
				at, imdsTokenPath, p.Token, imdsRolesPath, p.Roles),
			Fix: "not on EC2, or a NetworkPolicy or firewall blocks 169.254.169.254 (which is right for a pod): " +
				"configure IRSA or EKS Pod Identity; the node role is a fallback to avoid",
		}}
	case p.Token.Timeout && p.Roles.answered():
		obs := fmt.Sprintf("IMDS%s answers GET (%s) but the IMDSv2 token PUT got no answer within %s: the token response is dropped one hop short, as with hop limit 1",
			at, p.Roles, imdsProbeTimeout)
		if p.Roles.Status == http.StatusOK {
			obs += "; IMDSv1 is allowed, so the SDK falls back to it after the token request times out"
		}
		return []Diagnosis{{Name: IMDSHopLimit, Observed: obs, Fix: imdsFixHopLimit}}
	case p.Token.answered() && p.Token.Status != http.StatusOK && p.Roles.answered() && p.Roles.Status != http.StatusUnauthorized && p.Roles.Status != http.StatusForbidden:
		out := []Diagnosis{{
			Name: IMDSv1Only,
			Observed: fmt.Sprintf("IMDS%s refuses the IMDSv2 token PUT (%s) and answers IMDSv1 GET without a token (%s): the SDK falls back to IMDSv1",
				at, p.Token, p.Roles),
			Fix: "IMDSv1 lets any request forger in the pod read the node's credentials: a metadata proxy (kube2iam, kiam) that lacks the token API, or an old IMDS; " +
				"require IMDSv2 (HttpTokens=required, hop limit 2), or better use IRSA or EKS Pod Identity",
		}}
		if p.Roles.Status == http.StatusNotFound {
			out = append(out, noRole(p))
		}
		return out
	case p.Token.Status == http.StatusOK && p.Roles.Status == http.StatusNotFound:
		return []Diagnosis{noRole(p)}
	case p.Token.answered() && p.Token.Status != http.StatusOK:
		return []Diagnosis{{
			Name:     IMDSUnreachable,
			Observed: fmt.Sprintf("IMDS%s refuses both the IMDSv2 token PUT (%s) and IMDSv1 (%s)", at, p.Token, p.Roles),
			Fix:      "instance metadata is disabled for this instance (HttpEndpoint=disabled) or a proxy refuses it: configure IRSA or EKS Pod Identity",
		}}
	}
	return nil
}

func noRole(p imdsProbe) Diagnosis {
	return Diagnosis{
		Name:     IMDSNoRole,
		Observed: fmt.Sprintf("IMDS at %s answers, but %s is 404: no instance profile role is attached to the node", p.Endpoint, imdsRolesPath),
		Fix:      "nothing configured IRSA or EKS Pod Identity and the node has no role: configure one of the two for the pod (the node role would be shared by every pod anyway)",
	}
}

// imdsFromError diagnoses a failed credential retrieval from IMDS by the
// SDK's error alone, for when no probe can be made: 404 is no role attached;
// any other IMDS failure ([creds.ReasonIMDSUnreachable]) cannot tell a hop
// limit from a missing IMDS without a probe, so it names both. Errors that
// did not come from IMDS give nil.
func imdsFromError(err error) []Diagnosis {
	var op *smithy.OperationError
	if err == nil || !errors.As(err, &op) || op.ServiceID != imds.ServiceID {
		return nil
	}
	if failure.HTTPStatus(err) == http.StatusNotFound {
		return []Diagnosis{{
			Name:     IMDSNoRole,
			Observed: "IMDS answered 404 for " + imdsRolesPath + ": no instance profile role is attached to the node",
			Fix:      "configure IRSA or EKS Pod Identity for the pod",
		}}
	}
	if creds.Reason(err) != creds.ReasonIMDSUnreachable {
		return nil
	}
	return []Diagnosis{{
		Name:     IMDSUnreachable,
		Observed: "instance metadata did not answer (" + imdsShort(err) + "): either there is no IMDS, or the IMDSv2 token response is dropped by a hop limit of 1",
		Fix:      "run uploader check for a probe that tells the two apart; " + imdsFixHopLimit,
	}}
}

func imdsShort(err error) string {
	if status := failure.HTTPStatus(err); status != 0 && failure.Network(err) != failure.ReasonTimeout {
		return fmt.Sprintf("HTTP %d", status)
	}
	return failure.NetworkCause(err)
}
