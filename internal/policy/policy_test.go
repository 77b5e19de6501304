package policy_test

import (
	"slices"
	"strings"
	"testing"

	"github.com/eks-least-privilege/uploader/internal/policy"
	"github.com/eks-least-privilege/uploader/test/iamsim"
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
			s := iamsim.OneAllow(t, doc)
			if !slices.Equal(s.Action, iamsim.Strings{"s3:PutObject"}) || !slices.Equal(s.Resource, iamsim.Strings{tt.wantResource}) {
				t.Errorf("got %v on %v, want s3:PutObject on %s", s.Action, s.Resource, tt.wantResource)
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

func TestKeyARN(t *testing.T) {
	tests := []struct {
		name, key, want, wantErr string
	}{
		{"key arn", "arn:aws:kms:eu-west-1:444455556666:key/1234abcd-12ab-34cd-56ef-1234567890ab", "arn:aws:kms:eu-west-1:444455556666:key/1234abcd-12ab-34cd-56ef-1234567890ab", ""},
		{"key id in the caller's account", "1234abcd-12ab-34cd-56ef-1234567890ab", "arn:aws:kms:eu-west-1:111122223333:key/1234abcd-12ab-34cd-56ef-1234567890ab", ""},
		{"multi-region key id", "mrk-1234abcd12ab34cd56ef1234567890ab", "arn:aws:kms:eu-west-1:111122223333:key/mrk-1234abcd12ab34cd56ef1234567890ab", ""},
		{"alias name", "alias/images", "", "not an alias"},
		{"alias arn", "arn:aws:kms:eu-west-1:111122223333:alias/images", "", "by its key ARN"},
		{"another service's arn", "arn:aws:s3:::bucket", "", "by its key ARN"},
		{"empty", "", "", "required"},
		{"wildcard", "arn:aws:kms:eu-west-1:111122223333:key/*", "", "not allowed"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := policy.KeyARN(tt.key, "eu-west-1", "111122223333")
			if tt.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
					t.Errorf("got %q, %v; want an error containing %q", got, err, tt.wantErr)
				}
				return
			}
			if err != nil || got != tt.want {
				t.Errorf("got %q, %v; want %q", got, err, tt.want)
			}
		})
	}
	if _, err := policy.KeyARN("1234abcd", "", ""); err == nil || !strings.Contains(err.Error(), "region") || !strings.Contains(err.Error(), "account") {
		t.Errorf("key id without region and account: got %v, want both named", err)
	}
}
