package privilege

import (
	"bytes"
	"context"
	"errors"
	"io"
	"log/slog"
	"net"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/aws/smithy-go"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"
	"github.com/prometheus/client_golang/prometheus/testutil/promlint"

	"github.com/eks-least-privilege/uploader/test/miniotest"
	"github.com/eks-least-privilege/uploader/test/testenv"
)

var _ API = (*s3.Client)(nil)

// fakeS3 answers each probe with the configured error (nil: allowed).
type fakeS3 struct {
	put, get, list, del error
	// The wider probes: ListBuckets, GetBucketPolicy, GetBucketAcl,
	// PutObjectAcl, and a put outside images/.
	buckets, policy, acl, putACL, outside error
	keys                                  []string // keys passed to each call, in order
}

func (f *fakeS3) PutObject(_ context.Context, in *s3.PutObjectInput, _ ...func(*s3.Options)) (*s3.PutObjectOutput, error) {
	f.keys = append(f.keys, "put "+*in.Key+" if-none-match "+*in.IfNoneMatch)
	if !strings.HasPrefix(*in.Key, "images/") {
		return &s3.PutObjectOutput{}, f.outside
	}
	return &s3.PutObjectOutput{}, f.put
}

func (f *fakeS3) ListBuckets(context.Context, *s3.ListBucketsInput, ...func(*s3.Options)) (*s3.ListBucketsOutput, error) {
	f.keys = append(f.keys, "list buckets")
	return &s3.ListBucketsOutput{}, f.buckets
}

func (f *fakeS3) GetBucketPolicy(_ context.Context, in *s3.GetBucketPolicyInput, _ ...func(*s3.Options)) (*s3.GetBucketPolicyOutput, error) {
	f.keys = append(f.keys, "get policy "+*in.Bucket)
	return &s3.GetBucketPolicyOutput{}, f.policy
}

func (f *fakeS3) GetBucketAcl(_ context.Context, in *s3.GetBucketAclInput, _ ...func(*s3.Options)) (*s3.GetBucketAclOutput, error) {
	f.keys = append(f.keys, "get acl "+*in.Bucket)
	return &s3.GetBucketAclOutput{}, f.acl
}

func (f *fakeS3) PutObjectAcl(_ context.Context, in *s3.PutObjectAclInput, _ ...func(*s3.Options)) (*s3.PutObjectAclOutput, error) {
	f.keys = append(f.keys, "put acl "+*in.Key+" "+string(in.ACL))
	return &s3.PutObjectAclOutput{}, f.putACL
}

func (f *fakeS3) GetObject(_ context.Context, in *s3.GetObjectInput, _ ...func(*s3.Options)) (*s3.GetObjectOutput, error) {
	f.keys = append(f.keys, "get "+*in.Key)
	if f.get != nil {
		return nil, f.get
	}
	return &s3.GetObjectOutput{Body: io.NopCloser(strings.NewReader("x"))}, nil
}

func (f *fakeS3) ListObjectsV2(_ context.Context, in *s3.ListObjectsV2Input, _ ...func(*s3.Options)) (*s3.ListObjectsV2Output, error) {
	f.keys = append(f.keys, "list "+*in.Prefix)
	return &s3.ListObjectsV2Output{}, f.list
}

func (f *fakeS3) DeleteObject(_ context.Context, in *s3.DeleteObjectInput, _ ...func(*s3.Options)) (*s3.DeleteObjectOutput, error) {
	f.keys = append(f.keys, "delete "+*in.Key)
	return &s3.DeleteObjectOutput{}, f.del
}

func TestCheckOutcomes(t *testing.T) {
	denied := &smithy.GenericAPIError{Code: "AccessDenied", Message: "Access Denied."}
	network := &net.OpError{Op: "dial", Net: "tcp", Err: errors.New("connection refused")}
	// everyProbe is the calls of a check that probes all it may, in order.
	everyProbe := []string{
		"put images/.least-privilege-check/0102030405060708.txt if-none-match *",
		"get images/.least-privilege-check/0102030405060708.txt",
		"list images/",
		"delete images/.least-privilege-check/absent-0102030405060708",
		"list buckets",
		"get policy b",
		"get acl b",
		"put acl images/.least-privilege-check/0102030405060708.txt private",
		"put .least-privilege-check-outside-prefix/0102030405060708.txt if-none-match *",
	}
	d := func(f fakeS3) fakeS3 { // the wider probes denied
		f.buckets, f.policy, f.acl, f.putACL, f.outside = denied, denied, denied, denied, denied
		return f
	}
	tests := []struct {
		name      string
		fake      fakeS3
		want      []Outcome // put, get, list, delete, then list buckets, get policy, get acl, put acl, put outside
		wantVerd  Verdict
		wantInc   bool // inconclusive: a probe errored
		wantErr   bool
		wantLeft  bool
		wantCalls []string
		// wantOutside is the object the put outside the prefix left.
		wantOutside string
	}{
		{
			name: "least privilege", fake: d(fakeS3{get: denied, list: denied, del: denied}),
			want: []Outcome{Allowed, Denied, Denied, Denied, Denied, Denied, Denied, Denied, Denied}, wantVerd: LeastPrivilege, wantLeft: true,
			wantCalls: everyProbe,
		},
		{
			name: "root", fake: fakeS3{policy: &smithy.GenericAPIError{Code: "NoSuchBucketPolicy"}},
			want: []Outcome{Allowed, Allowed, Allowed, Allowed, Allowed, Allowed, Allowed, Allowed, Allowed}, wantVerd: OverPrivileged,
			wantOutside: ".least-privilege-check-outside-prefix/0102030405060708.txt",
			wantCalls:   append(slices.Clone(everyProbe), "delete images/.least-privilege-check/0102030405060708.txt"),
		},
		{
			name: "read only", fake: d(fakeS3{put: denied, del: denied}),
			want: []Outcome{Denied, NotProbed, Allowed, Denied, Denied, Denied, Denied, NotProbed, Denied}, wantVerd: PutDenied,
		},
		{
			name: "bare 403 is denied", fake: d(fakeS3{put: denied, list: &smithyhttpStatus{403}, del: denied}),
			want: []Outcome{Denied, NotProbed, Denied, Denied, Denied, Denied, Denied, NotProbed, Denied}, wantVerd: PutDenied,
		},
		{
			name: "invalid key is an error, not a denial", fake: d(fakeS3{put: &smithy.GenericAPIError{Code: "InvalidAccessKeyId"}, list: denied, del: denied}),
			want: []Outcome{Errored, NotProbed, Denied, Denied, Denied, Denied, Denied, NotProbed, Denied}, wantVerd: LeastPrivilege, wantInc: true, wantErr: true,
		},
		{
			name: "list unreachable", fake: d(fakeS3{get: denied, list: network, del: denied}),
			want: []Outcome{Allowed, Denied, Errored, Denied, Denied, Denied, Denied, Denied, Denied}, wantVerd: LeastPrivilege, wantInc: true, wantErr: true, wantLeft: true,
		},
		{
			name: "over-privileged despite an error", fake: d(fakeS3{get: nil, list: network, del: denied}),
			want: []Outcome{Allowed, Allowed, Errored, Denied, Denied, Denied, Denied, Denied, Denied}, wantVerd: OverPrivileged, wantInc: true, wantErr: true, wantLeft: true,
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r, err := Check(context.Background(), &tt.fake, "b", "images/", Options{Rand: bytes.NewReader([]byte{1, 2, 3, 4, 5, 6, 7, 8})})
			if (err != nil) != tt.wantErr {
				t.Errorf("error: got %v, want error %v", err, tt.wantErr)
			}
			var got []Outcome
			for _, row := range r.Rows {
				got = append(got, row.Observed)
			}
			if !slices.Equal(got, tt.want) {
				t.Errorf("outcomes: got %q, want %q", got, tt.want)
			}
			if r.Verdict() != tt.wantVerd || r.Inconclusive() != tt.wantInc {
				t.Errorf("verdict: got %v (inconclusive %v), want %v (inconclusive %v)", r.Verdict(), r.Inconclusive(), tt.wantVerd, tt.wantInc)
			}
			if r.LeftObject != tt.wantLeft {
				t.Errorf("left object: got %v, want %v", r.LeftObject, tt.wantLeft)
			}
			if r.OutsideKey != tt.wantOutside {
				t.Errorf("outside key: got %q, want %q", r.OutsideKey, tt.wantOutside)
			}
			if tt.wantCalls != nil && !slices.Equal(tt.fake.keys, tt.wantCalls) {
				t.Errorf("calls: got %q, want %q", tt.fake.keys, tt.wantCalls)
			}
		})
	}
}

// smithyhttpStatus is an error with only an HTTP status, as S3 gives for
// responses without an error body.
type smithyhttpStatus struct{ code int }

func (e *smithyhttpStatus) Error() string       { return "http status" }
func (e *smithyhttpStatus) HTTPStatusCode() int { return e.code }

func TestCheckMetric(t *testing.T) {
	ok := Report{Rows: []Row{{Action: ActionPutObject, Expected: Allowed, Observed: Allowed}}}
	over := Report{Rows: []Row{{Action: ActionPutObject, Expected: Allowed, Observed: Allowed}, {Action: ActionGetObject, Expected: Denied, Observed: Allowed}}}
	tests := []struct {
		name string
		r    Report
		err  error
		want float64
	}{
		{"ok", ok, nil, 1},
		{"over-privileged", over, nil, 0},
		{"error", ok, errors.New("x"), 0},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			m, err := NewCheckMetric(prometheus.NewRegistry())
			if err != nil {
				t.Fatal(err)
			}
			m.Set(tt.r, tt.err)
			if got := testutil.ToFloat64(m.ok); got != tt.want {
				t.Errorf("got %v, want %v", got, tt.want)
			}
		})
	}
}

func TestCheckMinIO(t *testing.T) {
	testenv.IsolateAWSEnv(t)
	srv := miniotest.Start(t)
	bucket := srv.Bucket(t)

	putKey, putSecret := srv.PutOnlyUser(t, bucket, "images/", "putonly")
	// The policy copies once granted bucket/* instead of bucket/prefix*.
	wideKey, wideSecret := srv.PutOnlyUser(t, bucket, "", "putanywhere")
	noneKey, noneSecret := "nopolicy"+testenv.RandomHex(4), testenv.RandomHex(16)
	srv.Admin(t, "admin", "user", "add", "t", noneKey, noneSecret)
	readKey, readSecret := "readonly"+testenv.RandomHex(4), testenv.RandomHex(16)
	srv.Admin(t, "admin", "user", "add", "t", readKey, readSecret)
	// MinIO's built-in readonly lacks s3:ListBucket; this one has it.
	readPolicy := testenv.WriteFile(t, "read.json", `{"Version":"2012-10-17","Statement":[`+
		`{"Effect":"Allow","Action":["s3:ListBucket"],"Resource":["arn:aws:s3:::`+bucket+`"]},`+
		`{"Effect":"Allow","Action":["s3:GetObject"],"Resource":["arn:aws:s3:::`+bucket+`/*"]}]}`)
	srv.Admin(t, "admin", "policy", "create", "t", "readlist", readPolicy)
	srv.Admin(t, "admin", "policy", "attach", "t", "readlist", "--user", readKey)
	// MinIO can answer before its IAM data has the binding: read it back.
	deadline := time.Now().Add(30 * time.Second)
	for !strings.Contains(srv.Admin(t, "admin", "user", "info", "t", readKey), "readlist") {
		if time.Now().After(deadline) {
			t.Fatalf("user %s not bound to readlist after 30s", readKey)
		}
		time.Sleep(200 * time.Millisecond)
	}

	tests := []struct {
		name     string
		client   *s3.Client
		want     []Outcome
		wantVerd Verdict
		wantLeft bool
		// wantOutside: the put outside the prefix was allowed and its object stays.
		wantOutside bool
	}{
		{name: "root", client: srv.Client(t), want: []Outcome{Allowed, Allowed, Allowed, Allowed, Allowed, Allowed, Allowed, Allowed, Allowed},
			wantVerd: OverPrivileged, wantOutside: true},
		{name: "put only", client: srv.UserClient(putKey, putSecret),
			want: []Outcome{Allowed, Denied, Denied, Denied, Denied, Denied, Denied, Denied, Denied}, wantVerd: LeastPrivilege, wantLeft: true},
		{name: "put anywhere in the bucket", client: srv.UserClient(wideKey, wideSecret),
			want: []Outcome{Allowed, Denied, Denied, Denied, Denied, Denied, Denied, Denied, Allowed}, wantVerd: OverPrivileged, wantLeft: true, wantOutside: true},
		{name: "no policy", client: srv.UserClient(noneKey, noneSecret),
			want: []Outcome{Denied, NotProbed, Denied, Denied, Denied, Denied, Denied, NotProbed, Denied}, wantVerd: PutDenied},
		{name: "read only", client: srv.UserClient(readKey, readSecret),
			// MinIO lists the buckets an identity may list: see minioNote.
			want: []Outcome{Denied, NotProbed, Allowed, Denied, Allowed, Denied, Denied, NotProbed, Denied}, wantVerd: PutDenied},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			before := srv.Keys(t, bucket)
			r, err := Check(context.Background(), tt.client, bucket, "images/", Options{})
			if err != nil {
				t.Fatalf("check: %v", err)
			}
			// Nothing but the check's own objects changed.
			var added []string
			for _, k := range srv.Keys(t, bucket) {
				if !slices.Contains(before, k) {
					added = append(added, k)
				}
			}
			for _, k := range added {
				if k != r.Key && k != r.OutsideKey {
					t.Errorf("the check wrote %q, neither its check object nor its outside-prefix object", k)
				}
			}
			if len(before)+len(added) < len(srv.Keys(t, bucket)) || (r.OutsideKey != "") != tt.wantOutside ||
				(tt.wantOutside && !slices.Contains(added, r.OutsideKey)) {
				t.Errorf("outside key %q (want one: %v), added %q", r.OutsideKey, tt.wantOutside, added)
			}
			for _, row := range r.Rows {
				if (row.Action == ActionGetBucketAcl || row.Action == ActionPutObjectAcl) && row.Observed != NotProbed &&
					!strings.Contains(row.Detail, "MinIO has no ACLs") {
					t.Errorf("%s: detail %q does not say that MinIO answers it with a bucket policy permission", row.Action, row.Detail)
				}
			}
			var got []Outcome
			for _, row := range r.Rows {
				got = append(got, row.Observed)
			}
			if !slices.Equal(got, tt.want) || r.Verdict() != tt.wantVerd || r.Inconclusive() {
				t.Errorf("got %q %v (inconclusive %v), want %q %v\n%+v", got, r.Verdict(), r.Inconclusive(), tt.want, tt.wantVerd, r.Rows)
			}
			if r.LeftObject != tt.wantLeft {
				t.Errorf("left object: got %v, want %v", r.LeftObject, tt.wantLeft)
			}
			if keys := srv.Keys(t, bucket); tt.wantLeft != slices.Contains(keys, r.Key) {
				t.Errorf("keys in bucket: got %q, want check object %q present %v", keys, r.Key, tt.wantLeft)
			}
		})
	}
}

func TestCheckMetricLint(t *testing.T) {
	reg := prometheus.NewRegistry()
	m, err := NewCheckMetric(reg)
	if err != nil {
		t.Fatal(err)
	}
	m.Set(Report{}, nil)
	mfs, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	problems, err := promlint.NewWithMetricFamilies(mfs).Lint()
	if err != nil {
		t.Fatal(err)
	}
	for _, p := range problems {
		t.Errorf("promlint: %s: %s", p.Metric, p.Text)
	}
}

// Logs show a verdict by name, never as a number.
func TestVerdictLogsByName(t *testing.T) {
	var out strings.Builder
	slog.New(slog.NewJSONHandler(&out, nil)).Info("x", "verdict", OverPrivileged)
	if !strings.Contains(out.String(), `"verdict":"over_privileged"`) {
		t.Errorf("got %s, want the verdict's name", out.String())
	}
	out.Reset()
	slog.New(slog.NewTextHandler(&out, nil)).Info("x", "verdict", LeastPrivilege)
	if !strings.Contains(out.String(), "verdict=least_privilege") {
		t.Errorf("got %s, want the verdict's name", out.String())
	}
}
