package diagnose

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/credentials/endpointcreds"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/eks-least-privilege/uploader/internal/creds"
)

// s3Answer returns an S3 client whose every request gets status with an S3
// error document (code and message; none when code is empty) and the given
// Date header, and the error or metadata of a PutObject through it.
func s3Answer(t *testing.T, status int, code, message string, date time.Time) (*s3.PutObjectOutput, error) {
	t.Helper()
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Date", date.UTC().Format(http.TimeFormat))
		if code == "" {
			w.WriteHeader(status)
			return
		}
		w.Header().Set("Content-Type", "application/xml")
		w.WriteHeader(status)
		fmt.Fprintf(w, `<?xml version="1.0" encoding="UTF-8"?><Error><Code>%s</Code><Message>%s</Message></Error>`, code, message)
	}))
	t.Cleanup(srv.Close)
	client := s3.New(s3.Options{
		BaseEndpoint: aws.String(srv.URL), Region: "us-east-1", UsePathStyle: true, RetryMaxAttempts: 1,
		Credentials: credentials.NewStaticCredentialsProvider("AKIAEXAMPLE0000001", "canary-secret", ""),
	})
	return client.PutObject(context.Background(), &s3.PutObjectInput{Bucket: aws.String("b"), Key: aws.String("k"), Body: strings.NewReader("x")})
}

func TestClock(t *testing.T) {
	now := time.Now().UTC().Truncate(time.Second)
	tests := []struct {
		name     string
		status   int
		code     string
		date     time.Time
		want     []Name
		contains []string
	}{
		{name: "in time", status: 200, date: now},
		{name: "refused as skewed", status: 403, code: "RequestTimeTooSkewed", date: now.Add(-20 * time.Minute),
			want: []Name{ClockSkew}, contains: []string{"RequestTimeTooSkewed", "the local clock is 20m0s ahead of the service's", "chrony"}},
		{name: "date far behind local", status: 200, date: now.Add(7 * time.Minute),
			want: []Name{ClockSkew}, contains: []string{"7m0s behind the service's"}},
		{name: "other error, date close", status: 403, code: "AccessDenied", date: now.Add(time.Minute)},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			out, err := s3Answer(t, tt.status, tt.code, "m", tt.date)
			var date time.Time
			if err == nil {
				date = ResponseDate(out.ResultMetadata)
				if date.IsZero() {
					t.Fatal("no response date in the result metadata")
				}
			}
			wantNames(t, Clock(err, date, now), tt.want, tt.contains...)
		})
	}
	sts := errors.New("x")
	if got := Clock(sts, time.Time{}, now); got != nil {
		t.Errorf("plain error: got %v, want nil", got)
	}
}

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
			wantNames(t, Checksum(err), tt.want, contains...)
		})
	}
}

func TestPodIdentityAgent(t *testing.T) {
	hang := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { <-r.Context().Done() }))
	t.Cleanup(hang.Close)
	refusing := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.WriteHeader(http.StatusForbidden)
		fmt.Fprint(w, `{"code":"AccessDeniedException","message":"Service account token is not valid"}`)
	}))
	t.Cleanup(refusing.Close)
	tests := []struct {
		name     string
		url      string
		mode     creds.Mode
		want     []Name
		contains []string
	}{
		{name: "connection refused", url: closedURL(t) + "/v1/credentials", mode: creds.ModePodIdentity,
			want: []Name{PodIdentityAgentUnreachable}, contains: []string{"connection refused", "NetworkPolicy", "169.254.170.23:80"}},
		{name: "timeout", url: hang.URL + "/v1/credentials", mode: creds.ModePodIdentity,
			want: []Name{PodIdentityAgentUnreachable}, contains: []string{"no answer (timeout)", strings.TrimPrefix(hang.URL, "http://")}},
		{name: "agent answers 403", url: refusing.URL + "/v1/credentials", mode: creds.ModePodIdentity},
		{name: "ecs endpoint refused", url: closedURL(t), mode: creds.ModeECS},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p := endpointcreds.New(tt.url, func(o *endpointcreds.Options) {
				o.AuthorizationToken = "canary-token"
				o.Retryer = aws.NopRetryer{}
			})
			ctx, cancel := context.WithTimeout(context.Background(), 300*time.Millisecond)
			defer cancel()
			_, err := p.Retrieve(ctx)
			if err == nil {
				t.Fatal("want an error")
			}
			got := PodIdentityAgent(err, tt.mode, envOf(map[string]string{EnvContainerFullURI: tt.url}))
			wantNames(t, got, tt.want, tt.contains...)
		})
	}
}

func TestRefresh(t *testing.T) {
	now := time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)
	failed := &creds.Error{Mode: creds.ModeIRSA, Reason: creds.ReasonEndpointUnreachable, Err: errors.New("dial tcp: i/o timeout")}
	tests := []struct {
		name     string
		err      error
		last     creds.Identity
		want     []Name
		contains []string
	}{
		{name: "refresh worked", last: creds.Identity{Mode: creds.ModeIRSA, CanExpire: true, Expires: now.Add(time.Minute)}},
		{name: "refresh failing, still valid", err: failed, last: creds.Identity{Mode: creds.ModeIRSA, CanExpire: true, Expires: now.Add(4*time.Minute + 10*time.Second)},
			want: []Name{CredentialsRefreshFailing}, contains: []string{"refreshing the irsa credentials failed (endpoint_unreachable)", "until 2026-03-01T12:04:10Z (4m10s left)", "trust policy"}},
		{name: "already expired", err: failed, last: creds.Identity{Mode: creds.ModeIRSA, CanExpire: true, Expires: now.Add(-time.Second)}},
		{name: "static keys never expire", err: failed, last: creds.Identity{Mode: creds.ModeStatic}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			wantNames(t, Refresh(tt.err, tt.last, now), tt.want, tt.contains...)
		})
	}
}
