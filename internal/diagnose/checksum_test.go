package diagnose

import (
	"testing"
	"time"
)

func TestChecksum(t *testing.T) {
	tests := []struct {
		name, code, message string
		want                []Name
	}{
		{"sha256 mismatch", "XAmzContentSHA256Mismatch", "The provided 'x-amz-content-sha256' header does not match what was computed.", []Name{ChecksumRejected}},
		{"bad digest", "BadDigest", "The CRC32 you specified did not match the calculated checksum.", []Name{ChecksumRejected}},
		{"trailer not implemented", "NotImplemented", "A header you provided implies functionality that is not implemented: x-amz-trailer", []Name{ChecksumRejected}},
		{"chunk too big", "InvalidRequest", "chunk too big", []Name{ChecksumRejected}},
		{"access denied", "AccessDenied", "Access Denied", nil},
		{"not implemented, unrelated", "NotImplemented", "versioning", nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := s3Answer(t, 400, tt.code, tt.message, time.Now())
			if err == nil {
				t.Fatal("want an error")
			}
			var contains []string
			if tt.want != nil {
				contains = []string{tt.code, "AWS_REQUEST_CHECKSUM_CALCULATION=when_required", "what is lost"}
			}
			wantNames(t, checksum(err), tt.want, contains...)
		})
	}
}
