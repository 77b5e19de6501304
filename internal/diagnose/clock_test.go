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
	"github.com/aws/aws-sdk-go-v2/service/s3"
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
				date = responseDate(out.ResultMetadata)
				if date.IsZero() {
					t.Fatal("no response date in the result metadata")
				}
			}
			wantNames(t, clock(err, date, now), tt.want, tt.contains...)
		})
	}
	sts := errors.New("x")
	if got := clock(sts, time.Time{}, now); got != nil {
		t.Errorf("plain error: got %v, want nil", got)
	}
}
