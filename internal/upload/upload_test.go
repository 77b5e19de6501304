package upload

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"maps"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/aws/aws-sdk-go-v2/service/s3/types"
)

var _ API = (*s3.Client)(nil)

// testOptions use the smallest part S3 allows, so 12 MiB makes three parts,
// and the largest single put MinIO over TLS takes.
var testOptions = Options{PartSize: MinPartSize, MaxPutSize: 16 << 20}

const (
	small = 200 << 10
	large = 12 << 20
)

// TestUpload stores an image on every path (one streaming PutObject,
// buffered parts, multipart), with its dimensions as x-amz-meta-width and
// -height.
func TestUpload(t *testing.T) {
	e := newEnv(t)
	tests := []struct {
		name          string
		client        *s3.Client
		size          int
		known         bool
		wantMultipart bool
	}{
		// https: the SDK streams a known size in one PutObject with a trailing CRC32.
		{"https known small", e.https, small, true, false},
		{"https known large", e.https, large, true, false},
		{"https unknown small", e.https, small, false, false},
		{"https unknown large", e.https, large, false, true},
		// http: no checksum over an unseekable stream, so buffered parts.
		{"http known small", e.http, small, true, false},
		{"http known large", e.http, large, true, true},
		{"http unknown small", e.http, small, false, false},
		{"http unknown large", e.http, large, false, true},
		{"https known above MaxPutSize", e.https, 17 << 20, true, true},
		// Checksums off: streamed over http too, and nothing stored to check.
		{"http no checksum known large", e.httpStream, large, true, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			u := New(tt.client, e.bucket, testOptions)
			data := randomBytes(tt.size)
			key := Keys{Host: "test"}.Next("png")
			size := declared(tt.known, int64(len(data)))
			res, err := u.Upload(context.Background(), key, onlyReader{bytes.NewReader(data)}, size, Metadata{ContentType: "image/png", Width: 16383, Height: 9000})
			if err != nil {
				t.Fatalf("upload: got %v, want nil", err)
			}
			if res.Bytes != int64(len(data)) {
				t.Errorf("got Result.Bytes %d, want %d", res.Bytes, len(data))
			}
			if res.ETag == "" {
				t.Errorf("got empty ETag, want one")
			}
			if got := strings.Contains(res.ETag, "-"); got != tt.wantMultipart {
				t.Errorf("got ETag %s (multipart %v), want multipart %v", res.ETag, got, tt.wantMultipart)
			}
			wantChecksum := tt.client != e.httpStream
			if got := res.ChecksumCRC32 != ""; got != wantChecksum {
				t.Errorf("got CRC32 %q in result, want one: %v", res.ChecksumCRC32, wantChecksum)
			}
			got, ct := e.get(t, key)
			if !bytes.Equal(got, data) {
				t.Errorf("got %d stored bytes differing from the %d given", len(got), len(data))
			}
			if ct != "image/png" {
				t.Errorf("got Content-Type %q, want %q", ct, "image/png")
			}
			head, err := e.root.HeadObject(context.Background(), &s3.HeadObjectInput{
				Bucket: &e.bucket, Key: &key, ChecksumMode: types.ChecksumModeEnabled,
			})
			if err != nil {
				t.Fatalf("head: %v", err)
			}
			if got := aws.ToString(head.ChecksumCRC32) != ""; got != wantChecksum {
				t.Errorf("got stored CRC32 %q, want one: %v", aws.ToString(head.ChecksumCRC32), wantChecksum)
			}
			if want := map[string]string{"width": "16383", "height": "9000"}; !maps.Equal(head.Metadata, want) {
				t.Errorf("metadata: got %v, want %v", head.Metadata, want)
			}
		})
	}
}

func TestUploadExists(t *testing.T) {
	e := newEnv(t)
	tests := []struct {
		name   string
		client *s3.Client
		size   int
		known  bool
	}{
		{"https known", e.https, small, true},
		{"http known large", e.http, large, true},
		{"http unknown small", e.http, small, false},
		{"http unknown large", e.http, large, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			u := New(tt.client, e.bucket, testOptions)
			key := Keys{Host: "test"}.Next("jpg")
			first := randomBytes(tt.size)
			if _, err := u.Upload(context.Background(), key, bytes.NewReader(first), int64(len(first)), Metadata{ContentType: "image/jpeg"}); err != nil {
				t.Fatalf("first upload: %v", err)
			}
			second := bytes.Repeat([]byte{'x'}, tt.size)
			size := declared(tt.known, int64(len(second)))
			_, err := u.Upload(context.Background(), key, onlyReader{bytes.NewReader(second)}, size, Metadata{ContentType: "image/gif"})
			if !errors.Is(err, ErrExists) {
				t.Fatalf("second upload: got %v, want ErrExists", err)
			}
			if want := "s3://" + e.bucket + "/" + key; !strings.Contains(err.Error(), want) {
				t.Errorf("got error %q, want it to name %s", err, want)
			}
			got, ct := e.get(t, key)
			if !bytes.Equal(got, first) || ct != "image/jpeg" {
				t.Errorf("got %d bytes of %s, want the first object intact (%d bytes of image/jpeg)", len(got), ct, len(first))
			}
			if ups := e.uploads(t, key); len(ups) != 0 {
				t.Errorf("got multipart uploads %q, want none", ups)
			}
		})
	}
}

var errBroken = errors.New("broken body")

func TestUploadBodyError(t *testing.T) {
	e0 := newEnv(t)
	tests := []struct {
		name    string
		https   bool
		size    int
		failAt  int64
		known   bool
		noParts bool // fails before a multipart upload starts
	}{
		{"https known", true, large, 3 << 20, true, true},
		{"http known", false, large, 7 << 20, true, false},
		{"http unknown before first part", false, large, 1 << 20, false, true},
		{"http unknown after first part", false, large, 7 << 20, false, false},
		{"https unknown after first part", true, large, 11 << 20, false, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			e := e0.withBucket(t)
			u := New(e.over(tt.https), e.bucket, testOptions)
			key := Keys{Host: "test"}.Next("jpg")
			body := &brokenReader{
				r:   bytes.NewReader(randomBytes(tt.size)),
				n:   tt.failAt,
				err: fmt.Errorf("%w: %w", errBroken, io.ErrUnexpectedEOF),
			}
			size := declared(tt.known, int64(tt.size))
			_, err := u.Upload(context.Background(), key, body, size, Metadata{ContentType: "image/jpeg"})
			if !errors.Is(err, errBroken) || !errors.Is(err, io.ErrUnexpectedEOF) {
				t.Errorf("got %v, want an error wrapping the body's error", err)
			}
			var bodyErr *BodyError
			if !errors.As(err, &bodyErr) {
				t.Errorf("got %v, want a *BodyError: the body failed, not S3", err)
			}
			if errors.Is(err, ErrExists) {
				t.Errorf("got %v, want not ErrExists", err)
			}
			e.assertNothingLeft(t, key)
		})
	}
}

func TestUploadCancel(t *testing.T) {
	e0 := newEnv(t)
	tests := []struct {
		name  string
		https bool
		known bool
		after int64
	}{
		{"https known", true, true, 2 << 20},
		{"http known", false, true, 6 << 20},
		{"http unknown", false, false, 6 << 20},
		{"https unknown", true, false, 6 << 20},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			e := e0.withBucket(t)
			u := New(e.over(tt.https), e.bucket, testOptions)
			key := Keys{Host: "test"}.Next("jpg")
			ctx, cancel := context.WithCancel(context.Background())
			defer cancel()
			body := &slowReader{r: bytes.NewReader(randomBytes(large)), after: tt.after, onAfter: cancel}
			size := declared(tt.known, large)
			start := time.Now()
			_, err := u.Upload(ctx, key, body, size, Metadata{ContentType: "image/jpeg"})
			if !errors.Is(err, context.Canceled) {
				t.Errorf("got %v, want an error wrapping context.Canceled", err)
			}
			t.Logf("returned after %s: %v", time.Since(start).Round(time.Millisecond), err)
			e.assertNothingLeft(t, key)
		})
	}
}

// TestMultipartListingSeesUploads guards the "no multipart upload left"
// checks: they must be able to see one that is left.
func TestMultipartListingSeesUploads(t *testing.T) {
	e := newEnv(t)
	key := "left/behind.jpg"
	out, err := e.root.CreateMultipartUpload(context.Background(), &s3.CreateMultipartUploadInput{Bucket: &e.bucket, Key: &key})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		_, _ = e.root.AbortMultipartUpload(context.Background(), &s3.AbortMultipartUploadInput{Bucket: &e.bucket, Key: &key, UploadId: out.UploadId})
	})
	if got := e.uploads(t, key); len(got) != 1 {
		t.Errorf("got multipart uploads %q, want 1", got)
	}
}

// TestUploadHoldsBoundedMemory streams bodies far larger than what the
// uploader may hold and checks that the Go heap never grows near their size:
// it would, were a body buffered whole. (How little it takes is measured by
// BenchmarkUploadMemory.)
func TestUploadHoldsBoundedMemory(t *testing.T) {
	if testing.Short() {
		t.Skip("streams 128 MiB bodies")
	}
	e := newEnv(t).withBucket(t)
	const size = 128 << 20
	// (Concurrency+2) parts of 8 MiB take ~34 MiB (more under -race): half
	// the body leaves room for that and still fails a body held whole.
	const limit = size / 2
	tests := []struct {
		name   string
		client *s3.Client
		known  bool
	}{
		// MinIO takes one aws-chunked chunk of at most 16 MiB over https, so
		// the streaming PutObject runs here with checksums off (as on S3 it
		// runs over https with them on).
		{"known: one streaming PutObject", e.httpStream, true},
		{"known over http: buffered parts", e.http, true},
		{"unknown: buffered parts", e.http, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			u := New(tt.client, e.bucket, streamAll(tt.client == e.httpStream))
			n := declared(tt.known, size)
			peak, _, err := heapDuring(func() error {
				res, err := u.Upload(context.Background(), Keys{Host: "mem"}.Next("bin"), &patternReader{left: size}, n, Metadata{ContentType: "application/octet-stream"})
				if err == nil && res.Bytes != size {
					err = fmt.Errorf("stored %d bytes, want %d", res.Bytes, size)
				}
				return err
			})
			if err != nil {
				t.Fatal(err)
			}
			if peak > limit {
				t.Errorf("peak heap during a %d MiB upload: got %d MiB, want at most %d MiB", size>>20, peak>>20, limit>>20)
			}
		})
	}
}
