package diagnose

import (
	"fmt"
	"net/url"

	"github.com/eks-least-privilege/uploader/internal/creds"
	"github.com/eks-least-privilege/uploader/internal/failure"
)

// podIdentityAgent diagnoses a credential error of the container endpoint
// (pod-identity mode) that is a refused connection or a timeout: the agent's
// address and the usual causes. Answers of the agent (4xx, 5xx) are not this.
func podIdentityAgent(err error, mode creds.Mode, env Env) []Diagnosis {
	if err == nil || mode != creds.ModePodIdentity {
		return nil
	}
	if failure.HTTPStatus(err) != 0 {
		return nil
	}
	var what string
	switch failure.NetworkCause(err) {
	case "connection refused":
		what = "connection refused"
	case "no route to host", "network is unreachable":
		what = "no route"
	case failure.ReasonTimeout:
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
