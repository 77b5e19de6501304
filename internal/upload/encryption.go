package upload

import (
	"fmt"
	"regexp"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/aws/aws-sdk-go-v2/service/s3/types"
)

// SSE is the server-side encryption every write asks S3 for
// (x-amz-server-side-encryption, the aws CLI's --sse): empty leaves it to
// the bucket's default encryption.
type SSE string

// The values of SSE S3 accepts on a put.
const (
	SSEBucketDefault SSE = ""
	SSES3            SSE = SSE(types.ServerSideEncryptionAes256)
	SSEKMS           SSE = SSE(types.ServerSideEncryptionAwsKms)
	SSEKMSDSSE       SSE = SSE(types.ServerSideEncryptionAwsKmsDsse)
)

// Decode implements envconfig.Decoder.
func (s *SSE) Decode(v string) error {
	switch SSE(v) {
	case SSEBucketDefault, SSES3, SSEKMS, SSEKMSDSSE:
		*s = SSE(v)
		return nil
	}
	return fmt.Errorf("must be empty (the bucket's default), AES256, aws:kms or aws:kms:dsse, got %q", v)
}

// KMS reports whether S3 encrypts with a KMS key: aws:kms or aws:kms:dsse.
func (s SSE) KMS() bool { return s == SSEKMS || s == SSEKMSDSSE }

// Encryption is what every write (the put, CreateMultipartUpload, and the
// check's probe put) asks S3 for. The zero value asks nothing: the bucket's
// default encryption applies.
type Encryption struct {
	SSE SSE
	// KMSKeyID names the KMS key (x-amz-server-side-encryption-aws-kms-key-id):
	// a key id, key ARN or alias ARN on AWS, whatever name an S3-compatible
	// store gives its keys elsewhere, so it is not judged by its shape.
	// Empty with a KMS SSE: the bucket's default key, else aws/s3.
	KMSKeyID string
	// BucketKey turns S3 Bucket Keys on (aws:kms only): fewer KMS calls, and
	// the encryption context becomes the bucket's ARN instead of the object's.
	BucketKey bool
}

// Problems lists what S3 would refuse or silently ignore: a key or a bucket
// key without KMS, a bucket key with DSSE-KMS (S3 Bucket Keys are not
// supported for DSSE-KMS). Each problem names its setting.
func (e Encryption) Problems() []error {
	var errs []error
	if e.KMSKeyID != "" && !e.SSE.KMS() {
		errs = append(errs, fmt.Errorf("S3_SSE_KMS_KEY_ID: needs S3_SSE=aws:kms or aws:kms:dsse%s", is(e.SSE)))
	}
	if e.BucketKey && e.SSE != SSEKMS {
		errs = append(errs, fmt.Errorf("S3_BUCKET_KEY_ENABLED: needs S3_SSE=aws:kms (S3 Bucket Keys do not apply to %s)%s", describeSSE(e.SSE), is(e.SSE)))
	}
	return errs
}

// is names S3_SSE's value when set: an unset S3_SSE and one that did not
// parse (reported on its own) both leave it empty.
func is(s SSE) string {
	if s == SSEBucketDefault {
		return ""
	}
	return fmt.Sprintf(", S3_SSE is %q", s)
}

func describeSSE(s SSE) string {
	switch s {
	case SSEBucketDefault:
		return "the bucket's default"
	case SSES3:
		return "SSE-S3"
	case SSEKMSDSSE:
		return "DSSE-KMS"
	}
	return string(s)
}

// PutObject sets the encryption headers of a put.
func (e Encryption) PutObject(in *s3.PutObjectInput) {
	in.ServerSideEncryption = types.ServerSideEncryption(e.SSE)
	in.SSEKMSKeyId = nonEmpty(e.KMSKeyID)
	in.BucketKeyEnabled = e.bucketKey()
}

// bucketKey is the bucket-key header: sent with aws:kms either way, so that
// the encryption context (object or bucket ARN) is the one the identity
// policy expects whatever the bucket's default says; absent otherwise.
func (e Encryption) bucketKey() *bool {
	if e.SSE != SSEKMS {
		return nil
	}
	return aws.Bool(e.BucketKey)
}

// String describes the encryption asked for, for logs and the check table:
// "bucket default", "AES256", "aws:kms key K, bucket key on".
func (e Encryption) String() string {
	if e.SSE == SSEBucketDefault {
		return "bucket default"
	}
	return Applied{SSE: e.SSE, KMSKeyID: e.KMSKeyID, BucketKey: e.bucketKey()}.String()
}

// Applied is the encryption S3 reports it applied to a stored object (the
// put's or HeadObject's response headers).
type Applied struct {
	SSE       SSE
	KMSKeyID  string
	BucketKey *bool // nil: not reported
}

// String is "none reported", "AES256" or "aws:kms key K, bucket key off".
func (a Applied) String() string {
	if a.SSE == "" {
		return "none reported"
	}
	s := string(a.SSE)
	if a.KMSKeyID != "" {
		s += " key " + a.KMSKeyID
	}
	if a.BucketKey != nil {
		s += map[bool]string{true: ", bucket key on", false: ", bucket key off"}[*a.BucketKey]
	}
	return s
}

// AccountID is a 12-digit AWS account id, or empty.
type AccountID string

var accountID = regexp.MustCompile(`^[0-9]{12}$`)

// Decode implements envconfig.Decoder: empty, or exactly 12 digits.
func (a *AccountID) Decode(v string) error {
	if v != "" && !accountID.MatchString(v) {
		return fmt.Errorf("must be a 12-digit AWS account id, got %q", v)
	}
	*a = AccountID(v)
	return nil
}

// Header is the account as x-amz-expected-bucket-owner: nil when empty, so
// that no header is sent.
func (a AccountID) Header() *string { return nonEmpty(string(a)) }
