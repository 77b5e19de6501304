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
	"encoding/base64"
	"errors"
	"fmt"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"syscall"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/testcontainers/testcontainers-go"
	tcminio "github.com/testcontainers/testcontainers-go/modules/minio"

	"github.com/eks-least-privilege/uploader/test/testenv"
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
	// KMSKey, when set, starts MinIO with its built-in KMS holding one key
	// of that name (MINIO_KMS_SECRET_KEY=name:base64 of 32 random bytes):
	// it encrypts SSE-KMS puts naming that key and SSE-S3 (AES256) ones,
	// and answers kms:KeyNotFound for any other key. Needs a minio binary.
	KMSKey string
}

// Server is a running S3 endpoint with root credentials.
type Server struct {
	Endpoint     string // http://127.0.0.1:port
	RootUser     string
	RootPassword string
	// Log holds what the minio process printed, when the harness started it.
	Log *testenv.LockedBuffer
}

// Start returns a running S3 endpoint for the test, stopped at cleanup.
func Start(t testing.TB) *Server {
	t.Helper()
	return StartWith(t, Options{})
}

// StartWith is Start with options for the MinIO process.
func StartWith(t testing.TB, opts Options) *Server {
	t.Helper()
	if opts.KMSKey != "" {
		secret := make([]byte, 32)
		if _, err := rand.Read(secret); err != nil {
			t.Fatal(err)
		}
		opts.Env = append(slices.Clip(opts.Env), "MINIO_KMS_SECRET_KEY="+opts.KMSKey+":"+base64.StdEncoding.EncodeToString(secret))
	}
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
	testenv.Unavailable(t, "no S3 endpoint for integration tests: set "+EnvEndpoint+" (with "+EnvAccessKey+
		" and "+EnvSecretKey+"), or put `minio` on PATH (go install "+MinIOModule+"), or run a Docker engine")
	return nil
}

// Binary finds the minio binary: $MINIO_BIN, PATH, then $GOPATH/bin.
func Binary() string { return findBinary(EnvMinIOBin, "minio") }

// findBinary finds the binary name: $env, PATH, then $GOPATH/bin; "" if none.
func findBinary(env, name string) string {
	if b := os.Getenv(env); b != "" {
		return b
	}
	if b, err := exec.LookPath(name); err == nil {
		return b
	}
	b := filepath.Join(gopathBin(), name)
	if _, err := os.Stat(b); err == nil {
		return b
	}
	return ""
}

func startProcess(t testing.TB, bin string, opts Options) *Server {
	t.Helper()
	dir := t.TempDir()
	port, console := testenv.FreePort(t), testenv.FreePort(t)
	s := &Server{
		Endpoint:     "http://" + port,
		RootUser:     "minioroot",
		RootPassword: "minioroot-" + testenv.RandomHex(8),
		Log:          &testenv.LockedBuffer{},
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
	user, pass := "minioroot", "minioroot-"+testenv.RandomHex(8)
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

func gopathBin() string {
	gopath := os.Getenv("GOPATH")
	if gopath == "" {
		home, _ := os.UserHomeDir()
		gopath = filepath.Join(home, "go")
	}
	return filepath.Join(gopath, "bin")
}
