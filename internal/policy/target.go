package policy

import (
	"errors"
	"fmt"
	"strings"

	"github.com/aws/aws-sdk-go-v2/aws/arn"

	"github.com/eks-least-privilege/uploader/deploy"
)

// The server-side encryptions S3 takes in x-amz-server-side-encryption
// (S3_SSE). An empty value sends no header: the bucket's default applies.
const (
	SSEAES256  = "AES256"
	SSEKMS     = "aws:kms"
	SSEKMSDSSE = "aws:kms:dsse"
)

// Target is where and how the uploader writes: what the identity, key and
// bucket policies are rendered from. Only the ARNs of the aws partition are
// written.
type Target struct {
	Bucket string
	Prefix string // the key prefix; empty is the whole bucket
	// Region is the bucket's region: S3 calls KMS as s3.REGION.amazonaws.com.
	Region string
	// SSE is the x-amz-server-side-encryption the puts send: "", SSEAES256,
	// SSEKMS or SSEKMSDSSE.
	SSE string
	// KMSKeyID is the customer managed key of SSE-KMS: a key ARN, or a key
	// id in KeyAccount. Empty with SSE-KMS is the AWS managed key aws/s3,
	// whose key policy already lets S3 use it for the account's principals.
	KMSKeyID string
	// BucketKey is S3 Bucket Keys: S3 asks KMS for a bucket-level key, so
	// the encryption context is the bucket's ARN, not the object's.
	BucketKey bool
	// KeyAccount is the account S3 looks a key id up in: the caller's. A
	// key in another account must be given by its ARN.
	KeyAccount string
}

// kms reports whether the puts use a customer managed KMS key, which the
// identity policy (and a key in another account, its key policy) must grant.
func (t Target) kms() bool {
	return strings.HasPrefix(t.SSE, SSEKMS) && t.KMSKeyID != ""
}

// objectsARN is the resource of the objects the uploader writes.
func (t Target) objectsARN() string {
	return "arn:aws:s3:::" + t.Bucket + "/" + t.Prefix + "*"
}

// encryptionContext is the aws:s3:arn S3 puts in the KMS encryption
// context: the object's ARN, or the bucket's with bucket keys.
func (t Target) encryptionContext() string {
	if t.BucketKey {
		return "arn:aws:s3:::" + t.Bucket
	}
	return t.objectsARN()
}

// kmsValues are the placeholders of the KMS statements, after checking
// the key and region.
func (t Target) kmsValues() (map[string]string, error) {
	key, err := KeyARN(t.KMSKeyID, t.Region, t.KeyAccount)
	if err := errors.Join(err, match("region", t.Region, regionPattern, "a region such as us-east-1")); err != nil {
		return nil, err
	}
	return map[string]string{"BUCKET": t.Bucket, "PREFIX": t.Prefix, "KEY_ARN": key, "REGION": t.Region, "ENCRYPTION_CONTEXT_PATTERN": t.encryptionContext()}, nil
}

// KeyARN is the ARN a policy names the KMS key keyID by: keyID itself when
// it is a key ARN, else the ARN of key id keyID in region and account, where
// S3 looks a bare key id up. An alias cannot name a key in a policy: it is an
// error, which asks for the key's ARN.
func KeyARN(keyID, region, account string) (string, error) {
	if keyID == "" {
		return "", errors.New("kms key: required, empty")
	}
	if a, err := arn.Parse(keyID); err == nil {
		if a.Service != "kms" || !strings.HasPrefix(a.Resource, "key/") || len(a.Resource) == len("key/") {
			return "", fmt.Errorf("kms key: a policy names a key by its key ARN (arn:aws:kms:REGION:ACCOUNT:key/ID), got %q", keyID)
		}
		return keyID, checkValue(keyID)
	}
	if strings.HasPrefix(keyID, "alias/") {
		return "", fmt.Errorf("kms key: a policy names a key by its key ARN, not an alias: give the ARN of the key %q points to", keyID)
	}
	if err := checkValue(keyID); err != nil || strings.Contains(keyID, "/") {
		return "", fmt.Errorf("kms key: not a key id or key ARN: %q", keyID)
	}
	if err := errors.Join(
		match("region", region, regionPattern, "a region such as us-east-1"),
		match("account", account, accountPattern, "12 digits")); err != nil {
		return "", fmt.Errorf("kms key %s is a key id, whose ARN needs the %w", keyID, err)
	}
	return "arn:aws:kms:" + region + ":" + account + ":key/" + keyID, nil
}

// Identity returns the identity policy of the writer role: s3:PutObject on
// the objects under the prefix and, with a customer managed KMS key,
// kms:GenerateDataKey and kms:Decrypt (a multipart put with SSE-KMS decrypts
// the data key) on that key only, only through S3 in the bucket's region and
// only for the encryption context of those objects (the bucket, with bucket
// keys). Every problem of t is reported at once.
func (t Target) Identity() ([]byte, error) {
	var doc document
	if err := parse(&doc, deploy.IdentityPolicyTemplate, map[string]string{"BUCKET": t.Bucket, "PREFIX": t.Prefix}, "BUCKET"); err != nil {
		return nil, err
	}
	if t.kms() {
		values, err := t.kmsValues()
		if err != nil {
			return nil, fmt.Errorf("render identity policy: %w", err)
		}
		var k document
		if err := parse(&k, deploy.IdentityKMSPolicyTemplate, values, "KEY_ARN", "REGION", "ENCRYPTION_CONTEXT_PATTERN"); err != nil {
			return nil, err
		}
		doc.Statement = append(doc.Statement, k.Statement...)
	}
	return marshal(doc)
}

// KeyStatement returns the statement the KMS key's policy adds so that
// roleARN may use the key for the uploader's puts, with the conditions of
// [Target.Identity]: needed when the key is in another account than the
// role (an identity policy alone cannot grant another account's key), and
// whenever the key policy does not defer to IAM. It is an error without a
// customer managed key.
func (t Target) KeyStatement(roleARN string) ([]byte, error) {
	if !t.kms() {
		return nil, fmt.Errorf("render key policy statement: S3_SSE %q with key %q: no customer managed KMS key to grant (S3_SSE aws:kms or aws:kms:dsse and S3_SSE_KMS_KEY_ID)", t.SSE, t.KMSKeyID)
	}
	values, err := t.kmsValues()
	err = errors.Join(err, checkRole("role", roleARN))
	if err != nil {
		return nil, fmt.Errorf("render key policy statement: %w", err)
	}
	values["ROLE_ARN"] = roleARN
	var s statement
	if err := parse(&s, deploy.KeyPolicyStatementTemplate, values, "ROLE_ARN"); err != nil {
		return nil, err
	}
	return marshal(s)
}

// BucketPolicy returns the bucket-policy statements of ownerAccount, the
// bucket's owner, for the writer role roleARN: its put under the prefix when
// the role is in another account (the identity policy alone suffices in the
// owner's), a deny of every request without TLS, and, when the puts are
// encrypted, a deny of puts under the prefix without that encryption or,
// with a customer managed key, with another key.
func (t Target) BucketPolicy(roleARN, ownerAccount string) ([]byte, error) {
	problems := []error{checkRole("role", roleARN), match("account", ownerAccount, accountPattern, "12 digits")}
	values := map[string]string{"BUCKET": t.Bucket, "PREFIX": t.Prefix, "ROLE_ARN": roleARN, "SSE": t.SSE, "KEY_ARN": ""}
	sids := []string{"DenyInsecureTransport"}
	if a, err := arn.Parse(roleARN); err == nil && a.AccountID != ownerAccount {
		sids = append(sids, "UploaderWriterRoleFromAnotherAccount")
	}
	if t.SSE != "" {
		sids = append(sids, "DenyPutsUnderPrefixWithoutTheEncryption")
	}
	if t.kms() {
		kv, err := t.kmsValues()
		problems = append(problems, err)
		values["KEY_ARN"] = kv["KEY_ARN"]
		sids = append(sids, "DenyPutsUnderPrefixWithAnotherKMSKey")
	}
	if err := errors.Join(problems...); err != nil {
		return nil, fmt.Errorf("render bucket policy: %w", err)
	}
	var doc document
	if err := parse(&doc, deploy.BucketPolicyTemplate, values, "BUCKET", "ROLE_ARN"); err != nil {
		return nil, err
	}
	doc.keep(sids...)
	return marshal(doc)
}

// checkRole refuses what is not an IAM role ARN.
func checkRole(name, roleARN string) error {
	if roleARN == "" {
		return fmt.Errorf("%s: required, empty (an IAM role ARN)", name)
	}
	a, err := arn.Parse(roleARN)
	if err != nil || a.Service != "iam" || !strings.HasPrefix(a.Resource, "role/") || !accountPattern.MatchString(a.AccountID) || checkValue(roleARN) != nil {
		return fmt.Errorf("%s: must be an IAM role ARN (arn:aws:iam::ACCOUNT:role/NAME), got %q", name, roleARN)
	}
	return nil
}
