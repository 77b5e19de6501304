package upload

import (
	"errors"
	"math/rand/v2"
	"regexp"
	"strings"
	"testing"
	"time"
)

var keyShape = regexp.MustCompile(`^([a-z0-9._/-]*/)?[a-z0-9.-]+/\d{4}/\d{2}/\d{2}/\d{8}T\d{6}\.\d{3}Z-[0-9a-f]{8}(\.[a-z0-9]+)?$`)

func fixedClock(t time.Time) func() time.Time { return func() time.Time { return t } }

func TestKeysNext(t *testing.T) {
	at := time.Date(2026, 3, 4, 5, 6, 7, 891_000_000, time.FixedZone("CET", 3600))
	tests := []struct {
		name       string
		keys       Keys
		ext        string
		wantPrefix string
		wantSuffix string
	}{
		{"plain", Keys{Host: "uploader-7d9f-abcde"}, "jpg", "uploader-7d9f-abcde/2026/03/04/20260304T040607.891Z-", ".jpg"},
		{"prefix without slash", Keys{Prefix: "images", Host: "h"}, "png", "images/h/2026/03/04/", ".png"},
		{"prefix with slashes", Keys{Prefix: "/a/b/", Host: "h"}, "gif", "a/b/h/2026/", ".gif"},
		{"host sanitized", Keys{Host: "Pod_Name:01 x"}, "webp", "pod-name-01-x/2026/", ".webp"},
		{"host with dots kept", Keys{Host: "ip-10-0-0-1.ec2.internal"}, "jpg", "ip-10-0-0-1.ec2.internal/2026/", ".jpg"},
		{"host dot-dot", Keys{Host: ".."}, "jpg", "unknown/2026/", ".jpg"},
		{"empty host", Keys{}, "jpg", "unknown/2026/", ".jpg"},
		{"ext with dot and case", Keys{Host: "h"}, ".JPG", "h/2026/", ".jpg"},
		{"ext junk dropped", Keys{Host: "h"}, "j:p g", "h/2026/", ".jpg"},
		{"no ext", Keys{Host: "h"}, "", "h/2026/", ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			tt.keys.Now = fixedClock(at)
			got := tt.keys.Next(tt.ext)
			if !keyShape.MatchString(got) {
				t.Errorf("got %q, want match for %s", got, keyShape)
			}
			if !strings.HasPrefix(got, tt.wantPrefix) {
				t.Errorf("got %q, want prefix %q", got, tt.wantPrefix)
			}
			wantEnd := regexp.MustCompile(`Z-[0-9a-f]{8}` + regexp.QuoteMeta(tt.wantSuffix) + `$`)
			if !wantEnd.MatchString(got) {
				t.Errorf("got %q, want suffix %q", got, tt.wantSuffix)
			}
			if strings.ContainsAny(got, ": ") {
				t.Errorf("got %q, want no ':' or ' '", got)
			}
		})
	}
}

func TestKeysUniqueAtSameInstant(t *testing.T) {
	tests := []struct {
		name string
		keys Keys
	}{
		{"crypto rand", Keys{Host: "h"}},
		// A seeded source makes the check deterministic: 32 random bits
		// collide by chance about once in 10^4 runs of 1000 keys.
		{"seeded rand", Keys{Host: "h", Rand: rand.NewChaCha8([32]byte{1})}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			tt.keys.Now = fixedClock(time.Unix(1_700_000_000, 0))
			n := 1000
			if tt.keys.Rand != nil {
				n = 20000
			}
			seen := make(map[string]bool, n)
			for range n {
				k := tt.keys.Next("jpg")
				if seen[k] {
					t.Fatalf("got duplicate key %q after %d keys, want all unique", k, len(seen))
				}
				seen[k] = true
			}
		})
	}
}

type failingReader struct{}

func (failingReader) Read([]byte) (int, error) { return 0, errors.New("no entropy") }

func TestKeysRandFailureFallsBack(t *testing.T) {
	k := Keys{Host: "h", Rand: failingReader{}}
	if got := k.Next("jpg"); !keyShape.MatchString(got) {
		t.Errorf("got %q, want match for %s", got, keyShape)
	}
}

func TestKeysSortByTime(t *testing.T) {
	base := time.Date(2026, 12, 31, 23, 59, 59, 998_000_000, time.UTC)
	var prev string
	for i := range 5 {
		k := Keys{Host: "h", Now: fixedClock(base.Add(time.Duration(i) * time.Millisecond))}.Next("jpg")
		if prev != "" && k <= prev {
			t.Errorf("got %q <= %q, want keys to sort by time", k, prev)
		}
		prev = k
	}
}

func TestCheckPrefix(t *testing.T) {
	tests := []struct {
		prefix string
		ok     bool
	}{
		{"", true},
		{"images/", true},
		{"images", true},
		{"a/b-c_d.e/", true},
		{"/images/", false},
		{"a//b/", false},
		{"a/../b/", false},
		{"has space/", false},
		{"has:colon/", false},
	}
	for _, tt := range tests {
		t.Run(tt.prefix, func(t *testing.T) {
			err := CheckPrefix(tt.prefix)
			if got := err == nil; got != tt.ok {
				t.Errorf("CheckPrefix(%q) = %v, want ok %v", tt.prefix, err, tt.ok)
			}
		})
	}
}

func TestCheckBucket(t *testing.T) {
	for bucket, ok := range map[string]bool{
		"images-bucket": true, "abc": true, strings.Repeat("a", 63): true,
		"ab": false, strings.Repeat("a", 64): false, "has space": false, "a/b-c": false, "arn:x": false,
	} {
		if err := CheckBucket(bucket); (err == nil) != ok {
			t.Errorf("CheckBucket(%q) = %v, want ok %v", bucket, err, ok)
		}
	}
}
