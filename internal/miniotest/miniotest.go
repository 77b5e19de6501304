// Package miniotest gives integration tests a real S3 endpoint: a MinIO server
// named by the environment, a `minio` binary started as a separate process on a
// free loopback port, or a testcontainers MinIO when a Docker engine runs.
// Without any of them a test skips with a message saying how to enable it; when
// CI=true a missing endpoint fails the test instead.
//
// MinIO is AGPL: it only ever runs as a separate process, never linked in.
package miniotest

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/testcontainers/testcontainers-go"
	tcminio "github.com/testcontainers/testcontainers-go/modules/minio"

	"github.com/eks-least-privilege/uploader/internal/policy"
)

// Environment variables that point the harness at an S3 endpoint that is
// already running (any S3-compatible store on loopback).
const (
	EnvEndpoint  = "UPLOADER_TEST_S3_ENDPOINT"
	EnvAccessKey = "UPLOADER_TEST_S3_ACCESS_KEY"
	EnvSecretKey = "UPLOADER_TEST_S3_SECRET_KEY"
	// EnvMinIOBin names the minio binary when it is not on PATH.
	EnvMinIOBin = "MINIO_BIN"
)

// MinIOModule is the pinned MinIO source version CI builds (go install).
const MinIOModule = "github.com/minio/minio@v0.0.0-20260212201848-7aac2a2c5b7c"

// ContainerImage is the MinIO image used when only a Docker engine is available.
// Docker Hub no longer serves minio/minio; quay.io keeps the archived releases.
const ContainerImage = "quay.io/minio/minio:RELEASE.2025-09-07T16-13-09Z"

// Region is the region every test client uses.
const Region = "us-east-1"

// Options change how a MinIO process is started.
type Options struct {
	// Env is added to the minio process environment (MINIO_IDENTITY_OPENID_*, ...).
	// A non-empty Env needs a minio binary: an external endpoint cannot take it.
	Env []string
}

// Server is a running S3 endpoint with root credentials.
type Server struct {
	Endpoint     string // http://127.0.0.1:port
	RootUser     string
	RootPassword string
	// Log holds what the minio process printed, when the harness started it.
	Log *LockedBuffer
}

// Start returns a running S3 endpoint for the test, stopped at cleanup.
func Start(t testing.TB) *Server {
	t.Helper()
	return StartWith(t, Options{})
}

// StartWith is Start with options for the MinIO process.
func StartWith(t testing.TB, opts Options) *Server {
	t.Helper()
	if ep := os.Getenv(EnvEndpoint); ep != "" && len(opts.Env) == 0 {
		return &Server{Endpoint: ep, RootUser: os.Getenv(EnvAccessKey), RootPassword: os.Getenv(EnvSecretKey)}
	}
	if bin := Binary(); bin != "" {
		return startProcess(t, bin, opts)
	}
	if len(opts.Env) == 0 {
		if s := startContainer(t); s != nil {
			return s
		}
	}
	Unavailable(t, "no S3 endpoint for integration tests: set "+EnvEndpoint+" (with "+EnvAccessKey+
		" and "+EnvSecretKey+"), or put `minio` on PATH (go install "+MinIOModule+"), or run a Docker engine")
	return nil
}

// Unavailable skips the test with msg, or fails it when CI=true: in CI an
// integration test that cannot run is a failure, never a silent skip.
func Unavailable(t testing.TB, msg string) {
	t.Helper()
	if os.Getenv("CI") == "true" {
		t.Fatalf("CI=true and integration test cannot run: %s", msg)
	}
	t.Skip(msg)
}

// Binary finds the minio binary: $MINIO_BIN, PATH, then $GOPATH/bin.
func Binary() string {
	if b := os.Getenv(EnvMinIOBin); b != "" {
		return b
	}
	if b, err := exec.LookPath("minio"); err == nil {
		return b
	}
	b := filepath.Join(gopathBin(), "minio")
	if _, err := os.Stat(b); err == nil {
		return b
	}
	return ""
}

func startProcess(t testing.TB, bin string, opts Options) *Server {
	t.Helper()
	dir := t.TempDir()
	port, console := FreePort(t), FreePort(t)
	s := &Server{
		Endpoint:     "http://" + port,
		RootUser:     "minioroot",
		RootPassword: "minioroot-" + RandomHex(8),
		Log:          &LockedBuffer{},
	}
	cmd := exec.Command(bin, "server", filepath.Join(dir, "data"), "--address", port, "--console-address", console, "--quiet")
	cmd.Env = append(os.Environ(),
		"MINIO_ROOT_USER="+s.RootUser,
		"MINIO_ROOT_PASSWORD="+s.RootPassword,
		"MINIO_BROWSER=off",
		"MINIO_UPDATE=off",
		"MINIO_CI_CD=1",
		"HOME="+dir,
	)
	cmd.Env = append(cmd.Env, opts.Env...)
	cmd.Stdout, cmd.Stderr = s.Log, s.Log
	// The server dies with the test binary even if cleanup never runs.
	cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
	if err := cmd.Start(); err != nil {
		t.Fatalf("start minio: %v", err)
	}
	done := make(chan struct{})
	go func() { _ = cmd.Wait(); close(done) }()
	t.Cleanup(func() {
		_ = cmd.Process.Signal(syscall.SIGTERM)
		select {
		case <-done:
		case <-time.After(10 * time.Second):
			_ = cmd.Process.Kill()
			<-done
		}
	})
	if err := waitReady(s.Endpoint, done, 60*time.Second); err != nil {
		t.Fatalf("minio at %s: %v\n%s", s.Endpoint, err, s.Log.String())
	}
	// MinIO reports ready before it serves S3 calls (503
	// XMinioServerNotInitialized): wait until a real call answers.
	deadline := time.Now().Add(60 * time.Second)
	for {
		_, err := s.Client(t).ListBuckets(context.Background(), &s3.ListBucketsInput{})
		if err == nil {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("minio at %s: S3 not serving after 60s: %v\n%s", s.Endpoint, err, s.Log.String())
		}
		time.Sleep(100 * time.Millisecond)
	}
	return s
}

func startContainer(t testing.TB) *Server {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	provider, err := testcontainers.NewDockerProvider()
	if err != nil {
		return nil
	}
	defer provider.Close()
	if err := provider.Health(ctx); err != nil {
		return nil
	}
	user, pass := "minioroot", "minioroot-"+RandomHex(8)
	c, err := tcminio.Run(context.Background(), ContainerImage, tcminio.WithUsername(user), tcminio.WithPassword(pass))
	testcontainers.CleanupContainer(t, c)
	if err != nil {
		t.Fatalf("start minio container: %v", err)
	}
	addr, err := c.ConnectionString(context.Background())
	if err != nil {
		t.Fatalf("minio container address: %v", err)
	}
	return &Server{Endpoint: "http://" + addr, RootUser: user, RootPassword: pass}
}

func waitReady(endpoint string, exited <-chan struct{}, limit time.Duration) error {
	deadline := time.Now().Add(limit)
	client := &http.Client{Timeout: time.Second}
	for time.Now().Before(deadline) {
		select {
		case <-exited:
			return errors.New("minio exited during start")
		default:
		}
		resp, err := client.Get(endpoint + "/minio/health/ready")
		if err == nil {
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				return nil
			}
		}
		time.Sleep(100 * time.Millisecond)
	}
	return fmt.Errorf("not ready after %s", limit)
}

// Client returns an S3 client with the root credentials, isolated from the
// process environment and shared config files.
func (s *Server) Client(t testing.TB) *s3.Client {
	t.Helper()
	return s.ClientWith(credentials.NewStaticCredentialsProvider(s.RootUser, s.RootPassword, ""))
}

// ClientWith returns an S3 client for this server with the given credentials.
func (s *Server) ClientWith(p aws.CredentialsProvider) *s3.Client {
	return s3.New(s3.Options{
		Region:       Region,
		BaseEndpoint: aws.String(s.Endpoint),
		Credentials:  p,
		UsePathStyle: true,
	})
}

// Bucket creates a fresh, uniquely named bucket and returns its name.
func (s *Server) Bucket(t testing.TB) string {
	t.Helper()
	name := "test-" + strings.ToLower(RandomHex(6))
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if _, err := s.Client(t).CreateBucket(ctx, &s3.CreateBucketInput{Bucket: aws.String(name)}); err != nil {
		t.Fatalf("create bucket %s: %v", name, err)
	}
	return name
}

// Keys lists every object key in bucket.
func (s *Server) Keys(t testing.TB, bucket string) []string {
	t.Helper()
	var keys []string
	p := s3.NewListObjectsV2Paginator(s.Client(t), &s3.ListObjectsV2Input{Bucket: aws.String(bucket)})
	for p.HasMorePages() {
		page, err := p.NextPage(context.Background())
		if err != nil {
			t.Fatalf("list %s: %v", bucket, err)
		}
		for _, o := range page.Contents {
			keys = append(keys, aws.ToString(o.Key))
		}
	}
	return keys
}

// MultipartUploads lists the multipart uploads still in progress in bucket.
func (s *Server) MultipartUploads(t testing.TB, bucket string) []string {
	t.Helper()
	out, err := s.Client(t).ListMultipartUploads(context.Background(), &s3.ListMultipartUploadsInput{Bucket: aws.String(bucket)})
	if err != nil {
		t.Fatalf("list multipart uploads in %s: %v", bucket, err)
	}
	var keys []string
	for _, u := range out.Uploads {
		keys = append(keys, aws.ToString(u.Key))
	}
	return keys
}

// IsolateAWSEnv clears every AWS_* variable for the test and points the SDK
// at no shared files and no IMDS, so nothing outside 127.0.0.0/8 is asked.
func IsolateAWSEnv(t testing.TB) {
	t.Helper()
	for _, kv := range os.Environ() {
		k, _, _ := strings.Cut(kv, "=")
		if strings.HasPrefix(k, "AWS_") {
			t.Setenv(k, "")
			os.Unsetenv(k)
		}
	}
	dir := t.TempDir()
	t.Setenv("AWS_CONFIG_FILE", filepath.Join(dir, "config"))
	t.Setenv("AWS_SHARED_CREDENTIALS_FILE", filepath.Join(dir, "credentials"))
	t.Setenv("AWS_EC2_METADATA_DISABLED", "true")
	// Any service a test does not point somewhere gets a dead loopback port,
	// never AWS: STS, for one, is asked for the caller identity.
	t.Setenv("AWS_ENDPOINT_URL", "http://127.0.0.1:9")
}

// FreePort returns a free 127.0.0.1:port address.
func FreePort(t testing.TB) string {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatalf("free port: %v", err)
	}
	defer l.Close()
	return l.Addr().String()
}

// RandomHex returns n random bytes in hex.
func RandomHex(n int) string {
	b := make([]byte, n)
	_, _ = rand.Read(b)
	return hex.EncodeToString(b)
}

// LockedBuffer collects output that goroutines or a process write while a
// test reads it.
type LockedBuffer struct {
	mu sync.Mutex // guards b
	b  strings.Builder
}

func (b *LockedBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.b.Write(p)
}

// String returns what was written so far.
func (b *LockedBuffer) String() string {
	if b == nil {
		return ""
	}
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.b.String()
}

// MCModule is the pinned MinIO client used for admin set-up (users, policies).
const MCModule = "github.com/minio/mc@v0.0.0-20250313080218-cf909e1063a9"

// MCBinary finds the mc binary: $MC_BIN, PATH, then $GOPATH/bin.
func MCBinary() string {
	if b := os.Getenv("MC_BIN"); b != "" {
		return b
	}
	if b, err := exec.LookPath("mc"); err == nil {
		return b
	}
	b := filepath.Join(gopathBin(), "mc")
	if _, err := os.Stat(b); err == nil {
		return b
	}
	return ""
}

func gopathBin() string {
	gopath := os.Getenv("GOPATH")
	if gopath == "" {
		home, _ := os.UserHomeDir()
		gopath = filepath.Join(home, "go")
	}
	return filepath.Join(gopath, "bin")
}

// Admin runs `mc args...` against the server as root, alias "t", and returns
// its output. Set-up that needs it (users, policies) is unavailable without mc.
func (s *Server) Admin(t testing.TB, args ...string) string {
	t.Helper()
	bin := MCBinary()
	if bin == "" {
		Unavailable(t, "mc not found: go install "+MCModule)
	}
	host := strings.TrimPrefix(s.Endpoint, "http://")
	config := t.TempDir()
	deadline := time.Now().Add(60 * time.Second)
	for {
		ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
		cmd := exec.CommandContext(ctx, bin, append([]string{"--no-color", "--quiet"}, args...)...)
		cmd.Env = append(os.Environ(),
			"MC_HOST_t=http://"+s.RootUser+":"+s.RootPassword+"@"+host,
			"MC_CONFIG_DIR="+config,
		)
		out, err := cmd.CombinedOutput()
		cancel()
		if err == nil {
			return string(out)
		}
		// MinIO loads its IAM data after it reports ready.
		if !strings.Contains(string(out), "Server not initialized") || time.Now().After(deadline) {
			t.Fatalf("mc %s: %v\n%s", strings.Join(args, " "), err, out)
		}
		time.Sleep(200 * time.Millisecond)
	}
}

// PutOnlyUser creates a policy named name granting the uploader's put-only
// identity policy for objects under prefix in bucket (rendered from
// deploy/aws/iam-policy.json by internal/policy; an empty prefix is the whole
// bucket), and a user bound to it, and returns the user's keys. It reads its
// writes back, since MinIO can report ready before its IAM data is loaded.
func (s *Server) PutOnlyUser(t testing.TB, bucket, prefix, name string) (accessKey, secretKey string) {
	t.Helper()
	doc, err := policy.Identity(bucket, prefix)
	if err != nil {
		t.Fatal(err)
	}
	file := filepath.Join(t.TempDir(), "policy.json")
	if err := os.WriteFile(file, doc, 0o600); err != nil {
		t.Fatal(err)
	}
	s.Admin(t, "admin", "policy", "create", "t", name, file)
	accessKey, secretKey = "putonly"+RandomHex(4), RandomHex(16)
	s.Admin(t, "admin", "user", "add", "t", accessKey, secretKey)
	s.Admin(t, "admin", "policy", "attach", "t", name, "--user", accessKey)
	deadline := time.Now().Add(30 * time.Second)
	for !strings.Contains(s.Admin(t, "admin", "user", "info", "t", accessKey), name) {
		if time.Now().After(deadline) {
			t.Fatalf("user %s not bound to policy %s after 30s", accessKey, name)
		}
		time.Sleep(200 * time.Millisecond)
	}
	return accessKey, secretKey
}
