package main

import (
	"fmt"
	"maps"
	"net/http"
	"slices"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/s3"

	"github.com/eks-least-privilege/uploader/test/miniotest"
)

// TestCheckDiagnosesTheStore runs `uploader check` against MinIO with its
// built-in KMS, behind a recording proxy that answers as AWS where MinIO
// does not check: the expected owner, and a bucket policy's deny for an
// IAM user (MinIO applies the Deny statements of a bucket policy to
// anonymous requests only). The writer's identity policy denies puts
// without aws:kms, a condition MinIO does evaluate; but MinIO refuses with
// a bare "Access Denied.", so the encryption is diagnosed only from AWS's
// wording, which the proxy gives for the bucket policy.
func TestCheckDiagnosesTheStore(t *testing.T) {
	srv := miniotest.StartWith(t, miniotest.Options{KMSKey: "uploader-key"})
	bucket := srv.Bucket(t)
	const owner = "111122223333"
	var bucketPolicy atomic.Bool // the bucket policy denies puts without aws:kms
	proxy := srv.Proxy(t, miniotest.ProxyOptions{Refuse: func(r miniotest.Request) *miniotest.Refusal {
		if o := r.Header.Get("X-Amz-Expected-Bucket-Owner"); o != "" && o != owner {
			return &miniotest.Refusal{Status: http.StatusForbidden, Code: "AccessDenied", Message: "Access Denied"}
		}
		op := r.Operation()
		if bucketPolicy.Load() && (op == "PutObject" || op == "CreateMultipartUpload") && r.Header.Get("X-Amz-Server-Side-Encryption") != "aws:kms" {
			return &miniotest.Refusal{Status: http.StatusForbidden, Code: "AccessDenied", Message: "User: arn:aws:iam::" + owner + ":user/writer " +
				"is not authorized to perform: s3:PutObject on resource: \"arn:aws:s3:::" + strings.TrimPrefix(r.Path, "/") + "\" with an explicit deny in a resource-based policy"}
		}
		return nil
	}})
	key, secret := srv.UserWithPolicy(t, "putkms", []byte(fmt.Sprintf(`{"Version":"2012-10-17","Statement":[
		{"Effect":"Allow","Action":["s3:PutObject"],"Resource":["arn:aws:s3:::%[1]s/images/*"]},
		{"Effect":"Deny","Action":["s3:PutObject"],"Resource":["arn:aws:s3:::%[1]s/*"],
		 "Condition":{"StringNotEquals":{"s3:x-amz-server-side-encryption":"aws:kms"}}}]}`, bucket)))

	kms := map[string]string{"S3_SSE": "aws:kms", "S3_SSE_KMS_KEY_ID": "uploader-key"}
	// with is m plus the pairs kv.
	with := func(m map[string]string, kv ...string) map[string]string {
		m = maps.Clone(m)
		for pair := range slices.Chunk(kv, 2) {
			m[pair[0]] = pair[1]
		}
		return m
	}
	tests := []struct {
		name         string
		env          map[string]string
		bucketPolicy bool
		wantCode     int
		want, absent []string
	}{
		{name: "the setting satisfies both policies", env: with(kms, "S3_EXPECTED_BUCKET_OWNER", owner), bucketPolicy: true,
			want: []string{"encryption aws:kms key arn:aws:kms:uploader-key", "owner " + owner + " sent; MinIO does not check it", "verdict: least privilege holds"}},
		{name: "a key the KMS does not hold", env: with(kms, "S3_SSE_KMS_KEY_ID", "another-key"), wantCode: 1,
			want: []string{"diagnosis kms_access_denied: S3 could not use the KMS key another-key: kms:KeyNotFound", "uploader policy key"}},
		{name: "unencrypted, refused by MinIO's identity policy", env: map[string]string{}, wantCode: 4,
			want: []string{"MISSING  AccessDenied; owner not checked (S3_EXPECTED_BUCKET_OWNER not set)"}, absent: []string{"diagnosis encryption_required"}},
		{name: "unencrypted, refused by the bucket policy", env: map[string]string{}, bucketPolicy: true, wantCode: 4,
			want: []string{"diagnosis encryption_required: PutObject asking encryption \"bucket default\" was explicitly denied", "diagnosis bucket_policy_denied: "}},
		{name: "another owner", env: with(kms, "S3_EXPECTED_BUCKET_OWNER", "444455556666"), wantCode: 4,
			want: []string{"diagnosis bucket_owner_mismatch: S3 refused PutObject with 403 AccessDenied", "S3_EXPECTED_BUCKET_OWNER=444455556666"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			bucketPolicy.Store(tt.bucketPolicy)
			s3Env(t, srv, bucket, with(tt.env, "AWS_ENDPOINT_URL_S3", proxy.Endpoint, "AWS_ENDPOINT_URL_STS", srv.Endpoint,
				"AWS_ACCESS_KEY_ID", key, "AWS_SECRET_ACCESS_KEY", secret, "S3_KEY_PREFIX", "images/"))
			out, err := runFor(t, time.Minute, "check")
			if got := exitCode(err); (err == nil) != (tt.wantCode == 0) || (err != nil && got != tt.wantCode) {
				t.Errorf("exit code: got %d (%v), want %d\n%s", got, err, tt.wantCode, out)
			}
			for _, w := range tt.want {
				if !strings.Contains(out, w) {
					t.Errorf("check output lacks %q:\n%s", w, out)
				}
			}
			for _, a := range tt.absent {
				if strings.Contains(out, a) {
					t.Errorf("check output has %q:\n%s", a, out)
				}
			}
			if strings.Contains(out, secret) {
				t.Errorf("check output holds the secret key:\n%s", out)
			}
		})
	}
}

// The daemon's uploads are stored with the configured encryption (the
// objects, headed as the admin, say so), and a key the KMS does not hold
// fails each cycle with kms_access_denied on its failure line.
func TestDaemonEncryptsAndDiagnosesTheKey(t *testing.T) {
	srv := miniotest.StartWith(t, miniotest.Options{KMSKey: "uploader-key"})
	for _, tt := range []struct {
		name string
		env  map[string]string
		fail bool
	}{
		{name: "aws:kms", env: map[string]string{"S3_SSE": "aws:kms", "S3_SSE_KMS_KEY_ID": "uploader-key", "S3_EXPECTED_BUCKET_OWNER": "111122223333"}},
		{name: "AES256", env: map[string]string{"S3_SSE": "AES256"}},
		{name: "another key", env: map[string]string{"S3_SSE": "aws:kms", "S3_SSE_KMS_KEY_ID": "another-key"}, fail: true},
	} {
		t.Run(tt.name, func(t *testing.T) {
			bucket := srv.Bucket(t)
			env := map[string]string{"UPLOAD_COUNT": "2", "UPLOAD_MAX_CONSECUTIVE_FAILURES": "1", "AWS_ENDPOINT_URL_STS": srv.Endpoint}
			for k, v := range tt.env {
				env[k] = v
			}
			s3Env(t, srv, bucket, env)
			out, err := runFor(t, time.Minute)
			if tt.fail {
				if err == nil || !strings.Contains(out, `"msg":"cycle failed"`) || !strings.Contains(out, `"kms_access_denied":{"observed":"S3 could not use the KMS key another-key`) {
					t.Errorf("got %v, want a failed cycle diagnosed kms_access_denied\n%s", err, out)
				}
				return
			}
			if err != nil {
				t.Fatalf("run: %v\n%s", err, out)
			}
			keys := srv.Keys(t, bucket)
			if len(keys) != 2 {
				t.Fatalf("got objects %q, want 2", keys)
			}
			for _, k := range keys {
				head, err := srv.Client(t).HeadObject(t.Context(), &s3.HeadObjectInput{Bucket: &bucket, Key: &k})
				if err != nil {
					t.Fatal(err)
				}
				if string(head.ServerSideEncryption) != tt.env["S3_SSE"] || !strings.HasSuffix(aws.ToString(head.SSEKMSKeyId), tt.env["S3_SSE_KMS_KEY_ID"]) {
					t.Errorf("%s stored with %q key %q, want %q %q", k, head.ServerSideEncryption, aws.ToString(head.SSEKMSKeyId), tt.env["S3_SSE"], tt.env["S3_SSE_KMS_KEY_ID"])
				}
			}
		})
	}
}
