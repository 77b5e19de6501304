package upload

import (
	"bytes"
	"context"
	"maps"
	"testing"

	"github.com/aws/aws-sdk-go-v2/service/s3"
)

// The image's size arrives in S3 as x-amz-meta-width and -height, on every
// path: one streaming PutObject, a buffered single part, and multipart.
func TestUploadStoresDimensions(t *testing.T) {
	e := newEnv(t)
	tests := []struct {
		name   string
		client *s3.Client
		size   int
		known  bool
		meta   Metadata
		want   map[string]string
	}{
		{"put streamed", e.https, small, true, Metadata{ContentType: "image/jpeg", Width: 640, Height: 480}, map[string]string{"width": "640", "height": "480"}},
		{"single buffered part", e.http, small, false, Metadata{ContentType: "image/png", Width: 1, Height: 1}, map[string]string{"width": "1", "height": "1"}},
		{"multipart", e.http, large, false, Metadata{ContentType: "image/webp", Width: 16383, Height: 9000}, map[string]string{"width": "16383", "height": "9000"}},
		{"no dimensions", e.https, small, true, Metadata{ContentType: "image/gif"}, map[string]string{}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			u := New(tt.client, e.bucket, testOptions)
			key := Keys{Host: "test"}.Next("img")
			size := declared(tt.known, int64(tt.size))
			if _, err := u.Upload(context.Background(), key, onlyReader{bytes.NewReader(randomBytes(tt.size))}, size, tt.meta); err != nil {
				t.Fatalf("upload: %v", err)
			}
			out, err := e.root.HeadObject(context.Background(), &s3.HeadObjectInput{Bucket: &e.bucket, Key: &key})
			if err != nil {
				t.Fatalf("head: %v", err)
			}
			if !maps.Equal(out.Metadata, tt.want) {
				t.Errorf("metadata: got %v, want %v", out.Metadata, tt.want)
			}
			if got := *out.ContentType; got != tt.meta.ContentType {
				t.Errorf("content type: got %q, want %q", got, tt.meta.ContentType)
			}
		})
	}
}
