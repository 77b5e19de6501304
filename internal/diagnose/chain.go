package diagnose

import (
	"fmt"
	"regexp"
	"slices"
	"strings"

	"github.com/aws/aws-sdk-go-v2/aws/arn"
	"github.com/eks-least-privilege/uploader/internal/creds"
)

// Variables that make the SDK choose a source ahead of web identity and the
// container endpoint. Only their names are ever printed.
var (
	staticKeyVars = []string{"AWS_ACCESS_KEY_ID", "AWS_ACCESS_KEY", "AWS_SECRET_ACCESS_KEY", "AWS_SECRET_KEY"}
	profileVars   = []string{"AWS_PROFILE", "AWS_DEFAULT_PROFILE", "AWS_CONFIG_FILE", "AWS_SHARED_CREDENTIALS_FILE"}
	irsaVars      = []string{creds.EnvWebIdentityTokenFile, creds.EnvRoleARN}
	podIDVars     = []string{creds.EnvContainerFullURI, creds.EnvContainerTokenFile}
)

// shadowed diagnoses web-identity or container-credential settings that the
// SDK did not use because another source won: static keys in the
// environment, a profile, or web identity over the container endpoint. mode
// and source are what the SDK resolved.
func shadowed(env Env, mode creds.Mode, source string) []Diagnosis {
	var out []Diagnosis
	winner := fmt.Sprintf("the SDK chose mode %s (source %s)", mode, source)
	if v := set(env, creds.EnvWebIdentityTokenFile); len(v) > 0 && mode != creds.ModeIRSA && mode != creds.ModeUnknown {
		out = append(out, Diagnosis{
			Name:     CredentialsShadowed,
			Observed: fmt.Sprintf("%s is set (IRSA) but %s%s", creds.EnvWebIdentityTokenFile, winner, because(env, mode)),
			Fix:      removeHint(env, mode, "IRSA"),
		})
	}
	container := set(env, creds.EnvContainerFullURI, creds.EnvContainerRelativeURI)
	if len(container) > 0 && mode != creds.ModePodIdentity && mode != creds.ModeECS && mode != creds.ModeUnknown {
		out = append(out, Diagnosis{
			Name:     CredentialsShadowed,
			Observed: fmt.Sprintf("%s is set (container credentials, EKS Pod Identity) but %s%s", strings.Join(container, ", "), winner, because(env, mode)),
			Fix:      removeHint(env, mode, "Pod Identity"),
		})
	}
	return out
}

// because names what made the winner win, by variable name only.
func because(env Env, mode creds.Mode) string {
	switch mode {
	case creds.ModeStatic:
		if v := set(env, staticKeyVars...); len(v) > 0 {
			return ": access keys in the environment (" + strings.Join(v, ", ") + ") come first in the SDK's chain"
		}
		return ": static access keys come first in the SDK's chain"
	case creds.ModeSharedProfile:
		if v := set(env, profileVars...); len(v) > 0 {
			return ": a shared config profile (" + strings.Join(v, ", ") + ") comes before it in the SDK's chain"
		}
		return ": a shared config profile (~/.aws) comes before it in the SDK's chain"
	case creds.ModeIRSA:
		return ": web identity (IRSA) comes before the container endpoint in the SDK's chain"
	}
	return ""
}

func removeHint(env Env, mode creds.Mode, wanted string) string {
	switch mode {
	case creds.ModeStatic:
		return "remove the access keys from the pod spec (env, envFrom of a Secret) so that " + wanted + " is used"
	case creds.ModeSharedProfile:
		return "remove AWS_PROFILE and the mounted AWS config or credentials file so that " + wanted + " is used"
	case creds.ModeIRSA:
		return "use one of the two: remove the eks.amazonaws.com/role-arn annotation of the service account for Pod Identity, or delete the Pod Identity association for IRSA; then recreate the pod"
	}
	return "remove the settings of the source the SDK chose so that " + wanted + " is used"
}

// mutation diagnoses a pod admitted without the webhook's mutation:
// required names irsa or pod-identity and none of their variables is set.
func mutation(env Env, required []creds.Mode) []Diagnosis {
	var wanted, vars []string
	if slices.Contains(required, creds.ModeIRSA) {
		wanted, vars = append(wanted, "irsa"), append(vars, irsaVars...)
	}
	if slices.Contains(required, creds.ModePodIdentity) {
		wanted, vars = append(wanted, "pod-identity"), append(vars, podIDVars...)
	}
	if len(wanted) == 0 || len(set(env, vars...)) > 0 {
		return nil
	}
	var fixes []string
	sa := serviceAccount(env)
	if slices.Contains(wanted, "irsa") {
		fixes = append(fixes, "for IRSA annotate the service account "+sa+" with eks.amazonaws.com/role-arn and check that the pod identity webhook runs")
	}
	if slices.Contains(wanted, "pod-identity") {
		fixes = append(fixes, "for Pod Identity create an association for "+sa+" (aws eks create-pod-identity-association) and install the eks-pod-identity-agent add-on")
	}
	return []Diagnosis{{
		Name: MutationMissing,
		Observed: fmt.Sprintf("REQUIRE_CREDENTIAL_MODE=%s but none of %s is set: the pod was admitted without the webhook's mutation",
			strings.Join(wanted, ","), strings.Join(vars, ", ")),
		Fix: strings.Join(fixes, "; ") + "; then recreate the pod: the mutation happens at admission only, so a pod that predates it keeps its old spec",
	}}
}

// serviceAccount names the pod's service account from the downward API, or
// says it is unknown.
func serviceAccount(env Env) string {
	ns, sa := env(creds.EnvPodNamespace), env(creds.EnvPodServiceAccount)
	if ns == "" || sa == "" {
		return "of the pod"
	}
	return ns + "/" + sa
}

// instanceSession matches the session name EC2 gives instance-profile
// credentials: the instance id.
var instanceSession = regexp.MustCompile(`^i-[0-9a-f]{8,17}$`)

// fallback diagnoses credentials that are not the ones configured: the
// caller's role differs from AWS_ROLE_ARN, or the caller is an instance
// profile session (assumed-role/<role>/i-...) although IRSA or Pod Identity
// is configured or required. It needs the caller ARN (sts:GetCallerIdentity);
// without it nothing can be said.
func fallback(env Env, required []creds.Mode, id creds.Identity) []Diagnosis {
	if id.CallerARN == "" {
		return nil
	}
	if want := env(creds.EnvRoleARN); want != "" {
		if got := creds.RoleARN(id.CallerARN); got != "" && !sameRole(want, got) {
			return []Diagnosis{{
				Name: SilentFallback,
				Observed: fmt.Sprintf("the caller is %s (role %s, mode %s), not %s=%s",
					id.CallerARN, got, id.Mode, creds.EnvRoleARN, want),
				Fix: "the SDK used other credentials than the IRSA role: remove the source it chose (" + string(id.Mode) +
					") or fix the one it skipped; set REQUIRE_CREDENTIAL_MODE=irsa to refuse to start like this",
			}}
		}
	}
	expected := len(set(env, creds.EnvWebIdentityTokenFile, creds.EnvContainerFullURI)) > 0 ||
		slices.Contains(required, creds.ModeIRSA) || slices.Contains(required, creds.ModePodIdentity)
	if expected && isInstanceSession(id.CallerARN) {
		return []Diagnosis{{
			Name:     SilentFallback,
			Observed: fmt.Sprintf("the caller is %s: the node's instance profile, shared by every pod on the node, although IRSA or Pod Identity is expected", id.CallerARN),
			Fix:      "the pod fell back to the node role: see mutation_missing and token_* diagnoses; set REQUIRE_CREDENTIAL_MODE=irsa,pod-identity to refuse to start like this",
		}}
	}
	return nil
}

// isInstanceSession reports whether callerARN is an EC2 instance profile
// session: arn:aws:sts::ACCOUNT:assumed-role/ROLE/i-0123456789abcdef0.
func isInstanceSession(callerARN string) bool {
	a, err := arn.Parse(callerARN)
	if err != nil || a.Service != "sts" {
		return false
	}
	parts := strings.Split(a.Resource, "/")
	return len(parts) == 3 && parts[0] == "assumed-role" && instanceSession.MatchString(parts[2])
}

// sameRole compares two role ARNs by partition, account and name; the path
// is not part of an assumed-role ARN, so it cannot count.
func sameRole(a, b string) bool {
	pa, errA := arn.Parse(a)
	pb, errB := arn.Parse(b)
	if errA != nil || errB != nil {
		return a == b
	}
	name := func(r string) string { return r[strings.LastIndex(r, "/")+1:] }
	return pa.Partition == pb.Partition && pa.AccountID == pb.AccountID && name(pa.Resource) == name(pb.Resource)
}
