package upload

import (
	"context"
	"errors"
	"io"
	"math/rand/v2"
	"net/http/httptest"
	"net/http/httputil"
	"net/url"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/aws/smithy-go"

	"github.com/eks-least-privilege/uploader/test/miniotest"
	"github.com/eks-least-privilege/uploader/test/testenv"
)

// env is a MinIO server with a fresh bucket, reachable over plain http and
// over https through an in-process TLS reverse proxy. The proxy keeps the
// Host header, so SigV4 signatures made for it verify at MinIO.
type env struct {
	srv    *miniotest.Server
	bucket string
	root   *s3.Client // miniotest's root client, for checks
	http   *s3.Client // NewClient, http endpoint
	// httpStream is http with request checksums turned off, the only way
	// the SDK streams an unseekable body over plain http.
	httpStream *s3.Client
	https      *s3.Client // NewClient, https endpoint (proxy)
}

func newEnv(t testing.TB) *env {
	t.Helper()
	testenv.IsolateAWSEnv(t)
	srv := miniotest.Start(t)
	e := &env{srv: srv, root: srv.Client(t)}
	waitInitialized(t, e.root)
	e.bucket = srv.Bucket(t)

	target, err := url.Parse(srv.Endpoint)
	if err != nil {
		t.Fatal(err)
	}
	proxy := httptest.NewTLSServer(httputil.NewSingleHostReverseProxy(target))
	t.Cleanup(proxy.Close)

	e.http = e.client(srv.Endpoint, nil)
	e.https = e.client(proxy.URL, proxy.Client())
	e.httpStream = s3.New(e.http.Options(), func(o *s3.Options) {
		o.RequestChecksumCalculation = aws.RequestChecksumCalculationWhenRequired
	})
	return e
}

// withBucket returns e with a fresh bucket of its own.
func (e *env) withBucket(t testing.TB) *env {
	t.Helper()
	c := *e
	c.bucket = e.srv.Bucket(t)
	return &c
}

// over returns the uploader's client over https (through the TLS proxy)
// or over plain http.
func (e *env) over(https bool) *s3.Client {
	if https {
		return e.https
	}
	return e.http
}

// declared is the size an Upload is told: n when the length is known, -1
// (unknown, as a chunked download's) otherwise.
func declared(known bool, n int64) int64 {
	if known {
		return n
	}
	return -1
}

// waitInitialized waits until MinIO serves S3 calls: it reports ready on
// /minio/health/ready a moment before it stops answering 503
// XMinioServerNotInitialized.
func waitInitialized(t testing.TB, c *s3.Client) {
	t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for {
		_, err := c.ListBuckets(context.Background(), &s3.ListBucketsInput{})
		var apiErr smithy.APIError
		if err == nil || !errors.As(err, &apiErr) || apiErr.ErrorCode() != "XMinioServerNotInitialized" {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("minio not initialized after 30s: %v", err)
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// client builds the uploader's client the way the daemon does: NewClient on
// an aws.Config, here with static root credentials.
func (e *env) client(endpoint string, hc aws.HTTPClient) *s3.Client {
	cfg := miniotest.Config(endpoint, e.srv.RootUser, e.srv.RootPassword)
	if hc != nil {
		cfg.HTTPClient = hc
	}
	return NewClient(cfg, ClientOptions{UsePathStyle: true})
}

// get returns the object's bytes and content type.
func (e *env) get(t testing.TB, key string) ([]byte, string) {
	t.Helper()
	out, err := e.root.GetObject(context.Background(), &s3.GetObjectInput{Bucket: &e.bucket, Key: &key})
	if err != nil {
		t.Fatalf("get %s: %v", key, err)
	}
	defer out.Body.Close()
	b, err := io.ReadAll(out.Body)
	if err != nil {
		t.Fatalf("read %s: %v", key, err)
	}
	return b, aws.ToString(out.ContentType)
}

// assertNothingLeft fails if bucket holds any object or any multipart upload
// for key. MinIO lists multipart uploads only for a prefix, hence the key.
func (e *env) assertNothingLeft(t testing.TB, key string) {
	t.Helper()
	if keys := e.srv.Keys(t, e.bucket); len(keys) != 0 {
		t.Errorf("got objects %q, want none", keys)
	}
	if ups := e.uploads(t, key); len(ups) != 0 {
		t.Errorf("got multipart uploads %q, want none", ups)
	}
}

func (e *env) uploads(t testing.TB, key string) []string {
	t.Helper()
	out, err := e.root.ListMultipartUploads(context.Background(), &s3.ListMultipartUploadsInput{Bucket: &e.bucket, Prefix: &key})
	if err != nil {
		t.Fatalf("list multipart uploads: %v", err)
	}
	var ids []string
	for _, u := range out.Uploads {
		ids = append(ids, aws.ToString(u.Key)+" "+aws.ToString(u.UploadId))
	}
	return ids
}

// randomBytes returns n reproducible pseudo-random bytes.
func randomBytes(n int) []byte {
	b := make([]byte, n)
	_, _ = rand.NewChaCha8([32]byte{42}).Read(b)
	return b
}

// onlyReader hides every method but Read (bytes.Reader seeks), as the
// fetched HTTP body would.
type onlyReader struct{ r io.Reader }

func (o onlyReader) Read(p []byte) (int, error) { return o.r.Read(p) }

// brokenReader yields n bytes of r, then fails with err.
type brokenReader struct {
	r   io.Reader
	n   int64
	err error
}

func (b *brokenReader) Read(p []byte) (int, error) {
	if b.n <= 0 {
		return 0, b.err
	}
	if int64(len(p)) > b.n {
		p = p[:b.n]
	}
	n, err := b.r.Read(p)
	b.n -= int64(n)
	return n, err
}

// slowReader yields r in small slow pieces and calls onAfter once, after
// `after` bytes have been read.
type slowReader struct {
	r       io.Reader
	after   int64
	onAfter func()
	read    int64
	once    sync.Once
}

func (s *slowReader) Read(p []byte) (int, error) {
	if s.read >= s.after {
		s.once.Do(s.onAfter)
		time.Sleep(5 * time.Millisecond)
		p = p[:min(len(p), 16<<10)]
	}
	n, err := s.r.Read(p)
	s.read += int64(n)
	return n, err
}

// patternReader yields size bytes of a fixed pattern without holding them.
type patternReader struct{ left int64 }

var pattern = randomBytes(64 << 10)

func (r *patternReader) Read(p []byte) (int, error) {
	if r.left <= 0 {
		return 0, io.EOF
	}
	if int64(len(p)) > r.left {
		p = p[:r.left]
	}
	n := 0
	for n < len(p) {
		n += copy(p[n:], pattern)
	}
	r.left -= int64(n)
	return n, nil
}
