package upload

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/http/httptest"
	"net/http/httputil"
	"net/url"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/aws/smithy-go"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"

	"github.com/eks-least-privilege/uploader/test/miniotest"
	"github.com/eks-least-privilege/uploader/test/testenv"
)

// faultyS3 is a loopback proxy in front of MinIO that fails the first
// `fail` AbortMultipartUpload requests (all of them when fail < 0) the way a
// failing S3 does: with 503 ServiceUnavailable, or by resetting the
// connection. Everything else goes through; the Host header is kept, so
// signatures verify.
type faultyS3 struct {
	URL    string
	aborts atomic.Int32 // abort requests seen
}

func newFaultyS3(t *testing.T, endpoint string, fail int, reset bool) *faultyS3 {
	t.Helper()
	target, err := url.Parse(endpoint)
	if err != nil {
		t.Fatal(err)
	}
	proxy := httputil.NewSingleHostReverseProxy(target)
	f := &faultyS3{}
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Method != http.MethodDelete || !r.URL.Query().Has("uploadId") {
			proxy.ServeHTTP(w, r)
			return
		}
		if n := int(f.aborts.Add(1)); fail >= 0 && n > fail {
			proxy.ServeHTTP(w, r)
			return
		}
		if reset {
			conn, _, err := w.(http.Hijacker).Hijack()
			if err != nil {
				t.Errorf("hijack: %v", err)
				return
			}
			conn.(*net.TCPConn).SetLinger(0) // RST, not FIN
			conn.Close()
			return
		}
		w.Header().Set("Content-Type", "application/xml")
		w.WriteHeader(http.StatusServiceUnavailable)
		io.WriteString(w, `<?xml version="1.0" encoding="UTF-8"?><Error><Code>ServiceUnavailable</Code><Message>injected</Message></Error>`)
	}))
	t.Cleanup(srv.Close)
	f.URL = srv.URL
	return f
}

// abortEnv is an Uploader over a client of the given keys and endpoint,
// with one SDK attempt per call so that the test counts what the Uploader
// itself retries, its warnings in logs and its abort failures counted.
type abortEnv struct {
	u        *Uploader
	logs     *testenv.LockedBuffer
	failures *prometheus.CounterVec
}

func newAbortEnv(t *testing.T, e *env, endpoint, accessKey, secretKey string, abortTimeout time.Duration) abortEnv {
	t.Helper()
	cfg := miniotest.Config(endpoint, accessKey, secretKey)
	cfg.RetryMaxAttempts = 1
	failures, err := NewAbortFailures(prometheus.NewRegistry())
	if err != nil {
		t.Fatal(err)
	}
	logs := &testenv.LockedBuffer{}
	opts := testOptions
	opts.AbortTimeout = abortTimeout
	opts.Logger = slog.New(slog.NewJSONHandler(logs, nil))
	opts.AbortFailures = failures
	return abortEnv{u: New(NewClient(cfg, ClientOptions{UsePathStyle: true}), e.bucket, opts), logs: logs, failures: failures}
}

// uploadBroken uploads a body of unknown size that fails after 7 MiB: one
// part is in S3 when the transfer manager aborts.
func (a abortEnv) uploadBroken(t *testing.T, key string) error {
	t.Helper()
	body := &brokenReader{r: bytes.NewReader(randomBytes(large)), n: 7 << 20, err: fmt.Errorf("%w: %w", errBroken, io.ErrUnexpectedEOF)}
	_, err := a.u.Upload(context.Background(), key, body, -1, Metadata{ContentType: "image/jpeg"})
	if err == nil {
		t.Fatal("upload: got nil, want the body's error")
	}
	// The abort's fate does not change what the upload failed of.
	var bodyErr *BodyError
	if !errors.As(err, &bodyErr) || !errors.Is(err, errBroken) {
		t.Errorf("upload error: got %v, want the body's error", err)
	}
	return err
}

func (a abortEnv) counted(t *testing.T) map[string]float64 {
	t.Helper()
	got := map[string]float64{}
	for _, r := range AbortReasons {
		if v := testutil.ToFloat64(a.failures.WithLabelValues(r)); v != 0 {
			got[r] = v
		}
	}
	return got
}

// Under the shipped put-only policy the abort is denied: the upload stays
// (invisible, for the lifecycle rule), and that is said and counted.
func TestAbortDeniedIsLoggedAndCounted(t *testing.T) {
	e := newEnv(t)
	access, secret := e.srv.PutOnlyUser(t, e.bucket, "images/", "putonly-abort")
	a := newAbortEnv(t, e, e.srv.Endpoint, access, secret, 0)
	key := Keys{Prefix: "images/", Host: "test"}.Next("jpg")
	a.uploadBroken(t, key)

	ups := e.uploads(t, key)
	if len(ups) != 1 {
		t.Fatalf("multipart uploads: got %q, want the one that could not be aborted", ups)
	}
	if keys := e.srv.Keys(t, e.bucket); len(keys) != 0 {
		t.Errorf("objects: got %q, want none: a multipart upload never completed is not visible", keys)
	}
	uploadID := strings.Fields(ups[0])[1]
	logs := a.logs.String()
	for _, want := range []string{`"msg":"multipart upload not aborted"`, `"key":"` + key + `"`, `"upload_id":"` + uploadID + `"`,
		`"reason":"denied"`, `"attempts":1,`, `AccessDenied`} {
		if !strings.Contains(logs, want) {
			t.Errorf("logs lack %s:\n%s", want, logs)
		}
	}
	if got := a.counted(t); len(got) != 1 || got[ReasonDenied] != 1 {
		t.Errorf("abort failures: got %v, want denied 1 (a denial is not retried)", got)
	}
	if _, err := e.root.AbortMultipartUpload(context.Background(), &s3.AbortMultipartUploadInput{Bucket: &e.bucket, Key: &key, UploadId: &uploadID}); err != nil {
		t.Errorf("clean up as root: %v", err)
	}
}

// An abort that S3 fails a few times is retried until it goes through.
func TestAbortRetriesTransientFailures(t *testing.T) {
	e0 := newEnv(t)
	for _, tt := range []struct {
		name  string
		reset bool
	}{{"503 ServiceUnavailable", false}, {"connection reset", true}} {
		t.Run(tt.name, func(t *testing.T) {
			e := e0.withBucket(t)
			const fail = 4 // more than the SDK's default 3 attempts
			s3 := newFaultyS3(t, e.srv.Endpoint, fail, tt.reset)
			a := newAbortEnv(t, e, s3.URL, e.srv.RootUser, e.srv.RootPassword, 0)
			key := Keys{Host: "test"}.Next("jpg")
			a.uploadBroken(t, key)
			if got := s3.aborts.Load(); got != fail+1 {
				t.Errorf("abort requests: got %d, want %d (%d failed, then one through)", got, fail+1, fail)
			}
			e.assertNothingLeft(t, key)
			if got := a.counted(t); len(got) != 0 {
				t.Errorf("abort failures: got %v, want none", got)
			}
			if strings.Contains(a.logs.String(), "not aborted") {
				t.Errorf("logs: got a warning for an upload that was aborted:\n%s", a.logs.String())
			}
		})
	}
}

// An abort that keeps failing is retried within AbortTimeout only, then
// said and counted.
func TestAbortGivesUpWithinAbortTimeout(t *testing.T) {
	e := newEnv(t)
	s3 := newFaultyS3(t, e.srv.Endpoint, -1, false)
	const abortTimeout = 2 * time.Second
	a := newAbortEnv(t, e, s3.URL, e.srv.RootUser, e.srv.RootPassword, abortTimeout)
	key := Keys{Host: "test"}.Next("jpg")
	start := time.Now()
	a.uploadBroken(t, key)
	t.Logf("upload returned after %s, %d abort requests", time.Since(start).Round(time.Millisecond), s3.aborts.Load())
	if n := s3.aborts.Load(); n < 3 {
		t.Errorf("abort requests: got %d, want several within %s", n, abortTimeout)
	}
	if got := a.counted(t); len(got) != 1 || got[ReasonUnavailable] != 1 {
		t.Errorf("abort failures: got %v, want unavailable 1", got)
	}
	if !strings.Contains(a.logs.String(), `"reason":"unavailable"`) {
		t.Errorf("logs lack the warning with reason unavailable:\n%s", a.logs.String())
	}
	if ups := e.uploads(t, key); len(ups) != 1 {
		t.Errorf("multipart uploads: got %q, want the one left for the lifecycle rule", ups)
	}
	if keys := e.srv.Keys(t, e.bucket); len(keys) != 0 {
		t.Errorf("objects: got %q, want none", keys)
	}
}

// statusAPIError is an AWS error with a code and an HTTP status, as the SDK
// returns them.
type statusAPIError struct {
	*smithy.GenericAPIError
	status int
}

func (e statusAPIError) HTTPStatusCode() int { return e.status }

func apiErr(code string, status int) error {
	return statusAPIError{&smithy.GenericAPIError{Code: code, Message: "m"}, status}
}

func TestAbortReason(t *testing.T) {
	tests := []struct {
		err  error
		want string
	}{
		{apiErr("AccessDenied", 403), ReasonDenied},
		{apiErr("InvalidAccessKeyId", 403), ReasonDenied},
		{apiErr("NoSuchBucket", 404), ReasonNoSuchBucket},
		{apiErr("ServiceUnavailable", 503), ReasonUnavailable},
		{apiErr("SlowDown", 503), ReasonUnavailable},
		{apiErr("InternalError", 500), ReasonUnavailable},
		{apiErr("Weird", 400), ReasonOther},
		{context.DeadlineExceeded, ReasonTimeout},
		{&net.OpError{Op: "read", Err: errors.New("connection reset by peer")}, ReasonNetwork},
	}
	for _, tt := range tests {
		if got := AbortReason(fmt.Errorf("abort: %w", tt.err)); got != tt.want {
			t.Errorf("AbortReason(%v): got %s, want %s", tt.err, got, tt.want)
		}
	}
}
