package upload

import (
	"bytes"
	"context"
	"testing"

	"github.com/aws/aws-sdk-go-v2/service/s3"
)

// An image whose dimensions are not known is stored with no
// x-amz-meta-width or -height; TestUpload checks them on every path.
func TestUploadWithoutDimensions(t *testing.T) {
	e := newEnv(t)
	u := New(e.https, e.bucket, testOptions)
	key := Keys{Host: "test"}.Next("img")
	if _, err := u.Upload(context.Background(), key, onlyReader{bytes.NewReader(randomBytes(small))}, small, Metadata{ContentType: "image/gif"}); err != nil {
		t.Fatalf("upload: %v", err)
	}
	out, err := e.root.HeadObject(context.Background(), &s3.HeadObjectInput{Bucket: &e.bucket, Key: &key})
	if err != nil {
		t.Fatalf("head: %v", err)
	}
	if len(out.Metadata) != 0 {
		t.Errorf("metadata: got %v, want none", out.Metadata)
	}
	if got := *out.ContentType; got != "image/gif" {
		t.Errorf("content type: got %q, want image/gif", got)
	}
}
