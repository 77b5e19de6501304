package diagnose

import (
	"time"

	"github.com/eks-least-privilege/uploader/internal/upload"
)

// Store is what every S3 request of the uploader carries, for the
// diagnoses of a refusal.
type Store struct {
	Encryption    upload.Encryption
	ExpectedOwner upload.AccountID
	// Endpoint is the S3 endpoint the client uses (upload.Endpoint), named
	// when S3 does not answer; "" if unknown.
	Endpoint string
}

// Storage diagnoses a failed S3 call (an upload, a probe of `uploader
// check`): checksums the store refuses, a clock off from the store's, the
// KMS key, an encryption or another condition of the bucket policy, an
// owner mismatch, and S3 out of reach.
func Storage(err error, now time.Time, store Store) List {
	var l List
	l = append(l, checksum(err)...)
	l = append(l, clock(err, time.Time{}, now)...)
	l = append(l, kmsRefusal(err, store.Encryption)...)
	l = append(l, bucketPolicy(err, store.Encryption)...)
	l = append(l, bucketOwner(err, store.ExpectedOwner)...)
	return append(l, unreachable(err, store.Endpoint)...)
}
