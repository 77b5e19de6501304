package privilege

import (
	"context"
	"net/http"
	"slices"
	"strings"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/s3"

	"github.com/eks-least-privilege/uploader/internal/failure"
	"github.com/eks-least-privilege/uploader/internal/upload"
	"github.com/eks-least-privilege/uploader/test/miniotest"
	"github.com/eks-least-privilege/uploader/test/testenv"
)

// Every probe that names the bucket carries the expected owner and the
// probe puts the configured encryption, as seen through a recording proxy
// in front of MinIO with its built-in KMS; the check object is stored with
// that encryption, and the PutObject row says what S3 applied and that
// MinIO does not check the owner. A second owner is refused as S3 refuses
// it (the proxy answers 403 for MinIO, which ignores the header): the put
// is denied, its error kept for the diagnoses.
func TestCheckCarriesOwnerAndEncryption(t *testing.T) {
	testenv.IsolateAWSEnv(t)
	srv := miniotest.StartWith(t, miniotest.Options{KMSKey: "uploader-key"})
	const owner = "111122223333"
	proxy := srv.Proxy(t, miniotest.ProxyOptions{Refuse: func(r miniotest.Request) *miniotest.Refusal {
		if o := r.Header.Get("X-Amz-Expected-Bucket-Owner"); o != "" && o != owner {
			return &miniotest.Refusal{Status: http.StatusForbidden, Code: "AccessDenied", Message: "Access Denied"}
		}
		return nil
	}})
	bucket := srv.Bucket(t)
	key, secret := srv.PutOnlyUser(t, bucket, "images/", "putonly")
	client := miniotest.NewClient(proxy.Endpoint, key, secret)
	enc := upload.Encryption{SSE: upload.SSEKMS, KMSKeyID: "uploader-key"}

	r, err := Check(context.Background(), client, bucket, "images/", Options{Encryption: enc, ExpectedBucketOwner: owner})
	if err != nil || !r.Holds() {
		t.Fatalf("check: %v, %+v", err, r.Rows)
	}
	probes := map[string]bool{}
	for _, req := range proxy.Requests() {
		op := req.Operation()
		probes[op] = true
		got := req.Header.Get("X-Amz-Expected-Bucket-Owner")
		if want := map[bool]string{true: "", false: owner}[op == "ListBuckets"]; got != want {
			t.Errorf("%s %s (%s): expected owner %q, want %q", req.Method, req.Path, op, got, want)
		}
		if op == "PutObject" && req.Header.Get("X-Amz-Server-Side-Encryption") != "aws:kms" {
			t.Errorf("probe put %s: encryption %q, want aws:kms", req.Path, req.Header.Get("X-Amz-Server-Side-Encryption"))
		}
	}
	for _, op := range []string{"PutObject", "GetObject", "ListObjectsV2", "DeleteObject", "ListBuckets", "GetBucketPolicy", "GetBucketAcl", "PutObjectAcl"} {
		if !probes[op] {
			t.Errorf("no %s probe went through the proxy", op)
		}
	}
	head, err := srv.Client(t).HeadObject(context.Background(), &s3.HeadObjectInput{Bucket: &bucket, Key: &r.Key})
	if err != nil || head.ServerSideEncryption != "aws:kms" || !strings.HasSuffix(aws.ToString(head.SSEKMSKeyId), "uploader-key") {
		t.Errorf("check object: %v, encryption %q key %q, want aws:kms uploader-key", err, head.ServerSideEncryption, aws.ToString(head.SSEKMSKeyId))
	}
	put := r.Rows[slices.IndexFunc(r.Rows, func(row Row) bool { return row.Action == ActionPutObject })]
	for _, want := range []string{"encryption aws:kms key arn:aws:kms:uploader-key", "owner 111122223333 sent; MinIO does not check it"} {
		if !strings.Contains(put.Detail, want) {
			t.Errorf("PutObject detail %q lacks %q", put.Detail, want)
		}
	}

	r, err = Check(context.Background(), client, bucket, "images/", Options{Encryption: enc, ExpectedBucketOwner: "444455556666"})
	if err != nil || r.Verdict() != PutDenied || failure.Classify(r.PutError) != failure.KindDenied {
		t.Fatalf("check with another owner: %v, verdict %v, put error %v; want the put denied", err, r.Verdict(), r.PutError)
	}

	r, err = Check(context.Background(), client, bucket, "images/", Options{})
	if err != nil {
		t.Fatal(err)
	}
	put = r.Rows[slices.IndexFunc(r.Rows, func(row Row) bool { return row.Action == ActionPutObject })]
	if !strings.Contains(put.Detail, "owner not checked (S3_EXPECTED_BUCKET_OWNER not set)") {
		t.Errorf("PutObject detail %q does not say that no owner is set", put.Detail)
	}
}
