package creds

import (
	"fmt"
	"strings"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"

	"github.com/eks-least-privilege/uploader/test/testenv"
)

func TestDetect(t *testing.T) {
	tests := []struct {
		name   string
		chain  []aws.CredentialSource
		source string
		env    map[string]string
		want   Mode
	}{
		{name: "env keys", chain: []aws.CredentialSource{aws.CredentialSourceEnvVars}, source: "EnvConfigCredentials", want: ModeStatic},
		{name: "static from code", chain: []aws.CredentialSource{aws.CredentialSourceCode}, source: "StaticCredentials", want: ModeStatic},
		{name: "imds", chain: []aws.CredentialSource{aws.CredentialSourceIMDS}, source: "EC2RoleProvider", want: ModeNodeRole},
		{name: "imds failed", chain: []aws.CredentialSource{aws.CredentialSourceIMDS}, want: ModeNodeRole},
		{name: "web identity env", chain: []aws.CredentialSource{aws.CredentialSourceEnvVarsSTSWebIDToken}, source: "WebIdentityCredentials", want: ModeIRSA},
		{name: "web identity profile", chain: []aws.CredentialSource{aws.CredentialSourceProfileSTSWebIDToken}, source: "WebIdentityCredentials", want: ModeIRSA},
		{name: "profile keys", chain: []aws.CredentialSource{aws.CredentialSourceProfile}, source: "SharedConfigCredentials: /x", want: ModeSharedProfile},
		{name: "profile sso", chain: []aws.CredentialSource{aws.CredentialSourceSSO}, source: "SSOProvider", want: ModeSharedProfile},
		{name: "profile role from instance", chain: []aws.CredentialSource{aws.CredentialSourceProfileNamedProvider, aws.CredentialSourceIMDS}, source: "AssumeRoleProvider", want: ModeNodeRole},
		{name: "profile role from env", chain: []aws.CredentialSource{aws.CredentialSourceProfileNamedProvider, aws.CredentialSourceHTTP}, source: "AssumeRoleProvider", want: ModeStatic},
		{name: "profile role from source profile", chain: []aws.CredentialSource{aws.CredentialSourceProfileSourceProfile, aws.CredentialSourceProfile}, source: "AssumeRoleProvider", want: ModeSharedProfile},
		{name: "ecs relative uri", chain: []aws.CredentialSource{aws.CredentialSourceHTTP}, source: "CredentialsEndpointProvider",
			env: map[string]string{"AWS_CONTAINER_CREDENTIALS_RELATIVE_URI": "/v2/credentials/x"}, want: ModeECS},
		{name: "relative uri wins over full uri", chain: []aws.CredentialSource{aws.CredentialSourceHTTP},
			env: map[string]string{"AWS_CONTAINER_CREDENTIALS_RELATIVE_URI": "/v2/x", "AWS_CONTAINER_CREDENTIALS_FULL_URI": "http://169.254.170.23/v1/credentials"}, want: ModeECS},
		{name: "eks agent ipv4", chain: []aws.CredentialSource{aws.CredentialSourceHTTP},
			env: map[string]string{"AWS_CONTAINER_CREDENTIALS_FULL_URI": "http://169.254.170.23/v1/credentials"}, want: ModePodIdentity},
		{name: "eks agent ipv6", chain: []aws.CredentialSource{aws.CredentialSourceHTTP},
			env: map[string]string{"AWS_CONTAINER_CREDENTIALS_FULL_URI": "http://[fd00:ec2::23]/v1/credentials"}, want: ModePodIdentity},
		{name: "token file", chain: []aws.CredentialSource{aws.CredentialSourceHTTP},
			env: map[string]string{"AWS_CONTAINER_CREDENTIALS_FULL_URI": "http://127.0.0.1:9/creds", "AWS_CONTAINER_AUTHORIZATION_TOKEN_FILE": "/t"}, want: ModePodIdentity},
		{name: "full uri elsewhere", chain: []aws.CredentialSource{aws.CredentialSourceHTTP},
			env: map[string]string{"AWS_CONTAINER_CREDENTIALS_FULL_URI": "http://127.0.0.1:9/creds"}, want: ModeECS},
		{name: "source only: env", source: "EnvConfigCredentials", want: ModeStatic},
		{name: "source only: imds", source: "EC2RoleProvider", want: ModeNodeRole},
		{name: "source only: web identity", source: "WebIdentityCredentials", want: ModeIRSA},
		{name: "source only: endpoint", source: "CredentialsEndpointProvider",
			env: map[string]string{"AWS_CONTAINER_CREDENTIALS_FULL_URI": "http://169.254.170.23/v1/credentials"}, want: ModePodIdentity},
		{name: "source only: shared config", source: "SharedConfigCredentials: /root/.aws/credentials", want: ModeSharedProfile},
		{name: "source only: assume role", source: "AssumeRoleProvider", want: ModeUnknown},
		{name: "nothing", want: ModeUnknown},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			testenv.IsolateAWSEnv(t)
			for k, v := range tt.env {
				t.Setenv(k, v)
			}
			if got := detect(tt.chain, tt.source); got != tt.want {
				t.Errorf("got %q, want %q", got, tt.want)
			}
		})
	}
}

func TestDetectThroughCache(t *testing.T) {
	testenv.IsolateAWSEnv(t)
	p := aws.NewCredentialsCache(credentials.StaticCredentialsProvider{
		Value:  aws.Credentials{AccessKeyID: "AKIA", SecretAccessKey: canary},
		Source: []aws.CredentialSource{aws.CredentialSourceIMDS},
	})
	if got := Detect(p, ""); got != ModeNodeRole {
		t.Errorf("got %q, want %q", got, ModeNodeRole)
	}
	if got := Detect(aws.AnonymousCredentials{}, ""); got != ModeUnknown {
		t.Errorf("anonymous: got %q, want %q", got, ModeUnknown)
	}
}

func TestParseModes(t *testing.T) {
	tests := []struct {
		in      string
		want    []Mode
		wantErr string
	}{
		{in: "", want: nil},
		{in: "irsa", want: []Mode{ModeIRSA}},
		{in: " irsa , pod-identity,irsa,", want: []Mode{ModeIRSA, ModePodIdentity}},
		{in: "static,node-role,ecs,shared-profile", want: []Mode{ModeStatic, ModeNodeRole, ModeECS, ModeSharedProfile}},
		{in: "irsa,IRSA", wantErr: `unknown credential mode "IRSA": valid modes are static,node-role,irsa,pod-identity,ecs,shared-profile`},
		{in: "unknown", wantErr: `unknown credential mode "unknown"`},
		{in: "podidentity", wantErr: `"podidentity"`},
	}
	for _, tt := range tests {
		t.Run(tt.in, func(t *testing.T) {
			got, err := ParseModes(tt.in)
			var list ModeList
			if lerr := list.UnmarshalText([]byte(tt.in)); fmt.Sprint(lerr) != fmt.Sprint(err) || joinModes(list) != joinModes(got) {
				t.Errorf("ModeList: got %v, %v; want ParseModes' %v, %v", list, lerr, got, err)
			}
			if tt.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
					t.Fatalf("got error %v, want one containing %q", err, tt.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if joinModes(got) != joinModes(tt.want) || len(got) != len(tt.want) {
				t.Errorf("got %v, want %v", got, tt.want)
			}
		})
	}
}

func TestRequire(t *testing.T) {
	nodeRole := Identity{Mode: ModeNodeRole, Source: "EC2RoleProvider"}
	tests := []struct {
		name    string
		id      Identity
		allowed []Mode
		want    string
	}{
		{name: "no requirement", id: nodeRole},
		{name: "allowed", id: Identity{Mode: ModeIRSA}, allowed: []Mode{ModeIRSA, ModePodIdentity}},
		{name: "node role fallback", id: nodeRole, allowed: []Mode{ModeIRSA, ModePodIdentity},
			want: `credential mode "node-role" (source EC2RoleProvider) is not one of the required modes irsa,pod-identity: is the service account annotated and the token mounted?`},
		{name: "pod identity only", id: nodeRole, allowed: []Mode{ModePodIdentity},
			want: `credential mode "node-role" (source EC2RoleProvider) is not one of the required modes pod-identity: is there a Pod Identity association for the service account and is the eks-pod-identity-agent running?`},
		{name: "static only", id: nodeRole, allowed: []Mode{ModeStatic},
			want: `credential mode "node-role" (source EC2RoleProvider) is not one of the required modes static`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := Require(tt.id, tt.allowed)
			got := ""
			if err != nil {
				got = err.Error()
			}
			if got != tt.want {
				t.Errorf("got %q, want %q", got, tt.want)
			}
		})
	}
}

// TestShownForms checks the functions that turn what the SDK reports into
// what the uploader shows: a masked key id, the role behind an assumed-role
// ARN, a provider source as a metric label.
func TestShownForms(t *testing.T) {
	funcs := map[string]func(string) string{"MaskKeyID": MaskKeyID, "RoleARN": RoleARN, "SourceLabel": SourceLabel}
	tests := []struct{ fn, in, want string }{
		{"MaskKeyID", "", ""},
		{"MaskKeyID", "AKIAIOSFODNN7EXAMPLE", "AKIA…MPLE"},
		{"MaskKeyID", "ASIA0123456789AB", "ASIA…89AB"},
		{"MaskKeyID", "minioroot", "****root"},
		{"MaskKeyID", "short", "****"},
		{"MaskKeyID", "12345678", "****"},
		{"RoleARN", "arn:aws:sts::111122223333:assumed-role/uploader/sess", "arn:aws:iam::111122223333:role/uploader"},
		{"RoleARN", "arn:aws-cn:sts::111122223333:assumed-role/r/botocore-1", "arn:aws-cn:iam::111122223333:role/r"},
		{"RoleARN", "arn:aws:iam::111122223333:user/alice", ""},
		{"RoleARN", "arn:aws:sts::111122223333:federated-user/bob", ""},
		{"RoleARN", "not an arn", ""},
		{"SourceLabel", "SharedConfigCredentials: /home/u/.aws/credentials", "SharedConfigCredentials"},
		{"SourceLabel", "CredentialsEndpointProvider", "CredentialsEndpointProvider"},
		{"SourceLabel", "", "none"},
	}
	for _, tt := range tests {
		if got := funcs[tt.fn](tt.in); got != tt.want {
			t.Errorf("%s(%q): got %q, want %q", tt.fn, tt.in, got, tt.want)
		}
	}
}

func TestWarnings(t *testing.T) {
	tests := []struct {
		id   Identity
		want []string // substrings, one per warning
	}{
		{Identity{Mode: ModeStatic}, []string{"long-lived secret"}},
		{Identity{Mode: ModeNodeRole}, []string{"every pod on the node", "HttpPutResponseHopLimit"}},
		{Identity{Mode: ModeUnknown, Source: "X"}, []string{`source "X"`}},
		{Identity{Mode: ModeSharedProfile, Source: "SharedConfigCredentials: /f"}, []string{"mounted file"}},
		{Identity{Mode: ModeSharedProfile, Source: "SSOProvider"}, nil},
		{Identity{Mode: ModeIRSA}, nil},
		{Identity{Mode: ModePodIdentity}, nil},
	}
	for _, tt := range tests {
		t.Run(string(tt.id.Mode), func(t *testing.T) {
			got := tt.id.Warnings()
			if len(got) != len(tt.want) {
				t.Fatalf("got %q, want %d warnings", got, len(tt.want))
			}
			for i := range got {
				if !strings.Contains(got[i], tt.want[i]) {
					t.Errorf("warning %d: got %q, want it to contain %q", i, got[i], tt.want[i])
				}
			}
		})
	}
}
