// Package upload stores a stream in S3 under a fresh key, never overwriting an
// object and never leaving a partial one.
//
// Every write carries If-None-Match: * (PutObject and CompleteMultipartUpload),
// so an existing key fails with ErrExists. The SDK's request checksums stay on
// (CRC32 unless the client opts out).
//
// Paths, and why:
//   - Known size over https: one PutObject streaming the body unbuffered. The
//     SDK sends it aws-chunked with a trailing CRC32 and an unsigned payload
//     hash; memory does not grow with the body. Above Options.MaxPutSize
//     (16 MiB by default: MinIO takes no larger chunk) it goes multipart.
//   - Known size over plain http, or unknown size: the transfer manager
//     (feature/s3/transfermanager), which buffers at most (Concurrency+2) parts.
//     Over http the SDK can checksum only a seekable body (the trailing
//     checksum needs TLS: "unseekable stream is not supported without TLS and
//     trailing checksum"), so buffered parts are what keep integrity there.
//     A body smaller than one part is still a single PutObject.
//   - transfermanager over the deprecated feature/s3/manager: both pass
//     IfNoneMatch to CompleteMultipartUpload and both abort on failure, but
//     manager aborts with the caller's ctx, so a cancelled upload leaves its
//     multipart upload (and parts) behind; transfermanager aborts on a fresh
//     context bounded by FailTimeout. Speed and memory were alike
//     (docs/measurements.md).
//
// Keys makes sortable, unique object keys.
package upload
