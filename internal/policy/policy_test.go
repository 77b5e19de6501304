package policy_test

import (
	"encoding/json"
	"slices"
	"testing"

	"github.com/eks-least-privilege/uploader/internal/policy"
)

func TestIdentity(t *testing.T) {
	tests := []struct {
		name, bucket, prefix string
		wantResource         string
	}{
		{"prefix", "my-bucket", "images/", "arn:aws:s3:::my-bucket/images/*"},
		{"no prefix", "my-bucket", "", "arn:aws:s3:::my-bucket/*"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			doc, err := policy.Identity(tt.bucket, tt.prefix)
			if err != nil {
				t.Fatal(err)
			}
			var p struct {
				Version   string
				Statement []struct {
					Effect   string
					Action   any
					Resource any
				}
			}
			if err := json.Unmarshal(doc, &p); err != nil {
				t.Fatalf("not JSON: %v\n%s", err, doc)
			}
			if p.Version != "2012-10-17" || len(p.Statement) != 1 {
				t.Fatalf("got version %q with %d statements, want 2012-10-17 with 1", p.Version, len(p.Statement))
			}
			s := p.Statement[0]
			if s.Effect != "Allow" || s.Action != "s3:PutObject" || s.Resource != tt.wantResource {
				t.Errorf("got %s %v on %v, want Allow s3:PutObject on %s", s.Effect, s.Action, s.Resource, tt.wantResource)
			}
		})
	}
}

func TestIdentityRejectsBadInput(t *testing.T) {
	for name, in := range map[string][2]string{
		"empty bucket":      {"", "images/"},
		"quote in bucket":   {`b"`, ""},
		"wildcard prefix":   {"bucket", "a*"},
		"newline in prefix": {"bucket", "a\n"},
		"placeholder":       {"bucket", "{{BUCKET}}"},
	} {
		t.Run(name, func(t *testing.T) {
			doc, err := policy.Identity(in[0], in[1])
			if err == nil {
				t.Errorf("got %s, want an error", doc)
			}
		})
	}
	// The error names what is wrong.
	_, err := policy.Identity("", "")
	if err == nil || !slices.Contains([]string{"render policy: bucket: required, empty"}, err.Error()) {
		t.Errorf("got %v, want the empty bucket named", err)
	}
}
