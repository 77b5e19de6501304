package miniotest_test

import (
	"context"
	"errors"
	"strings"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/aws/smithy-go"

	"github.com/eks-least-privilege/uploader/test/miniotest"
	"github.com/eks-least-privilege/uploader/test/testenv"
)

// The put-only user may write under its prefix and nowhere else in the
// bucket: the harness grants what deploy/aws/iam-policy.json grants.
func TestPutOnlyUserIsConfinedToItsPrefix(t *testing.T) {
	testenv.IsolateAWSEnv(t)
	srv := miniotest.Start(t)
	bucket := srv.Bucket(t)
	key, secret := srv.PutOnlyUser(t, bucket, "images/", "putonly-prefix")
	client := srv.UserClient(key, secret)
	put := func(k string) error {
		_, err := client.PutObject(context.Background(), &s3.PutObjectInput{
			Bucket: aws.String(bucket), Key: aws.String(k), Body: strings.NewReader("x"),
		})
		return err
	}
	if err := put("images/a.txt"); err != nil {
		t.Errorf("put under the prefix: got %v, want allowed", err)
	}
	var api smithy.APIError
	if err := put("other/a.txt"); !errors.As(err, &api) || api.ErrorCode() != "AccessDenied" {
		t.Errorf("put outside the prefix: got %v, want AccessDenied", err)
	}
}
