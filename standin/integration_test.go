package standin_test

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/config"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/aws/smithy-go"

	"github.com/eks-least-privilege/uploader/standin"
	"github.com/eks-least-privilege/uploader/test/miniotest"
	"github.com/eks-least-privilege/uploader/test/standintest"
	"github.com/eks-least-privilege/uploader/test/testenv"
)

// modeClient returns an S3 client of f's MinIO, and its config, resolved by
// the SDK's default chain from the environment of credential mode.
func modeClient(t *testing.T, f standintest.Fixture, mode string, optFns ...func(*config.LoadOptions) error) (*s3.Client, aws.Config) {
	t.Helper()
	testenv.IsolateAWSEnv(t)
	t.Setenv("AWS_REGION", miniotest.Region)
	t.Setenv("AWS_ENDPOINT_URL_S3", f.Srv.Endpoint)
	for _, kv := range f.ModeEnv(t, mode) {
		k, v, _ := strings.Cut(kv, "=")
		t.Setenv(k, v)
	}
	cfg, err := config.LoadDefaultConfig(context.Background(), optFns...)
	if err != nil {
		t.Fatalf("load default config: %v", err)
	}
	return s3.NewFromConfig(cfg, func(o *s3.Options) { o.UsePathStyle = true }), cfg
}

func put(ctx context.Context, c *s3.Client, bucket, key string) error {
	_, err := c.PutObject(ctx, &s3.PutObjectInput{Bucket: aws.String(bucket), Key: aws.String(key), Body: strings.NewReader("x")})
	return err
}

func errorCode(err error) string {
	var ae smithy.APIError
	if errors.As(err, &ae) {
		return ae.ErrorCode()
	}
	return ""
}

func TestModesWithDefaultChainAreLeastPrivilege(t *testing.T) {
	f := standintest.Start(t, standin.StackOptions{}, standin.MinterOptions{})
	if arn, ok := standin.FindRoleARN(f.Srv.Log.String()); ok && arn != f.Stack.RoleARN() {
		t.Errorf("role ARN: MinIO logged %q, stand-in uses %q", arn, f.Stack.RoleARN())
	}
	tests := []struct {
		mode       string
		wantSource string
	}{
		{"static", "EnvConfigCredentials"},
		{"static-legacy", "EnvConfigCredentials"},
		{"node-role", "EC2RoleProvider"},
		{"irsa", "WebIdentityCredentials"},
		{"pod-identity", "CredentialsEndpointProvider"},
	}
	for _, tt := range tests {
		t.Run(tt.mode, func(t *testing.T) {
			client, cfg := modeClient(t, f, tt.mode)
			ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
			defer cancel()
			c, err := cfg.Credentials.Retrieve(ctx)
			if err != nil {
				t.Fatalf("retrieve credentials: %v\nminio log:\n%s", err, f.Srv.Log.String())
			}
			if c.Source != tt.wantSource {
				t.Errorf("source: got %q, want %q", c.Source, tt.wantSource)
			}
			key := "modes/" + tt.mode + ".txt"
			if err := put(ctx, client, f.Bucket, key); err != nil {
				t.Fatalf("put object: got %v, want success", err)
			}
			_, err = client.GetObject(ctx, &s3.GetObjectInput{Bucket: aws.String(f.Bucket), Key: aws.String(key)})
			if got := errorCode(err); got != "AccessDenied" {
				t.Errorf("get object: got %v (code %q), want AccessDenied", err, got)
			}
			_, err = client.ListObjectsV2(ctx, &s3.ListObjectsV2Input{Bucket: aws.String(f.Bucket)})
			if got := errorCode(err); got != "AccessDenied" {
				t.Errorf("list bucket: got %v (code %q), want AccessDenied", err, got)
			}
		})
	}
}

// putFor puts objects every 100ms for d and returns how many failed.
func putFor(t *testing.T, c *s3.Client, bucket string, d time.Duration) (ok, failed int, last error) {
	t.Helper()
	deadline := time.Now().Add(d)
	for i := 0; time.Now().Before(deadline); i++ {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		err := put(ctx, c, bucket, "rotation/"+time.Now().Format("150405.000000"))
		cancel()
		if err != nil {
			failed++
			last = err
		} else {
			ok++
		}
		time.Sleep(100 * time.Millisecond)
	}
	return ok, failed, last
}

func TestRotationKeepsUploadsGoing(t *testing.T) {
	if testing.Short() {
		t.Skip("rotation runs for seconds")
	}
	// Credentials advertised for 2s (IMDS, Pod Identity); IRSA tokens, and so
	// MinIO's web identity credentials, live 4s and are rewritten at 80%.
	f := standintest.Start(t, standin.StackOptions{TokenLifetime: 4 * time.Second}, standin.MinterOptions{Advertise: 2 * time.Second})
	// The SDK refreshes web identity credentials at their very expiry; a
	// request signed just before it reaches MinIO after it. A window, as the
	// app should set, refreshes them 1s early. It also replaces the 5 minute
	// window of the container provider, which would refresh on every call.
	window := config.WithCredentialsCacheOptions(func(o *aws.CredentialsCacheOptions) { o.ExpiryWindow = time.Second })
	for _, mode := range []string{"node-role", "irsa", "pod-identity"} {
		t.Run(mode, func(t *testing.T) {
			minted, signed := f.Minter.Minted(), f.Stack.Issuer.Signed()
			client, _ := modeClient(t, f, mode, window)
			ok, failed, last := putFor(t, client, f.Bucket, 7*time.Second)
			if failed > 0 {
				t.Errorf("uploads: got %d failed (last %v), want none", failed, last)
			}
			refreshes := f.Minter.Minted() - minted
			if mode == "irsa" {
				refreshes = f.Stack.Issuer.Signed() - signed
			}
			if refreshes < 3 {
				t.Errorf("refreshes in 7s: got %d, want at least 3", refreshes)
			}
			t.Logf("%s: %d uploads, %d refreshes", mode, ok, refreshes)
		})
	}
}

func TestRevocationFailsUploadsUntilRestored(t *testing.T) {
	if testing.Short() {
		t.Skip("revocation runs for seconds")
	}
	f := standintest.Start(t, standin.StackOptions{TokenLifetime: 4 * time.Second}, standin.MinterOptions{Advertise: 2 * time.Second})
	window := config.WithCredentialsCacheOptions(func(o *aws.CredentialsCacheOptions) { o.ExpiryWindow = time.Second })
	tests := []struct {
		mode            string
		revoke, restore func()
	}{
		{"node-role", f.Minter.Revoke, f.Minter.Restore},
		{"pod-identity", f.Minter.Revoke, f.Minter.Restore},
		{"irsa", f.Stack.Issuer.Revoke, f.Stack.Issuer.Restore},
	}
	for _, tt := range tests {
		t.Run(tt.mode, func(t *testing.T) {
			client, _ := modeClient(t, f, tt.mode, window)
			if _, failed, last := putFor(t, client, f.Bucket, 300*time.Millisecond); failed > 0 {
				t.Fatalf("before revocation: got %d failed (last %v), want none", failed, last)
			}
			tt.revoke()
			// Within a refresh (and, for IRSA, a token rewrite) uploads fail.
			testenv.WaitFor(t, 10*time.Second, "uploads to fail", func() bool {
				ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
				defer cancel()
				return put(ctx, client, f.Bucket, "revoked") != nil
			})
			tt.restore()
			testenv.WaitFor(t, 10*time.Second, "uploads to resume", func() bool {
				ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
				defer cancel()
				return put(ctx, client, f.Bucket, "restored") == nil
			})
		})
	}
}
