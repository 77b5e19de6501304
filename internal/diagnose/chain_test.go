package diagnose

import (
	"maps"
	"strings"
	"testing"

	"github.com/eks-least-privilege/uploader/internal/creds"
)

// withEnv returns a copy of env with the variables kv (name, value, ...) set.
func withEnv(env map[string]string, kv ...string) map[string]string {
	out := map[string]string{}
	maps.Copy(out, env)
	for i := 0; i < len(kv); i += 2 {
		out[kv[i]] = kv[i+1]
	}
	return out
}

func TestShadowed(t *testing.T) {
	irsa := map[string]string{creds.EnvWebIdentityTokenFile: "/t", creds.EnvRoleARN: "arn:aws:iam::111122223333:role/uploader"}
	tests := []struct {
		name     string
		env      map[string]string
		mode     creds.Mode
		source   string
		want     []Name
		contains []string
	}{
		{name: "irsa used", env: irsa, mode: creds.ModeIRSA, source: "WebIdentityCredentials"},
		{name: "nothing configured", env: nil, mode: creds.ModeNodeRole, source: "EC2RoleProvider"},
		{name: "static keys win over irsa", env: withEnv(irsa, "AWS_ACCESS_KEY_ID", "AKIAEXAMPLE", "AWS_SECRET_ACCESS_KEY", "canary-secret"),
			mode: creds.ModeStatic, source: "EnvConfigCredentials", want: []Name{CredentialsShadowed},
			contains: []string{"AWS_WEB_IDENTITY_TOKEN_FILE is set (IRSA) but the SDK chose mode static (source EnvConfigCredentials)", "AWS_ACCESS_KEY_ID, AWS_SECRET_ACCESS_KEY", "remove the access keys"}},
		{name: "profile wins over irsa", env: withEnv(irsa, "AWS_PROFILE", "dev"), mode: creds.ModeSharedProfile, source: "SharedConfigCredentials: /root/.aws/credentials",
			want: []Name{CredentialsShadowed}, contains: []string{"(AWS_PROFILE)", "remove AWS_PROFILE"}},
		{name: "irsa wins over pod identity", env: withEnv(irsa, creds.EnvContainerFullURI, "http://169.254.170.23/v1/credentials"), mode: creds.ModeIRSA, source: "WebIdentityCredentials",
			want: []Name{CredentialsShadowed}, contains: []string{"AWS_CONTAINER_CREDENTIALS_FULL_URI is set", "web identity (IRSA) comes before the container endpoint", "use one of the two"}},
		{name: "static keys win over pod identity", env: map[string]string{creds.EnvContainerFullURI: "http://169.254.170.23/v1/credentials", "AWS_ACCESS_KEY": "AKIA"},
			mode: creds.ModeStatic, source: "EnvConfigCredentials", want: []Name{CredentialsShadowed}, contains: []string{"(AWS_ACCESS_KEY)"}},
		{name: "pod identity used", env: map[string]string{creds.EnvContainerFullURI: "http://169.254.170.23/v1/credentials"}, mode: creds.ModePodIdentity, source: "CredentialsEndpointProvider"},
		{name: "unknown says nothing", env: irsa, mode: creds.ModeUnknown, source: "X"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := shadowed(envOf(tt.env), tt.mode, tt.source)
			wantNames(t, got, tt.want, tt.contains...)
			if s := List(got).String(); tt.env["AWS_SECRET_ACCESS_KEY"] != "" && strings.Contains(s, tt.env["AWS_SECRET_ACCESS_KEY"]) {
				t.Errorf("a variable's value is printed: %s", s)
			}
		})
	}
}

func TestMutation(t *testing.T) {
	downward := map[string]string{creds.EnvPodNamespace: "images", creds.EnvPodServiceAccount: "uploader"}
	tests := []struct {
		name     string
		env      map[string]string
		required []creds.Mode
		want     []Name
		contains []string
	}{
		{name: "no requirement", env: nil},
		{name: "static required", required: []creds.Mode{creds.ModeStatic}},
		{name: "irsa required, not mutated", env: downward, required: []creds.Mode{creds.ModeIRSA}, want: []Name{MutationMissing},
			contains: []string{"REQUIRE_CREDENTIAL_MODE=irsa but none of AWS_WEB_IDENTITY_TOKEN_FILE, AWS_ROLE_ARN is set", "service account images/uploader", "recreate the pod"}},
		{name: "both required, not mutated", required: []creds.Mode{creds.ModeIRSA, creds.ModePodIdentity}, want: []Name{MutationMissing},
			contains: []string{"irsa,pod-identity", "AWS_CONTAINER_CREDENTIALS_FULL_URI", "create-pod-identity-association", "service account of the pod"}},
		{name: "irsa required, mutated", env: map[string]string{creds.EnvRoleARN: "arn:aws:iam::1:role/r"}, required: []creds.Mode{creds.ModeIRSA}},
		{name: "both required, pod identity mutated", env: map[string]string{creds.EnvContainerTokenFile: "/t"}, required: []creds.Mode{creds.ModeIRSA, creds.ModePodIdentity}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			wantNames(t, mutation(envOf(tt.env), tt.required), tt.want, tt.contains...)
		})
	}
}

func TestFallback(t *testing.T) {
	const role = "arn:aws:iam::111122223333:role/uploader"
	irsa := map[string]string{creds.EnvWebIdentityTokenFile: "/t", creds.EnvRoleARN: role}
	node := creds.Identity{Mode: creds.ModeNodeRole, CallerARN: "arn:aws:sts::111122223333:assumed-role/eks-node/i-0123456789abcdef0"}
	tests := []struct {
		name     string
		env      map[string]string
		required []creds.Mode
		id       creds.Identity
		want     []Name
		contains []string
	}{
		{name: "irsa role", env: irsa, id: creds.Identity{Mode: creds.ModeIRSA, CallerARN: "arn:aws:sts::111122223333:assumed-role/uploader/botocore-session-1"}},
		{name: "role with a path", env: map[string]string{creds.EnvRoleARN: "arn:aws:iam::111122223333:role/apps/uploader"},
			id: creds.Identity{Mode: creds.ModeIRSA, CallerARN: "arn:aws:sts::111122223333:assumed-role/uploader/s"}},
		{name: "caller unknown", env: irsa, id: creds.Identity{Mode: creds.ModeIRSA}},
		{name: "another role than AWS_ROLE_ARN", env: irsa, id: creds.Identity{Mode: creds.ModeStatic, CallerARN: "arn:aws:sts::111122223333:assumed-role/admin/me"},
			want: []Name{SilentFallback}, contains: []string{"role arn:aws:iam::111122223333:role/admin", "not AWS_ROLE_ARN=" + role}},
		{name: "another account", env: irsa, id: creds.Identity{Mode: creds.ModeIRSA, CallerARN: "arn:aws:sts::999988887777:assumed-role/uploader/s"},
			want: []Name{SilentFallback}},
		{name: "node role, irsa required", required: []creds.Mode{creds.ModeIRSA}, id: node,
			want: []Name{SilentFallback}, contains: []string{"i-0123456789abcdef0: the node's instance profile", "REQUIRE_CREDENTIAL_MODE"}},
		{name: "node role, pod identity configured", env: map[string]string{creds.EnvContainerFullURI: "http://169.254.170.23/v1/credentials"}, id: node, want: []Name{SilentFallback}},
		{name: "node role, nothing else expected", id: node},
		{name: "user, not a session", required: []creds.Mode{creds.ModeIRSA}, id: creds.Identity{Mode: creds.ModeStatic, CallerARN: "arn:aws:iam::111122223333:user/i-0123456789abcdef0"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			wantNames(t, fallback(envOf(tt.env), tt.required, tt.id), tt.want, tt.contains...)
		})
	}
}
