package upload

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"slices"
	"strings"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/aws/smithy-go"

	"github.com/eks-least-privilege/uploader/test/miniotest"
	"github.com/eks-least-privilege/uploader/test/testenv"
)

const (
	kmsKey = "uploader-key" // the one key MinIO's built-in KMS holds here
	owner  = AccountID("111122223333")
)

// kmsEnv is MinIO with its built-in KMS behind a recording proxy, and a
// fresh bucket.
type kmsEnv struct {
	srv    *miniotest.Server
	proxy  *miniotest.Proxy
	bucket string
}

func newKMSEnv(t *testing.T, opts miniotest.ProxyOptions) *kmsEnv {
	t.Helper()
	testenv.IsolateAWSEnv(t)
	srv := miniotest.StartWith(t, miniotest.Options{KMSKey: kmsKey})
	waitInitialized(t, srv.Client(t))
	return &kmsEnv{srv: srv, proxy: srv.Proxy(t, opts), bucket: srv.Bucket(t)}
}

// client is the uploader's client (NewClient) through the proxy; checksums
// off makes it stream a known-size body as one put over plain http.
func (e *kmsEnv) client(checksums bool) *s3.Client {
	cfg := miniotest.Config(e.proxy.Endpoint, e.srv.RootUser, e.srv.RootPassword)
	if !checksums {
		cfg.RequestChecksumCalculation = aws.RequestChecksumCalculationWhenRequired
	}
	return NewClient(cfg, ClientOptions{UsePathStyle: true})
}

// head returns what S3 says it applied to the stored object, asked as the
// admin.
func (e *kmsEnv) head(t *testing.T, key string) Applied {
	t.Helper()
	out, err := e.srv.Client(t).HeadObject(context.Background(), &s3.HeadObjectInput{Bucket: &e.bucket, Key: &key})
	if err != nil {
		t.Fatalf("head %s: %v", key, err)
	}
	return Applied{SSE: SSE(out.ServerSideEncryption), KMSKeyID: aws.ToString(out.SSEKMSKeyId), BucketKey: out.BucketKeyEnabled}
}

// Every request of every path (the streaming put, the transfer manager's
// single put, a multipart upload's create, parts and complete, and the
// abort of a failed one) carries the expected owner, and the writes carry
// the encryption, which MinIO then applies: the stored objects say so.
func TestEveryRequestCarriesOwnerAndEncryption(t *testing.T) {
	e := newKMSEnv(t, miniotest.ProxyOptions{})
	for _, enc := range []Encryption{{SSE: SSEKMS, KMSKeyID: kmsKey}, {SSE: SSES3}} {
		t.Run(string(enc.SSE), func(t *testing.T) {
			start := len(e.proxy.Requests())
			opts := Options{PartSize: MinPartSize, Encryption: enc, ExpectedBucketOwner: owner}
			streaming := New(e.client(false), e.bucket, opts)
			buffered := New(e.client(true), e.bucket, opts)
			small, large := randomBytes(1<<10), randomBytes(MinPartSize*2+1)
			uploads := []struct {
				name string
				u    *Uploader
				body io.Reader
				size int64
			}{
				{"streaming put", streaming, onlyReader{bytes.NewReader(small)}, int64(len(small))},
				{"single put of the transfer manager", buffered, onlyReader{bytes.NewReader(small)}, -1},
				{"multipart", buffered, onlyReader{bytes.NewReader(large)}, -1},
			}
			var keys []string
			for i, up := range uploads {
				key := fmt.Sprintf("wire/%s/%d", enc.SSE, i)
				if _, err := up.u.Upload(context.Background(), key, up.body, up.size, Metadata{ContentType: "image/png"}); err != nil {
					t.Fatalf("%s: %v", up.name, err)
				}
				keys = append(keys, key)
			}
			broken := &brokenReader{r: bytes.NewReader(large), n: MinPartSize + 1, err: errors.New("source broke off")}
			if _, err := buffered.Upload(context.Background(), "wire/broken", broken, -1, Metadata{}); err == nil {
				t.Fatal("a broken body uploaded")
			}

			ops := map[string]int{}
			for _, r := range e.proxy.Requests()[start:] {
				op := r.Operation()
				ops[op]++
				if got := r.Header.Get("X-Amz-Expected-Bucket-Owner"); got != string(owner) {
					t.Errorf("%s %s (%s): expected owner %q, want %q", r.Method, r.Path, op, got, owner)
				}
				if op != "PutObject" && op != "CreateMultipartUpload" {
					continue
				}
				if got := r.Header.Get("X-Amz-Server-Side-Encryption"); got != string(enc.SSE) {
					t.Errorf("%s %s: encryption %q, want %q", op, r.Path, got, enc.SSE)
				}
				if got := r.Header.Get("X-Amz-Server-Side-Encryption-Aws-Kms-Key-Id"); got != enc.KMSKeyID {
					t.Errorf("%s %s: key %q, want %q", op, r.Path, got, enc.KMSKeyID)
				}
				wantBucketKey := map[bool]string{true: "false", false: ""}[enc.SSE == SSEKMS]
				if got := r.Header.Get("X-Amz-Server-Side-Encryption-Bucket-Key-Enabled"); got != wantBucketKey {
					t.Errorf("%s %s: bucket key header %q, want %q", op, r.Path, got, wantBucketKey)
				}
			}
			for _, op := range []string{"PutObject", "CreateMultipartUpload", "UploadPart", "CompleteMultipartUpload", "AbortMultipartUpload"} {
				if ops[op] == 0 {
					t.Errorf("no %s went through the proxy (saw %v)", op, ops)
				}
			}
			for _, key := range keys {
				got := e.head(t, key)
				if got.SSE != enc.SSE || !strings.HasSuffix(got.KMSKeyID, enc.KMSKeyID) {
					t.Errorf("%s stored with %s, want %s", key, got, enc)
				}
			}
		})
	}
}

// A key the KMS does not hold fails the put, single or multipart, and
// leaves nothing; MinIO names the cause kms:KeyNotFound.
func TestUnknownKMSKeyFailsTheUpload(t *testing.T) {
	e := newKMSEnv(t, miniotest.ProxyOptions{})
	u := New(e.client(true), e.bucket, Options{PartSize: MinPartSize, Encryption: Encryption{SSE: SSEKMS, KMSKeyID: "another-key"}})
	for name, size := range map[string]int{"single": 1 << 10, "multipart": 2*MinPartSize + 1} {
		t.Run(name, func(t *testing.T) {
			key := "wrong-key/" + name
			_, err := u.Upload(context.Background(), key, onlyReader{bytes.NewReader(randomBytes(size))}, -1, Metadata{})
			var api smithy.APIError
			if !errors.As(err, &api) || api.ErrorCode() != "kms:KeyNotFound" {
				t.Fatalf("got %v, want kms:KeyNotFound", err)
			}
			if keys := e.srv.Keys(t, e.bucket); slices.Contains(keys, key) {
				t.Errorf("object %s stored with an unknown key", key)
			}
		})
	}
}

// S3 refuses every request whose expected owner is not the bucket's with
// 403 AccessDenied. MinIO ignores the header, so the proxy answers as S3
// does; the upload then fails as denied, and nothing reaches the bucket.
func TestExpectedOwnerMismatchIsRefused(t *testing.T) {
	e := newKMSEnv(t, miniotest.ProxyOptions{Refuse: func(r miniotest.Request) *miniotest.Refusal {
		if o := r.Header.Get("X-Amz-Expected-Bucket-Owner"); o != "" && o != string(owner) {
			return &miniotest.Refusal{Status: http.StatusForbidden, Code: "AccessDenied", Message: "Access Denied"}
		}
		return nil
	}})
	u := New(e.client(true), e.bucket, Options{ExpectedBucketOwner: "444455556666"})
	_, err := u.Upload(context.Background(), "owner/x", onlyReader{bytes.NewReader(randomBytes(1 << 10))}, -1, Metadata{})
	if err == nil || Reason(err) != ReasonDenied {
		t.Fatalf("got %v (reason %q), want a denial", err, Reason(err))
	}
	if keys := e.srv.Keys(t, e.bucket); len(keys) != 0 {
		t.Errorf("got objects %q, want none", keys)
	}
}
