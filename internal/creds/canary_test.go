package creds

import (
	"bytes"
	"context"
	"fmt"
	"log/slog"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/config"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/common/expfmt"

	"github.com/eks-least-privilege/uploader/test/testenv"
)

// exercise runs everything that reports on cfg's credentials and returns
// what it printed: JSON logs, metrics, error texts and formatted values.
func exercise(t *testing.T, cfg aws.Config) string {
	t.Helper()
	var out bytes.Buffer
	logger := slog.New(slog.NewJSONHandler(&out, &slog.HandlerOptions{Level: slog.LevelDebug}))
	reg := prometheus.NewRegistry()
	w, err := NewWatcher(cfg, logger, reg)
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	for range 2 {
		id, err := w.Check(ctx)
		logger.Info("cycle", "identity", id, "err", err, "reason", Reason(err))
		fmt.Fprintf(&out, "%v\n%+v\n%#v\n%s\n", id, id, id, Reason(err))
		if err != nil {
			fmt.Fprintln(&out, err.Error())
		}
		if err := Require(id, []Mode{ModeECS}); err != nil {
			fmt.Fprintln(&out, err.Error())
		}
		fmt.Fprintln(&out, strings.Join(id.Warnings(), "\n"))
	}
	id, err := Resolve(ctx, cfg)
	logger.Info("resolved", "identity", id, "err", err)
	fmt.Fprintf(&out, "%+v %v\n", id, err)
	enc := expfmt.NewEncoder(&out, expfmt.NewFormat(expfmt.TypeTextPlain))
	for _, mf := range mustGather(t, reg) {
		if err := enc.Encode(mf); err != nil {
			t.Fatal(err)
		}
	}
	return out.String()
}

func TestNoSecretsInOutput(t *testing.T) {
	secret := aws.Credentials{SecretAccessKey: canary + "-secret-key", SessionToken: canary + "-session-token",
		CanExpire: true, Expires: time.Now().Add(time.Hour)}
	static := func(key, source string, chain ...aws.CredentialSource) func(t *testing.T) aws.Config {
		return func(t *testing.T) aws.Config {
			c := secret
			c.AccessKeyID, c.Source = key, source
			return stsConfig(newSTS(t, nil), aws.NewCredentialsCache(credentials.StaticCredentialsProvider{Value: c, Source: chain}))
		}
	}
	sdk := func(env func(t *testing.T) map[string]string, sts func(*stsServer)) func(t *testing.T) aws.Config {
		return func(t *testing.T) aws.Config {
			srv := newSTS(t, sts)
			testenv.IsolateAWSEnv(t)
			t.Setenv("AWS_REGION", "us-east-1")
			t.Setenv("AWS_ENDPOINT_URL_STS", srv.URL)
			for k, v := range env(t) {
				t.Setenv(k, v)
			}
			cfg, err := config.LoadDefaultConfig(context.Background())
			if err != nil {
				t.Fatal(err)
			}
			return cfg
		}
	}
	tests := map[string]func(t *testing.T) aws.Config{
		"EnvConfigCredentials":        static("AKIAEXAMPLE0000001", "EnvConfigCredentials", aws.CredentialSourceEnvVars),
		"StaticCredentials":           static("AKIAEXAMPLE0000001", "StaticCredentials"),
		"EC2RoleProvider":             static("ASIAEXAMPLE0000001", "EC2RoleProvider", aws.CredentialSourceIMDS),
		"WebIdentityCredentials":      static("ASIAEXAMPLE0000001", "WebIdentityCredentials", aws.CredentialSourceEnvVarsSTSWebIDToken),
		"CredentialsEndpointProvider": static("ASIAEXAMPLE0000001", "CredentialsEndpointProvider", aws.CredentialSourceHTTP),
		"SharedConfigCredentials":     static("AKIAEXAMPLE0000001", "SharedConfigCredentials: /f", aws.CredentialSourceProfile),
		"AssumeRoleProvider":          static("ASIAEXAMPLE0000001", "AssumeRoleProvider"),
		"unknown source":              static("ASIAEXAMPLE0000001", "SomethingElse"),
		"short key":                   static("minio", "EnvConfigCredentials", aws.CredentialSourceEnvVars),
		"empty key":                   static("", "EnvConfigCredentials", aws.CredentialSourceEnvVars),
		"caller denied": func(t *testing.T) aws.Config {
			c := secret
			c.AccessKeyID, c.Source = "AKIAEXAMPLE0000001", "EnvConfigCredentials"
			return stsConfig(newSTS(t, func(s *stsServer) { s.denyAll = true }), credentials.StaticCredentialsProvider{Value: c})
		},
		"sdk env keys": sdk(func(t *testing.T) map[string]string {
			return map[string]string{"AWS_ACCESS_KEY_ID": "AKIAEXAMPLE0000001", "AWS_SECRET_ACCESS_KEY": canary + "-env", "AWS_SESSION_TOKEN": canary + "-env-token"}
		}, nil),
		"sdk legacy env keys": sdk(func(t *testing.T) map[string]string {
			return map[string]string{"AWS_ACCESS_KEY": "AKIAEXAMPLE0000001", "AWS_SECRET_KEY": canary + "-env"}
		}, nil),
		"sdk irsa": sdk(func(t *testing.T) map[string]string {
			return map[string]string{"AWS_WEB_IDENTITY_TOKEN_FILE": testenv.WriteFile(t, "token", canary+"-jwt"), "AWS_ROLE_ARN": testRole}
		}, nil),
		"sdk irsa denied": sdk(func(t *testing.T) map[string]string {
			return map[string]string{"AWS_WEB_IDENTITY_TOKEN_FILE": testenv.WriteFile(t, "token", canary+"-jwt"), "AWS_ROLE_ARN": testRole}
		}, func(s *stsServer) { s.denyAll = true }),
		"sdk pod identity": sdk(func(t *testing.T) map[string]string {
			return map[string]string{
				"AWS_CONTAINER_CREDENTIALS_FULL_URI":     containerServer(t, canary+"-agent-token").URL,
				"AWS_CONTAINER_AUTHORIZATION_TOKEN_FILE": testenv.WriteFile(t, "token", canary+"-agent-token"),
			}
		}, nil),
		"sdk pod identity wrong token": sdk(func(t *testing.T) map[string]string {
			return map[string]string{
				"AWS_CONTAINER_CREDENTIALS_FULL_URI":     containerServer(t, "right").URL,
				"AWS_CONTAINER_AUTHORIZATION_TOKEN_FILE": testenv.WriteFile(t, "token", canary+"-agent-token"),
			}
		}, nil),
		"sdk node role": sdk(func(t *testing.T) map[string]string {
			return map[string]string{"AWS_EC2_METADATA_DISABLED": "false", "AWS_EC2_METADATA_SERVICE_ENDPOINT": imdsServer(t).URL}
		}, nil),
		"sdk profile assume role denied": sdk(func(t *testing.T) map[string]string {
			f := testenv.WriteFile(t, "config", "[profile base]\naws_access_key_id = AKIAEXAMPLE0000001\naws_secret_access_key = "+canary+"-profile\n"+
				"[profile app]\nrole_arn = "+testRole+"\nsource_profile = base\n")
			return map[string]string{"AWS_CONFIG_FILE": f, "AWS_PROFILE": "app"}
		}, func(s *stsServer) { s.denyAll = true }),
	}
	for name, cfg := range tests {
		t.Run(name, func(t *testing.T) {
			out := exercise(t, cfg(t))
			testenv.NoSecrets(t, out, canary)
			if !strings.Contains(out, "uploader_aws_credentials_info") && !strings.Contains(out, "retrieve aws credentials") {
				t.Errorf("output shows neither metrics nor an error:\n%s", out)
			}
		})
	}
}
