package creds

import (
	"context"
	"errors"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/config"

	"github.com/eks-least-privilege/uploader/test/testenv"
)

// loadConfig isolates the environment, applies env and loads the SDK's
// default config, with STS pointed at sts.
func loadConfig(t *testing.T, sts *stsServer, env map[string]string, opts ...func(*config.LoadOptions) error) (context.Context, func() (Identity, error)) {
	t.Helper()
	testenv.IsolateAWSEnv(t)
	t.Setenv("AWS_REGION", "us-east-1")
	t.Setenv("AWS_ENDPOINT_URL_STS", sts.URL)
	for k, v := range env {
		t.Setenv(k, v)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	t.Cleanup(cancel)
	cfg, err := config.LoadDefaultConfig(ctx, opts...)
	if err != nil {
		t.Fatalf("load config: %v", err)
	}
	return ctx, func() (Identity, error) { return Resolve(ctx, cfg) }
}

func TestResolveWithSDKProviders(t *testing.T) {
	tests := []struct {
		name       string
		env        func(t *testing.T) map[string]string
		wantMode   Mode
		wantSource string // prefix
		wantKey    string
		wantRole   string
		wantExpire bool
		profile    string // set programmatically, as credential_source = Environment needs
	}{
		{
			name: "static env keys",
			env: func(t *testing.T) map[string]string {
				return map[string]string{"AWS_ACCESS_KEY_ID": "AKIAENVEXAMPLE00001", "AWS_SECRET_ACCESS_KEY": canary + "-env"}
			},
			wantMode: ModeStatic, wantSource: "EnvConfigCredentials", wantKey: "AKIA…0001",
			wantRole: testRole,
		},
		{
			name: "legacy static env keys",
			env: func(t *testing.T) map[string]string {
				return map[string]string{"AWS_ACCESS_KEY": "AKIALEGACYEXAMPLE02", "AWS_SECRET_KEY": canary + "-legacy"}
			},
			wantMode: ModeStatic, wantSource: "EnvConfigCredentials", wantKey: "AKIA…LE02",
			wantRole: testRole,
		},
		{
			name: "shared profile keys",
			env: func(t *testing.T) map[string]string {
				f := testenv.WriteFile(t, "config", "[profile app]\naws_access_key_id = AKIAPROFILEEXAMPLE3\naws_secret_access_key = "+canary+"-profile\n")
				return map[string]string{"AWS_CONFIG_FILE": f, "AWS_PROFILE": "app"}
			},
			wantMode: ModeSharedProfile, wantSource: "SharedConfigCredentials: ", wantKey: "AKIA…PLE3",
			wantRole: testRole,
		},
		{
			name: "profile assuming a role from static keys",
			env: func(t *testing.T) map[string]string {
				f := testenv.WriteFile(t, "config", "[profile base]\naws_access_key_id = AKIAPROFILEEXAMPLE3\naws_secret_access_key = "+canary+"-profile\n"+
					"[profile app]\nrole_arn = "+testRole+"\nsource_profile = base\n")
				return map[string]string{"AWS_CONFIG_FILE": f, "AWS_PROFILE": "app"}
			},
			wantMode: ModeSharedProfile, wantSource: "AssumeRoleProvider", wantKey: "ASIA…0001",
			wantRole: testRole, wantExpire: true,
		},
		{
			name: "irsa from env",
			env: func(t *testing.T) map[string]string {
				return map[string]string{
					"AWS_WEB_IDENTITY_TOKEN_FILE": testenv.WriteFile(t, "token", "eyJ.projected.token"),
					"AWS_ROLE_ARN":                "arn:aws:iam::111122223333:role/path/irsa-role",
					"AWS_ROLE_SESSION_NAME":       "sess",
				}
			},
			wantMode: ModeIRSA, wantSource: "WebIdentityCredentials", wantKey: "ASIA…0001",
			wantRole: "arn:aws:iam::111122223333:role/path/irsa-role", wantExpire: true,
		},
		{
			name: "irsa from profile",
			env: func(t *testing.T) map[string]string {
				f := testenv.WriteFile(t, "config", "[default]\nrole_arn = "+testRole+"\nweb_identity_token_file = "+testenv.WriteFile(t, "token", "eyJ.projected.token")+"\n")
				return map[string]string{"AWS_CONFIG_FILE": f}
			},
			wantMode: ModeIRSA, wantSource: "WebIdentityCredentials", wantKey: "ASIA…0001",
			wantRole: testRole, wantExpire: true,
		},
		{
			name: "pod identity with token file",
			env: func(t *testing.T) map[string]string {
				srv := containerServer(t, "pod-identity-token")
				return map[string]string{
					"AWS_CONTAINER_CREDENTIALS_FULL_URI":     srv.URL + "/v1/credentials",
					"AWS_CONTAINER_AUTHORIZATION_TOKEN_FILE": testenv.WriteFile(t, "eks-pod-identity-token", "pod-identity-token"),
				}
			},
			wantMode: ModePodIdentity, wantSource: "CredentialsEndpoint", wantKey: "ASIA…0001",
			wantRole: testRole, wantExpire: true,
		},
		{
			name: "container endpoint without token file",
			env: func(t *testing.T) map[string]string {
				srv := containerServer(t, "")
				return map[string]string{"AWS_CONTAINER_CREDENTIALS_FULL_URI": srv.URL + "/creds"}
			},
			wantMode: ModeECS, wantSource: "CredentialsEndpoint", wantKey: "ASIA…0001",
			wantRole: testRole, wantExpire: true,
		},
		{
			name: "node role from imdsv2",
			env: func(t *testing.T) map[string]string {
				return map[string]string{"AWS_EC2_METADATA_DISABLED": "false", "AWS_EC2_METADATA_SERVICE_ENDPOINT": imdsServer(t).URL}
			},
			wantMode: ModeNodeRole, wantSource: "EC2RoleProvider", wantKey: "ASIA…0001",
			wantRole: testRole, wantExpire: true,
		},
		{
			name: "profile assuming a role from the instance role",
			env: func(t *testing.T) map[string]string {
				f := testenv.WriteFile(t, "config", "[default]\nrole_arn = "+testRole+"\ncredential_source = Ec2InstanceMetadata\n")
				return map[string]string{"AWS_CONFIG_FILE": f, "AWS_EC2_METADATA_DISABLED": "false", "AWS_EC2_METADATA_SERVICE_ENDPOINT": imdsServer(t).URL}
			},
			wantMode: ModeNodeRole, wantSource: "AssumeRoleProvider", wantKey: "ASIA…0001",
			wantRole: testRole, wantExpire: true,
		},
		{
			name: "profile assuming a role from environment keys",
			env: func(t *testing.T) map[string]string {
				f := testenv.WriteFile(t, "config", "[default]\nrole_arn = "+testRole+"\ncredential_source = Environment\n")
				return map[string]string{"AWS_CONFIG_FILE": f, "AWS_ACCESS_KEY_ID": "AKIAENVEXAMPLE00001", "AWS_SECRET_ACCESS_KEY": canary + "-env"}
			},
			wantMode: ModeStatic, wantSource: "AssumeRoleProvider", wantKey: "ASIA…0001",
			wantRole: testRole, wantExpire: true, profile: "default",
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			sts := newSTS(t, nil)
			var opts []func(*config.LoadOptions) error
			if tt.profile != "" {
				opts = append(opts, config.WithSharedConfigProfile(tt.profile))
			}
			_, resolve := loadConfig(t, sts, tt.env(t), opts...)
			id, err := resolve()
			if err != nil {
				t.Fatalf("resolve: %v", err)
			}
			if id.Mode != tt.wantMode {
				t.Errorf("mode: got %q, want %q (source %q)", id.Mode, tt.wantMode, id.Source)
			}
			if !strings.HasPrefix(id.Source, tt.wantSource) {
				t.Errorf("source: got %q, want prefix %q", id.Source, tt.wantSource)
			}
			// Container and IMDS keys are fixed by the stand-ins; STS keys count up.
			if id.AccessKeyID != tt.wantKey && !(strings.HasPrefix(id.AccessKeyID, "ASIA…") && strings.HasPrefix(tt.wantKey, "ASIA…")) {
				t.Errorf("access key id: got %q, want %q", id.AccessKeyID, tt.wantKey)
			}
			if id.RoleARN != tt.wantRole {
				t.Errorf("role arn: got %q, want %q", id.RoleARN, tt.wantRole)
			}
			if id.CallerARN != "arn:aws:sts::111122223333:assumed-role/uploader/sess" || id.Account != testAccount {
				t.Errorf("caller: got %q in %q, want the stand-in's", id.CallerARN, id.Account)
			}
			if id.CallerUnavailable != "" {
				t.Errorf("caller unavailable: got %q, want empty", id.CallerUnavailable)
			}
			if id.CanExpire != tt.wantExpire || id.CanExpire == id.Expires.IsZero() {
				t.Errorf("expiry: got can expire %v at %v, want can expire %v", id.CanExpire, id.Expires, tt.wantExpire)
			}
		})
	}
}

func TestResolveCallerUnavailable(t *testing.T) {
	tests := []struct {
		name   string
		status int
		code   string
		want   string
	}{
		{"minio", http.StatusBadRequest, "InvalidParameterValue", "unavailable: InvalidParameterValue (http 400): " + callerNotImplemented},
		{"not implemented", http.StatusNotImplemented, "NotImplemented", "unavailable: NotImplemented (http 501): " + callerNotImplemented},
		{"unknown action", http.StatusBadRequest, "InvalidAction", "unavailable: InvalidAction (http 400): " + callerNotImplemented},
		{"denied", http.StatusForbidden, "AccessDenied", "unavailable: AccessDenied (http 403)"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			sts := newSTS(t, func(s *stsServer) { s.callerStatus, s.callerCode = tt.status, tt.code })
			_, resolve := loadConfig(t, sts, map[string]string{"AWS_ACCESS_KEY_ID": "minioadmin", "AWS_SECRET_ACCESS_KEY": canary})
			id, err := resolve()
			if err != nil {
				t.Fatalf("resolve: %v", err)
			}
			if id.CallerUnavailable != tt.want {
				t.Errorf("caller unavailable: got %q, want %q", id.CallerUnavailable, tt.want)
			}
			if id.Mode != ModeStatic || id.AccessKeyID != "****dmin" || id.CallerARN != "" || id.RoleARN != "" {
				t.Errorf("identity: got %+v, want static ****dmin without caller", id)
			}
		})
	}
}

func TestResolveFailures(t *testing.T) {
	tests := []struct {
		name       string
		env        func(t *testing.T) map[string]string
		sts        func(*stsServer)
		wantMode   Mode
		wantReason string
		wantText   string
	}{
		{
			name:       "nothing configured and imds disabled",
			env:        func(t *testing.T) map[string]string { return nil },
			wantMode:   ModeNodeRole,
			wantReason: ReasonNotFound,
			wantText:   "no instance role available",
		},
		{
			name: "imds unreachable",
			env: func(t *testing.T) map[string]string {
				return map[string]string{"AWS_EC2_METADATA_DISABLED": "false", "AWS_EC2_METADATA_SERVICE_ENDPOINT": "http://" + testenv.FreePort(t)}
			},
			wantMode:   ModeNodeRole,
			wantReason: ReasonIMDSUnreachable,
			wantText:   "IMDSv2 from a container needs the instance metadata hop limit set to 2 (HttpPutResponseHopLimit)",
		},
		{
			name: "irsa role denied",
			env: func(t *testing.T) map[string]string {
				return map[string]string{"AWS_WEB_IDENTITY_TOKEN_FILE": testenv.WriteFile(t, "token", canary+"-jwt"), "AWS_ROLE_ARN": testRole}
			},
			sts:        func(s *stsServer) { s.denyAll = true },
			wantMode:   ModeIRSA,
			wantReason: ReasonDenied,
			wantText:   "AccessDenied",
		},
		{
			name: "irsa token file missing",
			env: func(t *testing.T) map[string]string {
				return map[string]string{"AWS_WEB_IDENTITY_TOKEN_FILE": t.TempDir() + "/absent", "AWS_ROLE_ARN": testRole}
			},
			wantMode:   ModeIRSA,
			wantReason: ReasonNotFound,
			wantText:   "mode irsa",
		},
		{
			name: "pod identity wrong token",
			env: func(t *testing.T) map[string]string {
				srv := containerServer(t, "the-right-token")
				return map[string]string{
					"AWS_CONTAINER_CREDENTIALS_FULL_URI":     srv.URL,
					"AWS_CONTAINER_AUTHORIZATION_TOKEN_FILE": testenv.WriteFile(t, "token", canary+"-wrong-token"),
				}
			},
			wantMode:   ModePodIdentity,
			wantReason: ReasonDenied,
			wantText:   "Pod Identity association",
		},
		{
			name: "pod identity agent down",
			env: func(t *testing.T) map[string]string {
				return map[string]string{
					"AWS_CONTAINER_CREDENTIALS_FULL_URI":     "http://" + testenv.FreePort(t) + "/v1/credentials",
					"AWS_CONTAINER_AUTHORIZATION_TOKEN_FILE": testenv.WriteFile(t, "token", "t"),
				}
			},
			wantMode:   ModePodIdentity,
			wantReason: ReasonEndpointUnreachable,
			wantText:   "eks-pod-identity-agent",
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, resolve := loadConfig(t, newSTS(t, tt.sts), tt.env(t))
			id, err := resolve()
			if err == nil {
				t.Fatalf("resolve: got %+v, want an error", id)
			}
			var e *Error
			if !errors.As(err, &e) {
				t.Fatalf("error type: got %T, want *Error", err)
			}
			if id.Mode != tt.wantMode || e.Mode != tt.wantMode {
				t.Errorf("mode: got %q (error %q), want %q", id.Mode, e.Mode, tt.wantMode)
			}
			if got := Reason(err); got != tt.wantReason {
				t.Errorf("reason: got %q, want %q (%v)", got, tt.wantReason, err)
			}
			if !strings.Contains(err.Error(), tt.wantText) {
				t.Errorf("error: got %q, want it to contain %q", err, tt.wantText)
			}
			testenv.NoSecrets(t, err.Error(), canary)
		})
	}
}
