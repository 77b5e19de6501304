package upload

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/url"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	v4 "github.com/aws/aws-sdk-go-v2/aws/signer/v4"
	"github.com/aws/aws-sdk-go-v2/feature/s3/transfermanager"
	tmtypes "github.com/aws/aws-sdk-go-v2/feature/s3/transfermanager/types"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/prometheus/client_golang/prometheus"

	"github.com/eks-least-privilege/uploader/internal/failure"
)

// ErrExists reports that an object already exists under the key: the
// conditional write (If-None-Match: *) was refused with 412 Precondition Failed.
var ErrExists = errors.New("object already exists")

// BodyError marks an upload that failed because reading the body failed, not
// because of S3: the source broke off, was too large, or timed out.
type BodyError struct{ Err error }

func (e *BodyError) Error() string { return "read body: " + e.Err.Error() }
func (e *BodyError) Unwrap() error { return e.Err }

// API is the part of the S3 client the Uploader calls. *s3.Client satisfies it.
type API interface {
	PutObject(context.Context, *s3.PutObjectInput, ...func(*s3.Options)) (*s3.PutObjectOutput, error)
	CreateMultipartUpload(context.Context, *s3.CreateMultipartUploadInput, ...func(*s3.Options)) (*s3.CreateMultipartUploadOutput, error)
	UploadPart(context.Context, *s3.UploadPartInput, ...func(*s3.Options)) (*s3.UploadPartOutput, error)
	CompleteMultipartUpload(context.Context, *s3.CompleteMultipartUploadInput, ...func(*s3.Options)) (*s3.CompleteMultipartUploadOutput, error)
	AbortMultipartUpload(context.Context, *s3.AbortMultipartUploadInput, ...func(*s3.Options)) (*s3.AbortMultipartUploadOutput, error)
}

// Defaults applied to zero Options fields.
const (
	DefaultPartSize    = 8 << 20
	DefaultConcurrency = 2
	// DefaultAbortTimeout is 4s: a shutdown's SHUTDOWN_TIMEOUT (25s by
	// default) plus the abort stays below Kubernetes' 30s grace period.
	DefaultAbortTimeout = 4 * time.Second
	// DefaultMaxPutSize is 16 MiB: the SDK streams a known-size body over
	// https as one aws-chunked chunk, which S3 takes up to 5 GiB but MinIO
	// refuses above 16 MiB. Larger images go multipart, on either store.
	DefaultMaxPutSize = 16 << 20
	// MinPartSize is the smallest part S3 accepts (except the last one).
	MinPartSize = 5 << 20
)

// Options tune multipart uploads. The zero value is ready to use.
type Options struct {
	// PartSize is the size of each buffered part of a multipart upload, and the
	// largest body of unknown size sent as a single PutObject. Zero means
	// DefaultPartSize (8 MiB); values below MinPartSize (5 MiB) are raised to it.
	PartSize int64
	// Concurrency is how many parts are sent at once. Memory held by one
	// multipart upload is at most (Concurrency+2)*PartSize. Zero means
	// DefaultConcurrency (2).
	Concurrency int
	// AbortTimeout bounds AbortMultipartUpload after a failure, its retries
	// included (abort.go), which run on a fresh context so that a cancelled
	// upload is still cleaned up. Zero means DefaultAbortTimeout (4s).
	AbortTimeout time.Duration
	// MaxPutSize is the largest known-size body sent as one streaming
	// PutObject; larger ones go multipart. Zero means DefaultMaxPutSize
	// (16 MiB, which every S3-compatible store takes); up to 5 GiB on S3.
	MaxPutSize int64
	// Logger gets a warning for each multipart upload that could not be
	// aborted (abort.go). Nil discards.
	Logger *slog.Logger
	// AbortFailures counts them by reason (see NewAbortFailures). Nil
	// counts nothing.
	AbortFailures *prometheus.CounterVec
	// Encryption is asked of S3 on the put and on CreateMultipartUpload (the
	// parts inherit it). Zero: the bucket's default encryption.
	Encryption Encryption
	// ExpectedBucketOwner is sent on every request (the put, and the create,
	// part, complete and abort calls of a multipart upload): S3 answers 403
	// when the bucket belongs to another account. Empty: not sent.
	ExpectedBucketOwner AccountID
}

// Uploader writes streams to one bucket. It is safe for concurrent use.
type Uploader struct {
	client API
	bucket string
	tm     *transfermanager.Client
	// stream is whether a known-size body can go as one unbuffered PutObject
	// with the SDK's checksum intact (see doc.go).
	stream     bool
	maxPutSize int64
	encryption Encryption
	owner      AccountID
}

// Result describes a stored object.
type Result struct {
	Bytes         int64  // bytes read from the body and stored
	ETag          string // as returned by S3, quotes included
	VersionID     string // empty unless the bucket is versioned
	ChecksumCRC32 string // base64, when S3 returned one (multipart: checksum of part checksums, "-N" suffix)
}

// New returns an Uploader that writes to bucket through client.
func New(client API, bucket string, opts Options) *Uploader {
	if opts.PartSize == 0 {
		opts.PartSize = DefaultPartSize
	}
	opts.PartSize = max(opts.PartSize, MinPartSize)
	if opts.Concurrency <= 0 {
		opts.Concurrency = DefaultConcurrency
	}
	if opts.AbortTimeout <= 0 {
		opts.AbortTimeout = DefaultAbortTimeout
	}
	if opts.MaxPutSize <= 0 {
		opts.MaxPutSize = DefaultMaxPutSize
	}
	if opts.Logger == nil {
		opts.Logger = slog.New(slog.DiscardHandler)
	}
	tm := transfermanager.New(tmClient{API: client, logger: opts.Logger, failures: opts.AbortFailures}, func(o *transfermanager.Options) {
		o.PartSizeBytes = opts.PartSize
		// One part read before deciding single vs multipart, not the SDK's two.
		o.MultipartUploadThreshold = opts.PartSize
		o.Concurrency = opts.Concurrency
		o.FailTimeout = opts.AbortTimeout
	})
	return &Uploader{client: client, bucket: bucket, tm: tm, stream: canStream(client), maxPutSize: opts.MaxPutSize,
		encryption: opts.Encryption, owner: opts.ExpectedBucketOwner}
}

// Upload stores body under key with meta. size is the body's exact length,
// or -1 when unknown. The object appears whole or not at all: on any error
// (body read error, cancelled ctx, refused write) no object is left, a
// multipart upload is aborted (abort.go), and the returned error wraps the
// cause (ErrExists, the body's own error in a *BodyError, ctx.Err()).
func (u *Uploader) Upload(ctx context.Context, key string, body io.Reader, size int64, meta Metadata) (Result, error) {
	r := &recordingReader{r: body}
	var (
		res Result
		err error
		op  = "put"
	)
	if size >= 0 && size <= u.maxPutSize && u.stream {
		res, err = u.put(ctx, key, r, size, meta)
	} else {
		op = "multipart upload"
		res, err = u.multipart(ctx, key, r, size, meta)
	}
	res.Bytes = r.n.Load()
	if err != nil {
		if isPreconditionFailed(err) {
			err = fmt.Errorf("%w: %w", ErrExists, err)
		}
		if bodyErr := r.Err(); bodyErr != nil {
			// The SDK may report the body's error only as text: wrap it.
			err = errors.Join(&BodyError{Err: bodyErr}, err)
		}
		return Result{}, fmt.Errorf("%s s3://%s/%s: %w", op, u.bucket, key, err)
	}
	return res, nil
}

func (u *Uploader) put(ctx context.Context, key string, body io.Reader, size int64, meta Metadata) (Result, error) {
	in := &s3.PutObjectInput{
		Bucket:              aws.String(u.bucket),
		Key:                 aws.String(key),
		Body:                body,
		ContentLength:       aws.Int64(size),
		ContentType:         nonEmpty(meta.ContentType),
		Metadata:            meta.user(),
		IfNoneMatch:         aws.String("*"),
		ExpectedBucketOwner: u.owner.Header(),
	}
	u.encryption.PutObject(in)
	out, err := u.client.PutObject(ctx, in, withChecksums, func(o *s3.Options) {
		// A stream cannot be read twice to hash it for SigV4. Over https the
		// checksum middleware already signs STREAMING-UNSIGNED-PAYLOAD-TRAILER
		// and this is a no-op; it matters when checksums are turned off.
		o.APIOptions = append(o.APIOptions, v4.SwapComputePayloadSHA256ForUnsignedPayloadMiddleware)
	})
	if err != nil {
		return Result{}, err
	}
	return Result{
		ETag:          aws.ToString(out.ETag),
		VersionID:     aws.ToString(out.VersionId),
		ChecksumCRC32: aws.ToString(out.ChecksumCRC32),
	}, nil
}

func (u *Uploader) multipart(ctx context.Context, key string, body io.Reader, size int64, meta Metadata) (Result, error) {
	// The transfer manager copies the owner to every call it makes (create,
	// parts, complete, abort) and the encryption to CreateMultipartUpload (or
	// to the single put of a body smaller than one part).
	in := &transfermanager.UploadObjectInput{
		Bucket:               aws.String(u.bucket),
		Key:                  aws.String(key),
		Body:                 body,
		ContentType:          nonEmpty(meta.ContentType),
		Metadata:             meta.user(),
		IfNoneMatch:          aws.String("*"),
		ExpectedBucketOwner:  u.owner.Header(),
		ServerSideEncryption: tmtypes.ServerSideEncryption(u.encryption.SSE),
		SSEKMSKeyID:          nonEmpty(u.encryption.KMSKeyID),
		BucketKeyEnabled:     u.encryption.bucketKey(),
	}
	if size >= 0 {
		in.ContentLength = aws.Int64(size)
	}
	out, err := u.tm.UploadObject(ctx, in)
	if err != nil {
		return Result{}, err
	}
	return Result{
		ETag:          aws.ToString(out.ETag),
		VersionID:     aws.ToString(out.VersionID),
		ChecksumCRC32: aws.ToString(out.ChecksumCRC32),
	}, nil
}

// withChecksums turns the SDK's request checksums on for a client built
// without aws.Config (s3.New leaves them unset, which means off).
func withChecksums(o *s3.Options) {
	if o.RequestChecksumCalculation == aws.RequestChecksumCalculationUnset {
		o.RequestChecksumCalculation = aws.RequestChecksumCalculationWhenSupported
	}
}

// canStream reports whether a non-seekable body can be sent in one PutObject
// without losing the request checksum: the SDK computes a checksum over an
// unseekable body only as an aws-chunked trailer, and only over TLS. A client
// whose options cannot be read is assumed to be AWS (https).
func canStream(client API) bool {
	c, ok := client.(interface{ Options() s3.Options })
	if !ok {
		return true
	}
	o := c.Options()
	withChecksums(&o)
	if o.RequestChecksumCalculation == aws.RequestChecksumCalculationWhenRequired {
		return true // checksums turned off on purpose: nothing to lose
	}
	if o.BaseEndpoint == nil {
		return true // AWS endpoints are https
	}
	ep, err := url.Parse(*o.BaseEndpoint)
	return err == nil && strings.EqualFold(ep.Scheme, "https")
}

func isPreconditionFailed(err error) bool {
	return failure.Classify(err) == failure.KindPreconditionFailed
}

func nonEmpty(s string) *string {
	if s == "" {
		return nil
	}
	return aws.String(s)
}

// recordingReader counts the bytes read and keeps the first read error other
// than io.EOF, so Upload can return it even when the SDK reports it as text.
// The SDK may read from another goroutine (the HTTP transport) and may still
// hold the reader when Upload returns, hence the atomic and the mutex.
type recordingReader struct {
	r   io.Reader
	n   atomic.Int64
	mu  sync.Mutex // guards err
	err error
}

func (r *recordingReader) Read(p []byte) (int, error) {
	n, err := r.r.Read(p)
	r.n.Add(int64(n))
	if err != nil && err != io.EOF {
		r.mu.Lock()
		if r.err == nil {
			r.err = err
		}
		r.mu.Unlock()
	}
	return n, err
}

// Err returns the first read error other than io.EOF.
func (r *recordingReader) Err() error {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.err
}
