package policy_test

import (
	"encoding/json"
	"testing"

	"github.com/eks-least-privilege/uploader/internal/policy"
	"github.com/eks-least-privilege/uploader/test/iamsim"
)

// The accounts, role, bucket and key of the simulations: the pod's role in
// the writer's account, the bucket and key in the owner's.
const (
	writerAccount = "111122223333"
	ownerAccount  = "444455556666"
	otherAccount  = "777788889999"
	writerRole    = "arn:aws:iam::" + writerAccount + ":role/uploader-writer"
	region        = "eu-west-1"
	bucket        = "central-images"
	prefix        = "uploads/"
	keyID         = "1234abcd-12ab-34cd-56ef-1234567890ab"
	ownerKey      = "arn:aws:kms:" + region + ":" + ownerAccount + ":key/" + keyID
	otherKey      = "arn:aws:kms:" + region + ":" + ownerAccount + ":key/0000abcd-12ab-34cd-56ef-1234567890ab"
	objectARN     = "arn:aws:s3:::" + bucket + "/" + prefix + "2026/pod-a/photo.jpg"
	viaS3         = "s3." + region + ".amazonaws.com"
)

// defaultKeyPolicy is the default policy of a KMS key in account: the
// account's IAM policies decide.
func defaultKeyPolicy(account string, extra ...json.RawMessage) json.RawMessage {
	statements := []json.RawMessage{json.RawMessage(`{"Sid":"EnableIAMUserPermissions","Effect":"Allow",` +
		`"Principal":{"AWS":"arn:aws:iam::` + account + `:root"},"Action":"kms:*","Resource":"*"}`)}
	b, _ := json.Marshal(map[string]any{"Version": "2012-10-17", "Statement": append(statements, extra...)})
	return b
}

// kmsRequest is a KMS call S3 makes for a put, with the condition keys S3
// sets: ViaService and the encryption context's aws:s3:arn.
func kmsRequest(principal, action, key, via, contextARN string) iamsim.Request {
	c := map[string]any{}
	if via != "" {
		c["kms:ViaService"] = via
	}
	if contextARN != "" {
		c["kms:EncryptionContext:aws:s3:arn"] = contextARN
	}
	return iamsim.Request{Principal: principal, Action: action, Resource: key, ResourceAccount: accountOf(key), Context: c}
}

// put is s3:PutObject of object by principal over TLS with the given
// encryption headers ("" for none).
func put(principal, object, sse, key string) iamsim.Request {
	c := map[string]any{"aws:SecureTransport": "true"}
	if sse != "" {
		c["s3:x-amz-server-side-encryption"] = sse
	}
	if key != "" {
		c["s3:x-amz-server-side-encryption-aws-kms-key-id"] = key
	}
	return iamsim.Request{Principal: principal, Action: "s3:PutObject", Resource: object, ResourceAccount: ownerAccount, Context: c}
}

func accountOf(arn string) string {
	// arn:aws:kms:REGION:ACCOUNT:key/ID
	n := 0
	for i, start := 0, 0; i < len(arn); i++ {
		if arn[i] == ':' {
			n++
			if n == 4 {
				start = i + 1
			}
			if n == 5 {
				return arn[start:i]
			}
		}
	}
	return ""
}

type simCase struct {
	name string
	sim  iamsim.Simulation
	want string
}

// run evaluates every case in one simulator process.
func run(t *testing.T, cases []simCase) {
	t.Helper()
	sims := make([]iamsim.Simulation, len(cases))
	for i, c := range cases {
		sims[i] = c.sim
	}
	got := iamsim.Evaluate(t, sims)
	for i, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			if got[i] != c.want {
				t.Errorf("got %s, want %s", got[i], c.want)
			}
		})
	}
}

// docs returns a function that takes a rendered policy and its error, and
// fails t on the error.
func docs(t *testing.T) func([]byte, error) json.RawMessage {
	return func(doc []byte, err error) json.RawMessage {
		t.Helper()
		if err != nil {
			t.Fatal(err)
		}
		return doc
	}
}

// TestIdentityPolicySimulated: the identity policy allows the put under the
// prefix and the two KMS calls S3 makes for it, and nothing else: not
// another key, prefix, bucket or action, not KMS outside S3 or in another
// region, not the bucket's encryption context when bucket keys are off (nor
// the object's when they are on).
func TestIdentityPolicySimulated(t *testing.T) {
	mustDoc := docs(t)
	// The key by its id: in the caller's account, where S3 looks it up.
	objects := policy.Target{Bucket: bucket, Prefix: prefix, Region: region, SSE: policy.SSEKMS, KMSKeyID: keyID, KeyAccount: writerAccount}
	identity := mustDoc(objects.Identity())
	withKey := objects
	withKey.BucketKey = true
	bucketKeyIdentity := mustDoc(withKey.Identity())
	key := "arn:aws:kms:" + region + ":" + writerAccount + ":key/" + keyID
	keyPolicy := defaultKeyPolicy(writerAccount)
	s3Sim := func(r iamsim.Request) iamsim.Simulation {
		r.ResourceAccount = writerAccount
		return iamsim.Simulation{Request: r, IdentityPolicies: []json.RawMessage{identity}}
	}
	kmsSim := func(doc json.RawMessage, r iamsim.Request) iamsim.Simulation {
		return iamsim.Simulation{Request: r, IdentityPolicies: []json.RawMessage{doc}, ResourcePolicy: keyPolicy}
	}
	bucketARN := "arn:aws:s3:::" + bucket
	run(t, []simCase{
		{"put under the prefix", s3Sim(put(writerRole, objectARN, policy.SSEKMS, key)), iamsim.Allowed},
		{"put under another prefix", s3Sim(put(writerRole, "arn:aws:s3:::"+bucket+"/other/photo.jpg", policy.SSEKMS, key)), iamsim.ImplicitlyDenied},
		{"put in another bucket", s3Sim(put(writerRole, "arn:aws:s3:::other-bucket/"+prefix+"photo.jpg", policy.SSEKMS, key)), iamsim.ImplicitlyDenied},
		{"get under the prefix", s3Sim(iamsim.Request{Principal: writerRole, Action: "s3:GetObject", Resource: objectARN}), iamsim.ImplicitlyDenied},
		{"delete under the prefix", s3Sim(iamsim.Request{Principal: writerRole, Action: "s3:DeleteObject", Resource: objectARN}), iamsim.ImplicitlyDenied},
		{"list the bucket", s3Sim(iamsim.Request{Principal: writerRole, Action: "s3:ListBucket", Resource: bucketARN}), iamsim.ImplicitlyDenied},
		{"GenerateDataKey for an object under the prefix", kmsSim(identity, kmsRequest(writerRole, "kms:GenerateDataKey", key, viaS3, objectARN)), iamsim.Allowed},
		{"Decrypt for an object under the prefix (multipart)", kmsSim(identity, kmsRequest(writerRole, "kms:Decrypt", key, viaS3, objectARN)), iamsim.Allowed},
		{"another key", kmsSim(identity, kmsRequest(writerRole, "kms:GenerateDataKey", "arn:aws:kms:"+region+":"+writerAccount+":key/0000abcd-12ab-34cd-56ef-1234567890ab", viaS3, objectARN)), iamsim.ImplicitlyDenied},
		{"without ViaService (KMS called directly)", kmsSim(identity, kmsRequest(writerRole, "kms:GenerateDataKey", key, "", objectARN)), iamsim.ImplicitlyDenied},
		{"through S3 in another region", kmsSim(identity, kmsRequest(writerRole, "kms:GenerateDataKey", key, "s3.us-east-1.amazonaws.com", objectARN)), iamsim.ImplicitlyDenied},
		{"through another service", kmsSim(identity, kmsRequest(writerRole, "kms:Decrypt", key, "ec2."+region+".amazonaws.com", objectARN)), iamsim.ImplicitlyDenied},
		{"context of an object under another prefix", kmsSim(identity, kmsRequest(writerRole, "kms:Decrypt", key, viaS3, "arn:aws:s3:::"+bucket+"/other/photo.jpg")), iamsim.ImplicitlyDenied},
		{"bucket's context without bucket keys", kmsSim(identity, kmsRequest(writerRole, "kms:GenerateDataKey", key, viaS3, bucketARN)), iamsim.ImplicitlyDenied},
		{"without encryption context", kmsSim(identity, kmsRequest(writerRole, "kms:GenerateDataKey", key, viaS3, "")), iamsim.ImplicitlyDenied},
		{"kms:Encrypt", kmsSim(identity, kmsRequest(writerRole, "kms:Encrypt", key, viaS3, objectARN)), iamsim.ImplicitlyDenied},
		{"bucket keys: the bucket's context", kmsSim(bucketKeyIdentity, kmsRequest(writerRole, "kms:GenerateDataKey", key, viaS3, bucketARN)), iamsim.Allowed},
		{"bucket keys: Decrypt, the bucket's context", kmsSim(bucketKeyIdentity, kmsRequest(writerRole, "kms:Decrypt", key, viaS3, bucketARN)), iamsim.Allowed},
		{"bucket keys: an object's context", kmsSim(bucketKeyIdentity, kmsRequest(writerRole, "kms:GenerateDataKey", key, viaS3, objectARN)), iamsim.ImplicitlyDenied},
		{"bucket keys: another bucket's context", kmsSim(bucketKeyIdentity, kmsRequest(writerRole, "kms:GenerateDataKey", key, viaS3, "arn:aws:s3:::other-bucket")), iamsim.ImplicitlyDenied},
	})
}

// TestKeyStatementSimulated: a key in the owner's account serves the
// writer role of another account once the key policy has the printed
// statement (the identity policy alone cannot), with the same conditions,
// and for that role only.
func TestKeyStatementSimulated(t *testing.T) {
	mustDoc := docs(t)
	target := policy.Target{Bucket: bucket, Prefix: prefix, Region: region, SSE: policy.SSEKMS, KMSKeyID: ownerKey}
	identity := mustDoc(target.Identity())
	statement := mustDoc(target.KeyStatement(writerRole))
	withStatement := defaultKeyPolicy(ownerAccount, statement)
	sim := func(keyPolicy json.RawMessage, r iamsim.Request) iamsim.Simulation {
		return iamsim.Simulation{Request: r, IdentityPolicies: []json.RawMessage{identity}, ResourcePolicy: keyPolicy}
	}
	otherRole := "arn:aws:iam::" + writerAccount + ":role/another"
	run(t, []simCase{
		{"GenerateDataKey with the statement", sim(withStatement, kmsRequest(writerRole, "kms:GenerateDataKey", ownerKey, viaS3, objectARN)), iamsim.Allowed},
		{"Decrypt with the statement", sim(withStatement, kmsRequest(writerRole, "kms:Decrypt", ownerKey, viaS3, objectARN)), iamsim.Allowed},
		{"without the statement", sim(defaultKeyPolicy(ownerAccount), kmsRequest(writerRole, "kms:GenerateDataKey", ownerKey, viaS3, objectARN)), iamsim.ImplicitlyDenied},
		{"another role of the writer's account", sim(withStatement, kmsRequest(otherRole, "kms:GenerateDataKey", ownerKey, viaS3, objectARN)), iamsim.ImplicitlyDenied},
		{"another key of the owner", sim(withStatement, kmsRequest(writerRole, "kms:GenerateDataKey", otherKey, viaS3, objectARN)), iamsim.ImplicitlyDenied},
		{"without ViaService", sim(withStatement, kmsRequest(writerRole, "kms:GenerateDataKey", ownerKey, "", objectARN)), iamsim.ImplicitlyDenied},
		{"context under another prefix", sim(withStatement, kmsRequest(writerRole, "kms:GenerateDataKey", ownerKey, viaS3, "arn:aws:s3:::"+bucket+"/other/x")), iamsim.ImplicitlyDenied},
	})
}

// TestBucketPolicySimulated: the owner's bucket policy lets the writer role
// of another account put under the prefix, with the configured encryption
// and key, over TLS, and nothing else; in the owner's own account the role
// needs no allow from it.
func TestBucketPolicySimulated(t *testing.T) {
	mustDoc := docs(t)
	kms := policy.Target{Bucket: bucket, Prefix: prefix, Region: region, SSE: policy.SSEKMS, KMSKeyID: ownerKey}
	identity := mustDoc(kms.Identity())
	bucketPolicy := mustDoc(kms.BucketPolicy(writerRole, ownerAccount))
	sim := func(r iamsim.Request) iamsim.Simulation {
		return iamsim.Simulation{Request: r, IdentityPolicies: []json.RawMessage{identity}, ResourcePolicy: bucketPolicy}
	}
	noTLS := put(writerRole, objectARN, policy.SSEKMS, ownerKey)
	noTLS.Context["aws:SecureTransport"] = "false"
	otherRole := "arn:aws:iam::" + otherAccount + ":role/uploader-writer"

	ownerRole := "arn:aws:iam::" + ownerAccount + ":role/uploader-writer"
	sameAccount := mustDoc(kms.BucketPolicy(ownerRole, ownerAccount))
	aes := policy.Target{Bucket: bucket, Prefix: prefix, Region: region, SSE: policy.SSEAES256}
	aesPolicy := mustDoc(aes.BucketPolicy(writerRole, ownerAccount))
	aesIdentity := mustDoc(aes.Identity())
	with := func(doc, id json.RawMessage, r iamsim.Request) iamsim.Simulation {
		return iamsim.Simulation{Request: r, IdentityPolicies: []json.RawMessage{id}, ResourcePolicy: doc}
	}
	run(t, []simCase{
		{"put with the key over TLS", sim(put(writerRole, objectARN, policy.SSEKMS, ownerKey)), iamsim.Allowed},
		{"without TLS", sim(noTLS), iamsim.ExplicitlyDenied},
		{"without the encryption header", sim(put(writerRole, objectARN, "", "")), iamsim.ExplicitlyDenied},
		{"with AES256", sim(put(writerRole, objectARN, policy.SSEAES256, "")), iamsim.ExplicitlyDenied},
		{"with another key", sim(put(writerRole, objectARN, policy.SSEKMS, otherKey)), iamsim.ExplicitlyDenied},
		{"aws:kms without a key id", sim(put(writerRole, objectARN, policy.SSEKMS, "")), iamsim.ExplicitlyDenied},
		{"under another prefix", sim(put(writerRole, "arn:aws:s3:::"+bucket+"/other/photo.jpg", policy.SSEKMS, ownerKey)), iamsim.ImplicitlyDenied},
		{"a role of another account", sim(put(otherRole, objectARN, policy.SSEKMS, ownerKey)), iamsim.ImplicitlyDenied},
		{"get by the writer role", sim(iamsim.Request{Principal: writerRole, Action: "s3:GetObject", Resource: objectARN, ResourceAccount: ownerAccount, Context: map[string]any{"aws:SecureTransport": "true"}}), iamsim.ImplicitlyDenied},
		{"owner's role: allowed by its identity policy", with(sameAccount, identity, put(ownerRole, objectARN, policy.SSEKMS, ownerKey)), iamsim.Allowed},
		{"owner's role: without the header", with(sameAccount, identity, put(ownerRole, objectARN, "", "")), iamsim.ExplicitlyDenied},
		{"AES256: with the header", with(aesPolicy, aesIdentity, put(writerRole, objectARN, policy.SSEAES256, "")), iamsim.Allowed},
		{"AES256: without the header", with(aesPolicy, aesIdentity, put(writerRole, objectARN, "", "")), iamsim.ExplicitlyDenied},
		{"AES256: with aws:kms", with(aesPolicy, aesIdentity, put(writerRole, objectARN, policy.SSEKMS, ownerKey)), iamsim.ExplicitlyDenied},
	})
	var doc struct{ Statement []struct{ Sid string } }
	if err := json.Unmarshal(sameAccount, &doc); err != nil {
		t.Fatal(err)
	}
	for _, s := range doc.Statement {
		if s.Sid == "UploaderWriterRoleFromAnotherAccount" {
			t.Errorf("same account: got an allow for the role, want only denies (its identity policy grants the put)")
		}
	}
}

// TestAssumeRoleTrustSimulated: the target role trusts the source role
// only, with the external id when one is set; sts:TagSession only when
// asked (EKS Pod Identity's target role).
func TestAssumeRoleTrustSimulated(t *testing.T) {
	mustDoc := docs(t)
	source := "arn:aws:iam::" + writerAccount + ":role/uploader-pod"
	target := "arn:aws:iam::" + ownerAccount + ":role/uploader-writer"
	withID := mustDoc(policy.AssumeRoleTrust{SourceRoleARN: source, ExternalID: "images-7f3a"}.Trust())
	withoutID := mustDoc(policy.AssumeRoleTrust{SourceRoleARN: source}.Trust())
	podIdentity := mustDoc(policy.AssumeRoleTrust{SourceRoleARN: source, ExternalID: "images-7f3a", TagSession: true}.Trust())
	// The source role's own identity policy lets it call sts:AssumeRole and
	// sts:TagSession on the target.
	sourceIdentity := json.RawMessage(`{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":["sts:AssumeRole","sts:TagSession"],"Resource":"` + target + `"}]}`)
	sim := func(trust json.RawMessage, principal, action, externalID string) iamsim.Simulation {
		c := map[string]any{}
		if externalID != "" {
			c["sts:ExternalId"] = externalID
		}
		return iamsim.Simulation{
			Request:          iamsim.Request{Principal: principal, Action: action, Resource: target, ResourceAccount: ownerAccount, Context: c},
			IdentityPolicies: []json.RawMessage{sourceIdentity}, ResourcePolicy: trust,
		}
	}
	other := "arn:aws:iam::" + writerAccount + ":role/another"
	run(t, []simCase{
		{"source role with the external id", sim(withID, source, "sts:AssumeRole", "images-7f3a"), iamsim.Allowed},
		{"source role with another external id", sim(withID, source, "sts:AssumeRole", "images-0000"), iamsim.ImplicitlyDenied},
		{"source role without the external id", sim(withID, source, "sts:AssumeRole", ""), iamsim.ImplicitlyDenied},
		{"another role with the external id", sim(withID, other, "sts:AssumeRole", "images-7f3a"), iamsim.ImplicitlyDenied},
		{"a role of another account", sim(withID, "arn:aws:iam::"+otherAccount+":role/uploader-pod", "sts:AssumeRole", "images-7f3a"), iamsim.ImplicitlyDenied},
		{"no external id set: source role", sim(withoutID, source, "sts:AssumeRole", ""), iamsim.Allowed},
		{"no external id set: another role", sim(withoutID, other, "sts:AssumeRole", ""), iamsim.ImplicitlyDenied},
		{"TagSession not asked for", sim(withID, source, "sts:TagSession", ""), iamsim.ImplicitlyDenied},
		{"Pod Identity target role: AssumeRole", sim(podIdentity, source, "sts:AssumeRole", "images-7f3a"), iamsim.Allowed},
		{"Pod Identity target role: TagSession", sim(podIdentity, source, "sts:TagSession", ""), iamsim.Allowed},
		{"Pod Identity target role: another role tags", sim(podIdentity, other, "sts:TagSession", ""), iamsim.ImplicitlyDenied},
	})
}
