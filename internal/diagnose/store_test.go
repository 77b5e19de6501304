package diagnose

import (
	"strings"
	"testing"
	"time"

	"github.com/eks-least-privilege/uploader/internal/upload"
)

// AWS's refusals of a put, as S3 words them (the access-denied messages
// name the policy type that denied), served by a real HTTP server and
// parsed by the SDK, and what Storage makes of each for the settings.
func TestStorageRefusals(t *testing.T) {
	const role = "arn:aws:sts::111122223333:assumed-role/uploader/pod"
	const keyARN = "arn:aws:kms:eu-west-1:444455556666:key/1234abcd-12ab-34cd-56ef-1234567890ab"
	kms := upload.Encryption{SSE: upload.SSEKMS, KMSKeyID: keyARN}
	tests := []struct {
		name          string
		status        int
		code, message string
		store         Store
		want          []Name
		contains      []string
		absent        []string
	}{
		{name: "kms GenerateDataKey denied", status: 403, code: "AccessDenied", store: Store{Encryption: kms},
			message: "User: " + role + " is not authorized to perform: kms:GenerateDataKey on resource: " + keyARN + " because no identity-based policy allows the kms:GenerateDataKey action",
			want:    []Name{KMSAccessDenied}, contains: []string{keyARN, role + " lacks kms:GenerateDataKey", "uploader policy identity", "uploader policy key"}},
		{name: "kms Decrypt denied in the key policy", status: 403, code: "AccessDenied", store: Store{Encryption: kms},
			message: "User: " + role + " is not authorized to perform: kms:Decrypt on resource: " + keyARN + " because no resource-based policy allows the kms:Decrypt action",
			want:    []Name{KMSAccessDenied}, contains: []string{"lacks kms:Decrypt", "key policy"}},
		{name: "kms key not found", status: 400, code: "KMS.NotFoundException", store: Store{Encryption: upload.Encryption{SSE: upload.SSEKMS, KMSKeyID: "alias/uploads"}},
			message: "Invalid keyId 'alias/uploads'",
			want:    []Name{KMSAccessDenied}, contains: []string{"alias/uploads", "KMS.NotFoundException", "key ARN"}},
		{name: "unencrypted put denied by the bucket policy", status: 403, code: "AccessDenied",
			message: "User: " + role + " is not authorized to perform: s3:PutObject on resource: \"arn:aws:s3:::images/uploads/x\" with an explicit deny in a resource-based policy",
			want:    []Name{EncryptionRequired, BucketPolicyDenied}, contains: []string{`asking encryption "bucket default"`, "set S3_SSE", "aws:SecureTransport"}},
		{name: "AES256 put denied by an SCP", status: 403, code: "AccessDenied", store: Store{Encryption: upload.Encryption{SSE: upload.SSES3}},
			message: "User: " + role + " is not authorized to perform: s3:PutObject on resource: \"arn:aws:s3:::images/x\" with an explicit deny in a service control policy",
			want:    []Name{EncryptionRequired}, contains: []string{`"AES256"`}},
		{name: "kms put denied by the bucket policy for another reason", status: 403, code: "AccessDenied", store: Store{Encryption: kms},
			message: "User: " + role + " is not authorized to perform: s3:PutObject on resource: \"arn:aws:s3:::images/x\" with an explicit deny in a resource-based policy",
			want:    []Name{BucketPolicyDenied}},
		{name: "bare 403 with an expected owner", status: 403, code: "AccessDenied", message: "Access Denied", store: Store{ExpectedOwner: "111122223333"},
			want: []Name{BucketOwnerMismatch}, contains: []string{"S3_EXPECTED_BUCKET_OWNER=111122223333", "what the setting protects against"}},
		{name: "bare 403 without an expected owner", status: 403, code: "AccessDenied", message: "Access Denied"},
		{name: "identity policy denial with an expected owner", status: 403, code: "AccessDenied", store: Store{ExpectedOwner: "111122223333"},
			message: "User: " + role + " is not authorized to perform: s3:PutObject on resource: \"arn:aws:s3:::images/x\" because no identity-based policy allows the s3:PutObject action"},
		{name: "server error", status: 500, code: "InternalError", message: "We encountered an internal error.", store: Store{Encryption: kms, ExpectedOwner: "111122223333"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := s3Answer(t, tt.status, tt.code, tt.message, time.Now())
			if err == nil {
				t.Fatal("the put went through")
			}
			got := Storage(err, time.Now(), tt.store)
			wantNames(t, got, tt.want, tt.contains...)
			for _, a := range tt.absent {
				if strings.Contains(got.String(), a) {
					t.Errorf("got %q, want no %q", got, a)
				}
			}
		})
	}
}
