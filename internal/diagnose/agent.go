package diagnose

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/url"
	"syscall"

	"github.com/eks-least-privilege/uploader/internal/creds"
)

// podIdentityAgent diagnoses a credential error of the container endpoint
// (pod-identity mode) that is a refused connection or a timeout: the agent's
// address and the usual causes. Answers of the agent (4xx, 5xx) are not this.
func podIdentityAgent(err error, mode creds.Mode, env Env) []Diagnosis {
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
	addr := env(creds.EnvContainerFullURI)
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
