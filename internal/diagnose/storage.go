package diagnose

import "time"

// Storage diagnoses a failed S3 call (an upload, a probe of `uploader
// check`): checksums the store refuses, and a clock off from the store's.
func Storage(err error, now time.Time) List {
	return append(checksum(err), clock(err, time.Time{}, now)...)
}
