package creds

import (
	"fmt"
	"net"
	"net/url"
	"os"
	"slices"
	"strings"

	"github.com/aws/aws-sdk-go-v2/aws"
)

// Mode is the way the workload gets its AWS credentials.
type Mode string

// The credential modes. Each value is the label used in logs, metrics and
// REQUIRE_CREDENTIAL_MODE.
const (
	// ModeStatic is a long-lived access key pair from the environment
	// (AWS_ACCESS_KEY_ID/AWS_SECRET_ACCESS_KEY or the legacy
	// AWS_ACCESS_KEY/AWS_SECRET_KEY) or from code.
	ModeStatic Mode = "static"
	// ModeNodeRole is the EC2 instance profile of the node, read from IMDS.
	ModeNodeRole Mode = "node-role"
	// ModeIRSA is IAM Roles for Service Accounts: a projected service account
	// token exchanged through sts:AssumeRoleWithWebIdentity.
	ModeIRSA Mode = "irsa"
	// ModePodIdentity is EKS Pod Identity: the container credentials endpoint
	// served by the eks-pod-identity-agent with a projected token.
	ModePodIdentity Mode = "pod-identity"
	// ModeECS is a container credentials endpoint that is not the EKS Pod
	// Identity agent (ECS task role and the like).
	ModeECS Mode = "ecs"
	// ModeSharedProfile is a profile in the shared config or credentials file
	// (static keys, SSO, credential_process or a role assumed from them).
	ModeSharedProfile Mode = "shared-profile"
	// ModeUnknown is any source this package cannot place.
	ModeUnknown Mode = "unknown"
)

// Modes lists every mode, in the order used in messages.
var Modes = []Mode{ModeStatic, ModeNodeRole, ModeIRSA, ModePodIdentity, ModeECS, ModeSharedProfile, ModeUnknown}

// Source names set by the SDK's providers in aws.Credentials.Source
// (config.CredentialsSourceName, ec2rolecreds.ProviderName, ...).
const (
	sourceEnv          = "EnvConfigCredentials"
	sourceStatic       = "StaticCredentials"
	sourceEC2Role      = "EC2RoleProvider"
	sourceWebIdentity  = "WebIdentityCredentials"
	sourceEndpoint     = "CredentialsEndpoint" // prefix of "CredentialsEndpointProvider"
	sourceSharedConfig = "SharedConfigCredentials"
	sourceSSO          = "SSOProvider"
	sourceProcess      = "ProcessProvider"
	sourceLogin        = "LoginProvider"
)

// Environment variables of the SDK's web identity (IRSA) and container
// endpoint (Pod Identity, ECS) providers: the container ones tell EKS Pod
// Identity from ECS once the SDK has chosen that provider, and package
// diagnose reads them all. Only their names are ever printed.
const (
	EnvWebIdentityTokenFile = "AWS_WEB_IDENTITY_TOKEN_FILE"
	EnvRoleARN              = "AWS_ROLE_ARN"
	EnvContainerFullURI     = "AWS_CONTAINER_CREDENTIALS_FULL_URI"
	EnvContainerRelativeURI = "AWS_CONTAINER_CREDENTIALS_RELATIVE_URI"
	EnvContainerTokenFile   = "AWS_CONTAINER_AUTHORIZATION_TOKEN_FILE"
)

// Environment variables of this program, set from the downward API by the
// manifests: the pod's namespace and service account, which its projected
// token's sub must name.
const (
	// EnvPodNamespace is the pod's namespace (fieldRef metadata.namespace).
	EnvPodNamespace = "POD_NAMESPACE"
	// EnvPodServiceAccount is the pod's service account
	// (fieldRef spec.serviceAccountName).
	EnvPodServiceAccount = "POD_SERVICE_ACCOUNT"
)

// The addresses of the EKS Pod Identity agent.
var (
	eksAgentIPv4 = net.ParseIP("169.254.170.23")
	eksAgentIPv6 = net.ParseIP("fd00:ec2::23")
)

// Detect returns the credential mode of provider p, given the Source of the
// credentials it returned (empty when Retrieve failed: the provider chain
// alone decides then). The provider chain comes from ProviderSources, which
// the SDK's CredentialsCache and providers implement; a provider without it is
// placed by source alone.
func Detect(p aws.CredentialsProvider, source string) Mode {
	var chain []aws.CredentialSource
	if ps, ok := p.(aws.CredentialProviderSource); ok {
		chain = ps.ProviderSources()
	}
	return detect(chain, source)
}

func detect(chain []aws.CredentialSource, source string) Mode {
	has := func(s ...aws.CredentialSource) bool {
		return slices.ContainsFunc(chain, func(c aws.CredentialSource) bool { return slices.Contains(s, c) })
	}
	switch {
	case has(aws.CredentialSourceEnvVarsSTSWebIDToken, aws.CredentialSourceProfileSTSWebIDToken, aws.CredentialSourceSTSAssumeRoleWebID):
		return ModeIRSA
	case has(aws.CredentialSourceIMDS):
		return ModeNodeRole
	case has(aws.CredentialSourceHTTP):
		// credential_source = Environment in a profile is labelled HTTP by the
		// SDK too; its base credentials are the static environment keys.
		if source == sourceEnv || (has(aws.CredentialSourceProfileNamedProvider) && !containerConfigured()) {
			return ModeStatic
		}
		return containerMode()
	case has(aws.CredentialSourceEnvVars):
		return ModeStatic
	case has(aws.CredentialSourceProfile, aws.CredentialSourceProfileSourceProfile,
		aws.CredentialSourceProfileSSO, aws.CredentialSourceSSO,
		aws.CredentialSourceProfileSSOLegacy, aws.CredentialSourceSSOLegacy,
		aws.CredentialSourceProfileProcess, aws.CredentialSourceProcess,
		aws.CredentialSourceProfileLogin, aws.CredentialSourceLogin):
		return ModeSharedProfile
	}
	return detectSource(source)
}

// detectSource places credentials by their Source string alone.
func detectSource(source string) Mode {
	switch {
	case source == sourceEnv, source == sourceStatic:
		return ModeStatic
	case source == sourceEC2Role:
		return ModeNodeRole
	case source == sourceWebIdentity:
		return ModeIRSA
	case strings.HasPrefix(source, sourceEndpoint):
		return containerMode()
	case strings.HasPrefix(source, sourceSharedConfig), source == sourceSSO, source == sourceProcess, source == sourceLogin:
		return ModeSharedProfile
	}
	return ModeUnknown
}

func containerConfigured() bool {
	return os.Getenv(EnvContainerRelativeURI) != "" || os.Getenv(EnvContainerFullURI) != ""
}

// containerMode tells EKS Pod Identity from ECS by the configuration the
// SDK's container provider read: a relative URI wins in the SDK and is ECS;
// a full URI on the EKS agent's address, or an authorization token file, is
// Pod Identity.
func containerMode() Mode {
	if os.Getenv(EnvContainerRelativeURI) != "" {
		return ModeECS
	}
	if os.Getenv(EnvContainerTokenFile) != "" {
		return ModePodIdentity
	}
	if u, err := url.Parse(os.Getenv(EnvContainerFullURI)); err == nil {
		if ip := net.ParseIP(u.Hostname()); ip != nil && (ip.Equal(eksAgentIPv4) || ip.Equal(eksAgentIPv6)) {
			return ModePodIdentity
		}
	}
	return ModeECS
}

// ParseModes parses a REQUIRE_CREDENTIAL_MODE value: a comma-separated list of
// mode labels, spaces trimmed, empty items skipped. An empty s is no
// requirement (nil). "unknown" cannot be required.
func ParseModes(s string) ([]Mode, error) {
	var modes []Mode
	for item := range strings.SplitSeq(s, ",") {
		item = strings.TrimSpace(item)
		if item == "" {
			continue
		}
		m := Mode(item)
		if m == ModeUnknown || !slices.Contains(Modes, m) {
			return nil, fmt.Errorf("unknown credential mode %q: valid modes are %s", item, joinModes(Modes[:len(Modes)-1]))
		}
		if !slices.Contains(modes, m) {
			modes = append(modes, m)
		}
	}
	return modes, nil
}

// ModeList is REQUIRE_CREDENTIAL_MODE as a configuration field: it parses
// itself with [ParseModes].
type ModeList []Mode

// UnmarshalText sets l to [ParseModes] of text.
func (l *ModeList) UnmarshalText(text []byte) (err error) {
	*l, err = ParseModes(string(text))
	return err
}

// Require returns an error when id's mode is not in allowed; an empty allowed
// list allows any mode. The error names the mode, its source and a hint for
// the usual misconfiguration, so a pod that silently fell back to the node
// role fails loudly instead.
func Require(id Identity, allowed []Mode) error {
	if len(allowed) == 0 || slices.Contains(allowed, id.Mode) {
		return nil
	}
	msg := fmt.Sprintf("credential mode %q (source %s) is not one of the required modes %s", id.Mode, id.Source, joinModes(allowed))
	switch {
	case slices.Contains(allowed, ModeIRSA):
		msg += ": is the service account annotated and the token mounted?"
	case slices.Contains(allowed, ModePodIdentity):
		msg += ": is there a Pod Identity association for the service account and is the eks-pod-identity-agent running?"
	}
	return fmt.Errorf("%s", msg)
}

func joinModes(modes []Mode) string {
	s := make([]string, len(modes))
	for i, m := range modes {
		s[i] = string(m)
	}
	return strings.Join(s, ",")
}
