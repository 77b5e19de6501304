package main

import (
	"strings"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/s3"

	"github.com/eks-least-privilege/uploader/test/miniotest"
	"github.com/eks-least-privilege/uploader/test/testenv"
)

// Width and height, read from the image header, arrive in MinIO as
// x-amz-meta-width and -height and are in the "object uploaded" line.
func TestObjectsCarryDimensions(t *testing.T) {
	srv := miniotest.Start(t)
	bucket := srv.Bucket(t)
	s3Env(t, srv, bucket, map[string]string{"UPLOAD_COUNT": "2"})
	var logs testenv.LockedBuffer
	if err := run(t.Context(), nil, &logs); err != nil {
		t.Fatalf("run: %v\n%s", err, logs.String())
	}
	keys := srv.Keys(t, bucket)
	if len(keys) != 2 {
		t.Fatalf("objects: got %v, want 2", keys)
	}
	client := srv.Client(t)
	for _, k := range keys {
		out, err := client.HeadObject(t.Context(), &s3.HeadObjectInput{Bucket: aws.String(bucket), Key: aws.String(k)})
		if err != nil {
			t.Fatalf("head %s: %v", k, err)
		}
		// The builtin source makes 640x480 images.
		if w, h := out.Metadata["width"], out.Metadata["height"]; w != "640" || h != "480" {
			t.Errorf("%s: metadata got width %q height %q, want 640 and 480", k, w, h)
		}
	}
	if n := strings.Count(logs.String(), `"width":640,"height":480`); n != 2 {
		t.Errorf("object uploaded lines with width and height: got %d, want 2\n%s", n, logs.String())
	}
}
