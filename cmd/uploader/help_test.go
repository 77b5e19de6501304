package main

import (
	"bytes"
	"context"
	"os"
	"strings"
	"testing"

	"github.com/eks-least-privilege/uploader/test/testenv"
)

// TestHelpNeedsNoConfiguration: every command's --help prints help and
// succeeds with no S3_BUCKET_NAME, no AWS_REGION and nothing else set.
func TestHelpNeedsNoConfiguration(t *testing.T) {
	testenv.IsolateAWSEnv(t)
	unsetConfig(t)
	for name, tt := range map[string]struct {
		args []string
		want string
	}{
		"help":                              {[]string{"help"}, "S3_BUCKET_NAME"},
		"--help":                            {[]string{"--help"}, "S3_BUCKET_NAME"},
		"check --help":                      {[]string{"check", "--help"}, "uploader check"},
		"check -h":                          {[]string{"check", "-h"}, "uploader check"},
		"healthcheck --help":                {[]string{"healthcheck", "--help"}, "uploader healthcheck"},
		"version --help":                    {[]string{"version", "--help"}, "uploader version"},
		"policy --help":                     {[]string{"policy", "--help"}, "usage: uploader policy identity|key|bucket|trust"},
		"policy trust --help":               {[]string{"policy", "trust", "--help"}, "-service-account"},
		"policy trust -h":                   {[]string{"policy", "trust", "-h"}, "-issuer"},
		"policy identity -help":             {[]string{"policy", "identity", "-help"}, "Usage of uploader policy identity"},
		"policy key --help":                 {[]string{"policy", "key", "--help"}, "-kms-key"},
		"policy bucket --help":              {[]string{"policy", "bucket", "--help"}, "-role-arn"},
		"policy trust --help (assume-role)": {[]string{"policy", "trust", "--help"}, "-external-id"},
	} {
		t.Run(name, func(t *testing.T) {
			var out bytes.Buffer
			if err := run(context.Background(), tt.args, &out); err != nil {
				t.Fatalf("got error %v, want help and success\n%s", err, out.String())
			}
			if !strings.Contains(out.String(), tt.want) {
				t.Errorf("output lacks %q:\n%s", tt.want, out.String())
			}
		})
	}
}

// TestUsageErrors: `uploader policy` alone prints its usage and fails, as do
// unknown commands and arguments; none needs the configuration to say so.
func TestUsageErrors(t *testing.T) {
	testenv.IsolateAWSEnv(t)
	unsetConfig(t)
	for name, tt := range map[string]struct {
		args    []string
		want    string
		wantErr string
	}{
		"policy alone":      {[]string{"policy"}, "usage: uploader policy identity|key|bucket|trust", "want identity, key, bucket, trust"},
		"policy admin":      {[]string{"policy", "admin"}, "usage: uploader policy identity|key|bucket|trust", `got "admin"`},
		"policy trust -bad": {[]string{"policy", "trust", "-bad"}, "-service-account", "-bad"},
		"check extra":       {[]string{"check", "extra"}, "uploader check", "unexpected arguments"},
		"unknown command":   {[]string{"upload"}, "uploader check", `unknown command "upload"`},
	} {
		t.Run(name, func(t *testing.T) {
			var out bytes.Buffer
			err := run(context.Background(), tt.args, &out)
			if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
				t.Fatalf("got error %v, want one containing %q", err, tt.wantErr)
			}
			if strings.Contains(err.Error(), "S3_BUCKET_NAME") {
				t.Errorf("a usage error asked for the configuration: %v", err)
			}
			if !strings.Contains(out.String(), tt.want) {
				t.Errorf("output lacks %q:\n%s", tt.want, out.String())
			}
		})
	}
}

// unsetConfig removes the required variables from the environment for the
// test (set and empty would be a different case).
func unsetConfig(t *testing.T) {
	t.Helper()
	for _, name := range []string{"S3_BUCKET_NAME", "AWS_REGION", "AWS_DEFAULT_REGION"} {
		t.Setenv(name, "") // restores the old value after the test
		if err := os.Unsetenv(name); err != nil {
			t.Fatal(err)
		}
	}
}
