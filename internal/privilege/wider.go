package privilege

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	awsmiddleware "github.com/aws/aws-sdk-go-v2/aws/middleware"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/aws/aws-sdk-go-v2/service/s3/types"
	"github.com/aws/smithy-go"
	"github.com/aws/smithy-go/middleware"
	smithyhttp "github.com/aws/smithy-go/transport/http"

	"github.com/eks-least-privilege/uploader/internal/upload"
)

// The actions the wider probes of [Check] try; each must be denied to a
// put-only identity.
const (
	ActionListAllMyBuckets = "s3:ListAllMyBuckets"
	ActionGetBucketPolicy  = "s3:GetBucketPolicy"
	ActionGetBucketAcl     = "s3:GetBucketAcl"
	ActionPutObjectAcl     = "s3:PutObjectAcl"
	// ActionPutOutsidePrefix is s3:PutObject on a key outside S3_KEY_PREFIX,
	// probed only when a prefix is set.
	ActionPutOutsidePrefix = "s3:PutObject outside prefix"
)

// OutsideDir names where the outside-prefix probe writes, at the top of the
// bucket: <c>least-privilege-check-outside-prefix/<random>.txt, c being "."
// or "_", whichever the prefix does not start with.
const OutsideDir = "least-privilege-check-outside-prefix/"

// minioNote says what MinIO checks instead of the ACL permissions: it keeps
// no ACLs and answers the ACL calls with its bucket policy permissions.
// MinIO also lists the buckets an identity may s3:ListBucket without
// s3:ListAllMyBuckets.
var minioNote = map[string]string{
	ActionGetBucketAcl:     "MinIO has no ACLs: it answers this with s3:GetBucketPolicy",
	ActionPutObjectAcl:     "MinIO has no ACLs: it answers this with s3:PutBucketPolicy",
	ActionListAllMyBuckets: "MinIO lists the buckets the identity may s3:ListBucket even without s3:ListAllMyBuckets",
}

// probeFunc runs one bounded probe; addFunc records its row.
type (
	probeFunc func(f func(ctx context.Context) error) (Outcome, string, error)
	addFunc   func(action string, expected Outcome, o Outcome, detail string, err error)
)

// target is what the wider probes address: the bucket, the prefix, the
// check object and its random suffix, and what every request carries.
type target struct {
	bucket, prefix, key, suffix string
	owner                       *string // x-amz-expected-bucket-owner, nil: none
	encryption                  upload.Encryption
}

// wider probes the actions a put-only identity must not have beyond the four
// basic ones, without changing anything but its own objects: ListBuckets,
// GetBucketPolicy (NoSuchBucketPolicy means the read was allowed),
// GetBucketAcl, PutObjectAcl "private" on the check object (the ACL it has
// already; only when the put was allowed), and, when prefix is set, a
// conditional put of a new, self-describing key outside the prefix. It
// returns the outside key when that put was allowed: the object stays.
func wider(client API, t target, putAllowed bool, probe probeFunc, add addFunc) string {
	bucket, prefix := t.bucket, t.prefix
	var server string
	see := func(md middleware.Metadata, err error) error {
		if s := serverOf(md, err); s != "" {
			server = s
		}
		return err
	}
	row := func(action string, f func(ctx context.Context) error) {
		o, detail, err := probe(f)
		if note, ok := minioNote[action]; ok && strings.EqualFold(server, "MinIO") && (action != ActionListAllMyBuckets || o == Allowed) {
			detail = strings.TrimPrefix(detail+"; "+note, "; ")
		}
		add(action, Denied, o, detail, err)
	}

	// ListBuckets names no bucket: it is the one request without the owner.
	row(ActionListAllMyBuckets, func(ctx context.Context) error {
		out, err := client.ListBuckets(ctx, &s3.ListBucketsInput{MaxBuckets: aws.Int32(1)})
		return see(metadata(out, func(o *s3.ListBucketsOutput) middleware.Metadata { return o.ResultMetadata }), err)
	})
	row(ActionGetBucketPolicy, func(ctx context.Context) error {
		out, err := client.GetBucketPolicy(ctx, &s3.GetBucketPolicyInput{Bucket: aws.String(bucket), ExpectedBucketOwner: t.owner})
		err = see(metadata(out, func(o *s3.GetBucketPolicyOutput) middleware.Metadata { return o.ResultMetadata }), err)
		if code(err) == "NoSuchBucketPolicy" {
			return nil // allowed to read it; there is none
		}
		return err
	})
	row(ActionGetBucketAcl, func(ctx context.Context) error {
		out, err := client.GetBucketAcl(ctx, &s3.GetBucketAclInput{Bucket: aws.String(bucket), ExpectedBucketOwner: t.owner})
		return see(metadata(out, func(o *s3.GetBucketAclOutput) middleware.Metadata { return o.ResultMetadata }), err)
	})
	if putAllowed {
		row(ActionPutObjectAcl, func(ctx context.Context) error {
			out, err := client.PutObjectAcl(ctx, &s3.PutObjectAclInput{Bucket: aws.String(bucket), Key: aws.String(t.key), ACL: types.ObjectCannedACLPrivate,
				ExpectedBucketOwner: t.owner})
			return see(metadata(out, func(o *s3.PutObjectAclOutput) middleware.Metadata { return o.ResultMetadata }), err)
		})
	} else {
		add(ActionPutObjectAcl, Denied, NotProbed, "", nil)
	}
	if prefix == "" {
		return ""
	}
	lead := "."
	if strings.HasPrefix(prefix, ".") {
		lead = "_"
	}
	outside := lead + OutsideDir + t.suffix + ".txt"
	body := fmt.Sprintf("uploader least-privilege check: a put outside the prefix %q must be denied; this object shows it was not (%s)\n",
		prefix, time.Now().UTC().Format(time.RFC3339))
	o, detail, err := probe(func(ctx context.Context) error {
		// The same encryption as the uploads: a bucket policy demanding it
		// must not pass for a prefix restriction.
		in := &s3.PutObjectInput{
			Bucket: aws.String(bucket), Key: aws.String(outside),
			Body: bytes.NewReader([]byte(body)), ContentLength: aws.Int64(int64(len(body))),
			ContentType: aws.String("text/plain; charset=utf-8"), IfNoneMatch: aws.String("*"),
			ExpectedBucketOwner: t.owner,
		}
		t.encryption.PutObject(in)
		_, err := client.PutObject(ctx, in)
		return err
	})
	add(ActionPutOutsidePrefix, Denied, o, detail, err)
	if o == Allowed {
		return outside
	}
	return ""
}

// metadata returns the result metadata of an output, nil-safe.
func metadata[T any](out *T, md func(*T) middleware.Metadata) middleware.Metadata {
	if out == nil {
		return middleware.Metadata{}
	}
	return md(out)
}

// serverOf returns the Server header of a response, from a success's
// metadata or an error's response.
func serverOf(md middleware.Metadata, err error) string {
	if resp, ok := awsmiddleware.GetRawResponse(md).(*smithyhttp.Response); ok && resp != nil {
		return resp.Header.Get("Server")
	}
	var re *smithyhttp.ResponseError
	if errors.As(err, &re) && re.Response != nil {
		return re.Response.Header.Get("Server")
	}
	return ""
}

func code(err error) string {
	var api smithy.APIError
	if errors.As(err, &api) {
		return api.ErrorCode()
	}
	return ""
}
