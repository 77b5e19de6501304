package main

import (
	"bytes"
	"log/slog"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/eks-least-privilege/uploader/internal/cycle"
	"github.com/eks-least-privilege/uploader/internal/fetch"
	"github.com/eks-least-privilege/uploader/internal/settings"
	"github.com/eks-least-privilege/uploader/internal/upload"
	"github.com/eks-least-privilege/uploader/test/testenv"
)

// setEnv sets the environment of a test: base plus overrides, every config
// variable not named left unset.
func setEnv(t *testing.T, vars map[string]string) {
	t.Helper()
	for _, name := range settings.Names(config{}) {
		t.Setenv(name, "") // restored at cleanup
		os.Unsetenv(name)
	}
	for k, v := range vars {
		t.Setenv(k, v)
	}
}

func TestLoadConfigDefaults(t *testing.T) {
	setEnv(t, map[string]string{"S3_BUCKET_NAME": "my-bucket", "AWS_REGION": "eu-west-1"})
	cfg, err := loadConfig()
	if err != nil {
		t.Fatalf("loadConfig: %v", err)
	}
	if got, want := cfg.Interval, 30*time.Second; got != want {
		t.Errorf("Interval: got %s, want %s", got, want)
	}
	if got, want := cfg.MaxImageBytes, settings.Decimal(32<<20); got != want {
		t.Errorf("MaxImageBytes: got %d, want %d", got, want)
	}
	if got, want := cfg.MaxFailures, settings.Decimal(5); got != want {
		t.Errorf("MaxFailures: got %d, want %d", got, want)
	}
	if got, want := cfg.MetricsAddr, ":9090"; got != want {
		t.Errorf("MetricsAddr: got %q, want %q", got, want)
	}
	if cfg.ShutdownTimeout >= 30*time.Second {
		t.Errorf("ShutdownTimeout: got %s, want below Kubernetes' 30s grace", cfg.ShutdownTimeout)
	}
}

func TestLoadAllRegion(t *testing.T) {
	tests := []struct {
		name    string
		env     map[string]string
		profile string // region in the AWS config file
		wantErr bool
	}{
		{"AWS_REGION", map[string]string{"AWS_REGION": "eu-west-1"}, "", false},
		{"AWS_DEFAULT_REGION", map[string]string{"AWS_DEFAULT_REGION": "eu-west-1"}, "", false},
		{"profile", nil, "eu-west-1", false},
		{"none", nil, "", true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			testenv.IsolateAWSEnv(t)
			setEnv(t, map[string]string{"S3_BUCKET_NAME": "my-bucket"})
			for k, v := range tt.env {
				t.Setenv(k, v)
			}
			if tt.profile != "" {
				if err := os.WriteFile(os.Getenv("AWS_CONFIG_FILE"), []byte("[default]\nregion = "+tt.profile+"\n"), 0o600); err != nil {
					t.Fatal(err)
				}
			}
			_, awsCfg, err := loadAll(t.Context())
			if tt.wantErr {
				if err == nil || !strings.Contains(err.Error(), "AWS_REGION: required") {
					t.Fatalf("got %v, want AWS_REGION: required", err)
				}
				return
			}
			if err != nil {
				t.Fatalf("got %v, want no error", err)
			}
			if awsCfg.Region != "eu-west-1" {
				t.Errorf("region: got %q, want eu-west-1", awsCfg.Region)
			}
		})
	}
}

func TestLoadConfigListsEveryProblem(t *testing.T) {
	setEnv(t, map[string]string{
		"UPLOAD_INTERVAL":                 "0s",
		"UPLOAD_COUNT":                    "many",
		"MAX_IMAGE_BYTES":                 "0",
		"UPLOAD_MAX_CONSECUTIVE_FAILURES": "0",
		"LOG_FORMAT":                      "xml",
		"LOG_LEVEL":                       "loud",
		"LEAST_PRIVILEGE_CHECK":           "maybe",
		"IMAGE_SOURCE_URL":                "ftp://user:hunter2@example.com/x",
		"S3_KEY_PREFIX":                   "/a b",
		"FETCH_TIMEOUT":                   "soon",
		"REQUIRE_CREDENTIAL_MODE":         "irsa,magic",
		"S3_SSE":                          "aws:kms:sse",
		"S3_EXPECTED_BUCKET_OWNER":        "1111-2222-3333",
		"S3_BUCKET_KEY_ENABLED":           "yes",
	})
	_, err := loadConfig()
	if err == nil {
		t.Fatal("got no error, want one per bad variable")
	}
	msg := err.Error()
	for _, want := range []string{
		"S3_BUCKET_NAME: required",
		`UPLOAD_INTERVAL: must be >= 100ms and <= 24h0m0s, got "0s"`,
		`UPLOAD_COUNT: must be a base-10 integer, got "many"`,
		"MAX_IMAGE_BYTES: must be >= 1",
		"UPLOAD_MAX_CONSECUTIVE_FAILURES: must be >= 1",
		`LOG_FORMAT: must be json or text, got "xml"`,
		`LOG_LEVEL: must be debug, info, warn or error, got "loud"`,
		`LEAST_PRIVILEGE_CHECK: must be off, warn or enforce, got "maybe"`,
		"IMAGE_SOURCE_URL: must be an http(s) URL or builtin:",
		`S3_KEY_PREFIX: must not start with "/"`,
		`REQUIRE_CREDENTIAL_MODE: `,
		`"magic"`,
		`FETCH_TIMEOUT: cannot parse "soon"`,
		`S3_SSE: must be empty (the bucket's default), AES256, aws:kms or aws:kms:dsse, got "aws:kms:sse"`,
		`S3_EXPECTED_BUCKET_OWNER: must be a 12-digit AWS account id, got "1111-2222-3333"`,
		`S3_BUCKET_KEY_ENABLED: cannot parse "yes"`,
	} {
		if !strings.Contains(msg, want) {
			t.Errorf("error lacks %q; got:\n%s", want, msg)
		}
	}
	if strings.Contains(msg, "hunter2") {
		t.Errorf("error reveals the source URL's password:\n%s", msg)
	}
}

func TestUsageListsEveryVariable(t *testing.T) {
	var out bytes.Buffer
	if err := run(t.Context(), []string{"help"}, &out); err != nil {
		t.Fatalf("help: %v", err)
	}
	for _, name := range settings.Names(config{}) {
		if !strings.Contains(out.String(), name) {
			t.Errorf("help lacks %s", name)
		}
	}
	if !strings.Contains(out.String(), "30s") {
		t.Errorf("help lacks the defaults:\n%s", out.String())
	}
}

func TestUnknownCommand(t *testing.T) {
	var out bytes.Buffer
	err := run(t.Context(), []string{"uplaod"}, &out)
	if err == nil || !strings.Contains(err.Error(), `unknown command "uplaod"`) {
		t.Fatalf("got %v, want unknown command error", err)
	}
}

func TestLoadConfigReportsEachVariableOnce(t *testing.T) {
	setEnv(t, map[string]string{"AWS_REGION": "eu-west-1", "UPLOAD_INTERVAL": "x"})
	_, err := loadConfig()
	if err == nil {
		t.Fatal("got no error, want S3_BUCKET_NAME and UPLOAD_INTERVAL problems")
	}
	for _, name := range []string{"S3_BUCKET_NAME:", "UPLOAD_INTERVAL:"} {
		if got := strings.Count(err.Error(), name); got != 1 {
			t.Errorf("%s reported %d times, want once:\n%s", name, got, err)
		}
	}
}

// Values that parse but would break the process are refused at start.
func TestLoadConfigRefusesValuesThatBreakTheProcess(t *testing.T) {
	tests := map[string]struct{ value, want string }{
		"UPLOAD_INTERVAL": {"2562047h47m", "UPLOAD_INTERVAL: must be >= 100ms and <= 24h0m0s"},
		"UPLOAD_TIMEOUT":  {"1000h", "UPLOAD_TIMEOUT: must be >= 100ms and <= 1h0m0s"},
		"MAX_IMAGE_BYTES": {"9223372036854775807", "MAX_IMAGE_BYTES: must be >= 1 and <= 5368709120"},
		"UPLOAD_COUNT":    {"0x10", `UPLOAD_COUNT: must be a base-10 integer, got "0x10"`},
		"LOG_LEVEL":       {"info+4", `LOG_LEVEL: must be debug, info, warn or error, got "info+4"`},
	}
	for name, tt := range tests {
		t.Run(name, func(t *testing.T) {
			setEnv(t, map[string]string{"S3_BUCKET_NAME": "my-bucket", name: tt.value})
			_, err := loadConfig()
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Errorf("got %v, want %q", err, tt.want)
			}
		})
	}
}

// The application's defaults are the packages' defaults for the same knob.
func TestDefaultsHaveOneOwner(t *testing.T) {
	setEnv(t, map[string]string{"S3_BUCKET_NAME": "my-bucket"})
	cfg, err := loadConfig()
	if err != nil {
		t.Fatal(err)
	}
	if cfg.FetchTimeout != fetch.DefaultTimeout {
		t.Errorf("FETCH_TIMEOUT %s, fetch.DefaultTimeout %s: want one value", cfg.FetchTimeout, fetch.DefaultTimeout)
	}
	if int64(cfg.MaxImageBytes) != fetch.DefaultMaxBytes {
		t.Errorf("MAX_IMAGE_BYTES %d, fetch.DefaultMaxBytes %d: want one value", cfg.MaxImageBytes, fetch.DefaultMaxBytes)
	}
	if cfg.LogLevel.Level != slog.LevelInfo || cfg.LeastPrivilege != cycle.LeastPrivilegeOff {
		t.Errorf("log level %v, least privilege %q: want info and off", cfg.LogLevel.Level, cfg.LeastPrivilege)
	}
}

// The encryption settings go together: a key or a bucket key only with KMS,
// a bucket key not with DSSE-KMS; any key name is taken as given.
func TestLoadConfigEncryption(t *testing.T) {
	tests := []struct {
		name string
		env  map[string]string
		want upload.Encryption
		errs []string
	}{
		{name: "unset: the bucket's default", want: upload.Encryption{}},
		{name: "set empty, as the manifests and compose do", want: upload.Encryption{},
			env: map[string]string{"S3_SSE": "", "S3_SSE_KMS_KEY_ID": "", "S3_BUCKET_KEY_ENABLED": "false", "S3_EXPECTED_BUCKET_OWNER": ""}},
		{name: "AES256", env: map[string]string{"S3_SSE": "AES256"}, want: upload.Encryption{SSE: upload.SSES3}},
		{name: "kms with a MinIO key name and bucket key",
			env:  map[string]string{"S3_SSE": "aws:kms", "S3_SSE_KMS_KEY_ID": "uploader-key", "S3_BUCKET_KEY_ENABLED": "true"},
			want: upload.Encryption{SSE: upload.SSEKMS, KMSKeyID: "uploader-key", BucketKey: true}},
		{name: "kms with an alias ARN",
			env:  map[string]string{"S3_SSE": "aws:kms", "S3_SSE_KMS_KEY_ID": "arn:aws:kms:eu-west-1:111122223333:alias/uploads"},
			want: upload.Encryption{SSE: upload.SSEKMS, KMSKeyID: "arn:aws:kms:eu-west-1:111122223333:alias/uploads"}},
		{name: "dsse with a key", env: map[string]string{"S3_SSE": "aws:kms:dsse", "S3_SSE_KMS_KEY_ID": "k"},
			want: upload.Encryption{SSE: upload.SSEKMSDSSE, KMSKeyID: "k"}},
		{name: "key without kms", env: map[string]string{"S3_SSE": "AES256", "S3_SSE_KMS_KEY_ID": "k", "S3_BUCKET_KEY_ENABLED": "true"},
			errs: []string{`S3_SSE_KMS_KEY_ID: needs S3_SSE=aws:kms or aws:kms:dsse, S3_SSE is "AES256"`,
				`S3_BUCKET_KEY_ENABLED: needs S3_SSE=aws:kms (S3 Bucket Keys do not apply to SSE-S3), S3_SSE is "AES256"`}},
		{name: "bucket key with dsse", env: map[string]string{"S3_SSE": "aws:kms:dsse", "S3_BUCKET_KEY_ENABLED": "true"},
			errs: []string{`S3_BUCKET_KEY_ENABLED: needs S3_SSE=aws:kms (S3 Bucket Keys do not apply to DSSE-KMS), S3_SSE is "aws:kms:dsse"`}},
		{name: "key with a bad S3_SSE: each reported once", env: map[string]string{"S3_SSE": "kms", "S3_SSE_KMS_KEY_ID": "k"},
			errs: []string{`S3_SSE: must be empty`, `S3_SSE_KMS_KEY_ID: needs S3_SSE=aws:kms or aws:kms:dsse`}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			env := map[string]string{"S3_BUCKET_NAME": "my-bucket"}
			for k, v := range tt.env {
				env[k] = v
			}
			setEnv(t, env)
			cfg, err := loadConfig()
			if tt.errs == nil {
				if err != nil {
					t.Fatalf("got %v, want no error", err)
				}
				if got := cfg.encryption(); got != tt.want {
					t.Errorf("got %+v, want %+v", got, tt.want)
				}
				return
			}
			if err == nil {
				t.Fatalf("got no error, want %q", tt.errs)
			}
			for _, want := range tt.errs {
				if !strings.Contains(err.Error(), want) {
					t.Errorf("error lacks %q; got:\n%s", want, err)
				}
			}
			if strings.Contains(err.Error(), `S3_SSE is ""`) {
				t.Errorf("error blames an empty S3_SSE:\n%s", err)
			}
		})
	}
}

// The start line shows the encryption and the expected owner (neither is a
// secret), under the variables' names.
func TestConfigLogValueShowsS3Settings(t *testing.T) {
	setEnv(t, map[string]string{"S3_BUCKET_NAME": "my-bucket", "S3_SSE": "aws:kms", "S3_SSE_KMS_KEY_ID": "uploader-key",
		"S3_EXPECTED_BUCKET_OWNER": "111122223333"})
	cfg, err := loadConfig()
	if err != nil {
		t.Fatal(err)
	}
	var buf bytes.Buffer
	slog.New(slog.NewJSONHandler(&buf, nil)).Info("uploader starting", "config", cfg)
	for _, want := range []string{`"s3_sse":"aws:kms"`, `"s3_sse_kms_key_id":"uploader-key"`, `"s3_bucket_key_enabled":false`,
		`"s3_expected_bucket_owner":"111122223333"`} {
		if !strings.Contains(buf.String(), want) {
			t.Errorf("start line lacks %s: %s", want, buf.String())
		}
	}
	if cfg.ExpectedOwner != "111122223333" {
		t.Errorf("expected owner: got %q", cfg.ExpectedOwner)
	}
}
