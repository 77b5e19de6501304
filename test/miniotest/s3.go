package miniotest

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/s3"

	"github.com/eks-least-privilege/uploader/test/testenv"
)

// Client returns an S3 client with the root credentials, isolated from the
// process environment and shared config files.
func (s *Server) Client(t testing.TB) *s3.Client {
	t.Helper()
	return s.UserClient(s.RootUser, s.RootPassword)
}

// UserClient returns an S3 client of this server signing as key and secret.
func (s *Server) UserClient(key, secret string) *s3.Client {
	return NewClient(s.Endpoint, key, secret)
}

// NewClient returns a path-style S3 client of endpoint (a server, or a proxy
// in front of one) signing as key and secret.
func NewClient(endpoint, key, secret string) *s3.Client {
	return s3.NewFromConfig(Config(endpoint, key, secret), func(o *s3.Options) { o.UsePathStyle = true })
}

// Config is the aws.Config of a client of endpoint signing as key and
// secret: the servers' region and static credentials, nothing read from the
// environment or shared files. Tests of code that builds its own client
// from an aws.Config start from it.
func Config(endpoint, key, secret string) aws.Config {
	return aws.Config{
		Region:       Region,
		BaseEndpoint: aws.String(endpoint),
		Credentials:  credentials.NewStaticCredentialsProvider(key, secret, ""),
	}
}

// Bucket creates a fresh, uniquely named bucket and returns its name.
func (s *Server) Bucket(t testing.TB) string {
	t.Helper()
	name := "test-" + strings.ToLower(testenv.RandomHex(6))
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
