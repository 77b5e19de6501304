package privilege

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"strings"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/aws/smithy-go"
	"github.com/aws/smithy-go/middleware"

	"github.com/eks-least-privilege/uploader/internal/failure"
	"github.com/eks-least-privilege/uploader/internal/upload"
)

// API is the part of the S3 client [Check] calls; *s3.Client satisfies it.
type API interface {
	PutObject(ctx context.Context, in *s3.PutObjectInput, optFns ...func(*s3.Options)) (*s3.PutObjectOutput, error)
	GetObject(ctx context.Context, in *s3.GetObjectInput, optFns ...func(*s3.Options)) (*s3.GetObjectOutput, error)
	ListObjectsV2(ctx context.Context, in *s3.ListObjectsV2Input, optFns ...func(*s3.Options)) (*s3.ListObjectsV2Output, error)
	DeleteObject(ctx context.Context, in *s3.DeleteObjectInput, optFns ...func(*s3.Options)) (*s3.DeleteObjectOutput, error)
	ListBuckets(ctx context.Context, in *s3.ListBucketsInput, optFns ...func(*s3.Options)) (*s3.ListBucketsOutput, error)
	GetBucketPolicy(ctx context.Context, in *s3.GetBucketPolicyInput, optFns ...func(*s3.Options)) (*s3.GetBucketPolicyOutput, error)
	GetBucketAcl(ctx context.Context, in *s3.GetBucketAclInput, optFns ...func(*s3.Options)) (*s3.GetBucketAclOutput, error)
	PutObjectAcl(ctx context.Context, in *s3.PutObjectAclInput, optFns ...func(*s3.Options)) (*s3.PutObjectAclOutput, error)
}

// CheckDir is appended to the key prefix to name where [Check] writes:
// <prefix>.least-privilege-check/<random>.txt.
const CheckDir = ".least-privilege-check/"

// probeTimeout bounds each S3 call of [Check].
const probeTimeout = 10 * time.Second

// Options change [Check]; the zero value is ready to use.
type Options struct {
	// Rand supplies the random part of the check keys; nil means crypto/rand.
	Rand io.Reader
	// Encryption is asked on the probe puts, as on the uploads: a bucket
	// policy that demands it would otherwise deny the probe, not the upload.
	Encryption upload.Encryption
	// ExpectedBucketOwner is sent on every probe that names the bucket
	// (all but ListBuckets). Empty: not sent, and the report says so.
	ExpectedBucketOwner upload.AccountID
}

// Check probes what the S3 client's identity may do in bucket, without
// destroying anything:
//
//   - s3:PutObject: a small text object <prefix>.least-privilege-check/<random>.txt,
//     with If-None-Match: * so nothing is overwritten (expected allowed);
//   - s3:GetObject: that object — without s3:ListBucket S3 answers 403 for a
//     missing key, so only an existing object tells (expected denied;
//     "not probed (no object)" when PutObject was denied);
//   - s3:ListBucket: ListObjectsV2 under prefix, at most one key (expected denied);
//   - s3:DeleteObject: a random key <prefix>.least-privilege-check/absent-<random>
//     that does not exist (expected denied);
//   - s3:ListAllMyBuckets, s3:GetBucketPolicy, s3:GetBucketAcl, s3:PutObjectAcl
//     "private" on the check object, and s3:PutObject of a new key outside
//     the prefix when one is set (all expected denied; see wider).
//
// A probe is allowed when the call succeeds, denied on AccessDenied or HTTP
// 403, and an error otherwise. When DeleteObject is allowed the check object
// is deleted again; when it is denied — the least-privilege case — the check
// object stays in the bucket (Report.LeftObject): expire the check directory
// with a lifecycle rule if that matters.
//
// The error is non-nil when a probe errored (the report is still complete
// and Inconclusive) or ctx ended.
func Check(ctx context.Context, client API, bucket, prefix string, opts Options) (Report, error) {
	if opts.Rand == nil {
		opts.Rand = rand.Reader
	}
	suffix, err := randomHex(opts.Rand)
	if err != nil {
		return Report{}, fmt.Errorf("least-privilege check: random key: %w", err)
	}
	dir := prefix + CheckDir
	r := Report{Bucket: bucket, Key: dir + suffix + ".txt", ExpectedOwner: opts.ExpectedBucketOwner}
	owner := opts.ExpectedBucketOwner.Header()
	absent := dir + "absent-" + suffix

	probe := func(f func(ctx context.Context) error) (Outcome, string, error) {
		ctx, cancel := context.WithTimeout(ctx, probeTimeout)
		defer cancel()
		return outcome(f(ctx))
	}

	var errs []error
	add := func(action string, expected Outcome, o Outcome, detail string, err error) {
		r.Rows = append(r.Rows, Row{Action: action, Expected: expected, Observed: o, Detail: detail})
		if err != nil {
			errs = append(errs, fmt.Errorf("%s: %w", action, err))
		}
	}

	var server string // the put's Server header
	var putErr error
	body := fmt.Sprintf("uploader least-privilege check %s\n", time.Now().UTC().Format(time.RFC3339))
	put, detail, err := probe(func(ctx context.Context) error {
		in := &s3.PutObjectInput{
			Bucket:              aws.String(bucket),
			Key:                 aws.String(r.Key),
			Body:                bytes.NewReader([]byte(body)),
			ContentLength:       aws.Int64(int64(len(body))),
			ContentType:         aws.String("text/plain; charset=utf-8"),
			IfNoneMatch:         aws.String("*"),
			ExpectedBucketOwner: owner,
		}
		opts.Encryption.PutObject(in)
		out, err := client.PutObject(ctx, in)
		putErr = err
		server = serverOf(metadata(out, func(o *s3.PutObjectOutput) middleware.Metadata { return o.ResultMetadata }), err)
		if err == nil {
			r.Encryption = upload.Applied{SSE: upload.SSE(out.ServerSideEncryption), KMSKeyID: aws.ToString(out.SSEKMSKeyId), BucketKey: out.BucketKeyEnabled}
		}
		return err
	})
	add(ActionPutObject, Allowed, put, r.putDetail(put, detail, server), err)
	r.PutError = putErr

	if put == Allowed {
		o, detail, err := probe(func(ctx context.Context) error {
			out, err := client.GetObject(ctx, &s3.GetObjectInput{Bucket: aws.String(bucket), Key: aws.String(r.Key), ExpectedBucketOwner: owner})
			if err != nil {
				return err
			}
			defer out.Body.Close()
			_, err = io.Copy(io.Discard, io.LimitReader(out.Body, 1<<20))
			return err
		})
		add(ActionGetObject, Denied, o, detail, err)
	} else {
		add(ActionGetObject, Denied, NotProbed, "", nil)
	}

	o, detail, err := probe(func(ctx context.Context) error {
		_, err := client.ListObjectsV2(ctx, &s3.ListObjectsV2Input{Bucket: aws.String(bucket), Prefix: aws.String(prefix), MaxKeys: aws.Int32(1),
			ExpectedBucketOwner: owner})
		return err
	})
	add(ActionListBucket, Denied, o, detail, err)

	del, detail, err := probe(func(ctx context.Context) error {
		_, err := client.DeleteObject(ctx, &s3.DeleteObjectInput{Bucket: aws.String(bucket), Key: aws.String(absent), ExpectedBucketOwner: owner})
		return err
	})
	add(ActionDeleteObject, Denied, del, detail, err)
	r.OutsideKey = wider(client, target{bucket: bucket, prefix: prefix, key: r.Key, suffix: suffix, owner: owner, encryption: opts.Encryption},
		put == Allowed, probe, add)

	if put == Allowed {
		r.LeftObject = true
		if del == Allowed {
			// Over-privileged anyway: take the check object away again.
			_, _, _ = probe(func(ctx context.Context) error {
				_, err := client.DeleteObject(ctx, &s3.DeleteObjectInput{Bucket: aws.String(bucket), Key: aws.String(r.Key), ExpectedBucketOwner: owner})
				if err == nil {
					r.LeftObject = false
				}
				return err
			})
		}
	} else {
		r.Key = ""
	}
	if err := ctx.Err(); err != nil {
		errs = append(errs, err)
	}
	if len(errs) > 0 {
		return r, fmt.Errorf("least-privilege check of bucket %s: %w", bucket, errors.Join(errs...))
	}
	return r, nil
}

// outcome classifies a probe's error by its [failure.Kind]. Invalid or
// expired credentials are refused too, but they say nothing about the
// policy: they are errors.
func outcome(err error) (Outcome, string, error) {
	if err == nil {
		return Allowed, "", nil
	}
	detail := failure.Network(err)
	var api smithy.APIError
	if errors.As(err, &api) && api.ErrorCode() != "" {
		detail = api.ErrorCode()
	} else if status := failure.HTTPStatus(err); status != 0 {
		detail = fmt.Sprintf("http %d", status)
	}
	switch k := failure.Classify(err); {
	case k.Credentials():
		return Errored, detail, err
	case k == failure.KindDenied:
		return Denied, detail, nil
	}
	return Errored, detail, err
}

func randomHex(r io.Reader) (string, error) {
	b := make([]byte, 8)
	if _, err := io.ReadFull(r, b); err != nil {
		return "", err
	}
	return strings.ToLower(hex.EncodeToString(b)), nil
}

// OutcomeOf is what a probe that returned err observed: Allowed for nil,
// Denied for a policy's refusal, Errored for anything else.
func OutcomeOf(err error) Outcome {
	o, _, _ := outcome(err)
	return o
}
