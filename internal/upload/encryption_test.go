package upload

import (
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/s3"
)

// The put carries what was asked, and the bucket-key header only with
// aws:kms, where it is sent either way so that the encryption context does
// not depend on the bucket's default.
func TestEncryptionPutObject(t *testing.T) {
	tests := []struct {
		name      string
		e         Encryption
		sse, key  string
		bucketKey *bool
		text      string
	}{
		{name: "bucket default", text: "bucket default"},
		{name: "AES256", e: Encryption{SSE: SSES3}, sse: "AES256", text: "AES256"},
		{name: "kms", e: Encryption{SSE: SSEKMS, KMSKeyID: "k"}, sse: "aws:kms", key: "k", bucketKey: aws.Bool(false), text: "aws:kms key k, bucket key off"},
		{name: "kms bucket key", e: Encryption{SSE: SSEKMS, BucketKey: true}, sse: "aws:kms", bucketKey: aws.Bool(true), text: "aws:kms, bucket key on"},
		{name: "dsse", e: Encryption{SSE: SSEKMSDSSE, KMSKeyID: "k"}, sse: "aws:kms:dsse", key: "k", text: "aws:kms:dsse key k"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var in s3.PutObjectInput
			tt.e.PutObject(&in)
			if string(in.ServerSideEncryption) != tt.sse || aws.ToString(in.SSEKMSKeyId) != tt.key {
				t.Errorf("got sse %q key %q, want %q %q", in.ServerSideEncryption, aws.ToString(in.SSEKMSKeyId), tt.sse, tt.key)
			}
			if (in.BucketKeyEnabled == nil) != (tt.bucketKey == nil) || (tt.bucketKey != nil && *in.BucketKeyEnabled != *tt.bucketKey) {
				t.Errorf("bucket key: got %v, want %v", in.BucketKeyEnabled, tt.bucketKey)
			}
			if got := tt.e.String(); got != tt.text {
				t.Errorf("String: got %q, want %q", got, tt.text)
			}
		})
	}
}

func TestAccountIDDecode(t *testing.T) {
	for v, ok := range map[string]bool{"": true, "111122223333": true, "11112222333": false, "1111222233334": false, "11112222333a": false, " 111122223333": false} {
		var a AccountID
		if err := a.Decode(v); (err == nil) != ok {
			t.Errorf("Decode(%q): got %v, want ok %v", v, err, ok)
		}
	}
	if AccountID("").Header() != nil {
		t.Error("empty account: got a header, want none")
	}
}
