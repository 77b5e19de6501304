package cycle

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/aws/smithy-go"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"
	"github.com/prometheus/client_golang/prometheus/testutil/promlint"
	dto "github.com/prometheus/client_model/go"

	"github.com/eks-least-privilege/uploader/internal/diagnose"
	"github.com/eks-least-privilege/uploader/internal/fetch"
	"github.com/eks-least-privilege/uploader/internal/upload"
	"github.com/eks-least-privilege/uploader/test/testenv"
)

type fetchFunc func(ctx context.Context) (*fetch.Image, error)

func (f fetchFunc) Fetch(ctx context.Context) (*fetch.Image, error) { return f(ctx) }

type uploadFunc func(ctx context.Context, key string, body io.Reader, size int64, meta upload.Metadata) (upload.Result, error)

func (f uploadFunc) Upload(ctx context.Context, key string, body io.Reader, size int64, meta upload.Metadata) (upload.Result, error) {
	return f(ctx, key, body, size, meta)
}

type credsFunc func(ctx context.Context) (string, error)

func (f credsFunc) Check(ctx context.Context) (string, error) { return f(ctx) }

func okCreds(context.Context) (string, error) { return "", nil }

func fakeImage(body string) *fetch.Image {
	return &fetch.Image{Body: io.NopCloser(strings.NewReader(body)), Size: int64(len(body)), ContentType: "image/png", Ext: "png"}
}

func okFetch(context.Context) (*fetch.Image, error) { return fakeImage("\x89PNG fake"), nil }

func storeAll(_ context.Context, _ string, body io.Reader, _ int64, _ upload.Metadata) (upload.Result, error) {
	n, err := io.Copy(io.Discard, body)
	return upload.Result{Bytes: n}, err
}

func newTestLoop(t *testing.T, f Fetcher, u Uploader) (*Loop, *Metrics, *bytes.Buffer) {
	t.Helper()
	reg := prometheus.NewRegistry()
	m, err := NewMetrics(reg, "test")
	if err != nil {
		t.Fatal(err)
	}
	var logs bytes.Buffer
	var n atomic.Int64
	l, err := New(credsFunc(okCreds), f, u,
		func(ext string) string { return fmt.Sprintf("k/%d.%s", n.Add(1), ext) },
		Timing{Interval: 10 * time.Millisecond, CycleTimeout: 5 * time.Second, ShutdownTimeout: 5 * time.Second},
		m, &Health{start: time.Now(), stale: time.Minute, firstWait: time.Second},
		slog.New(slog.NewJSONHandler(&logs, nil)),
		Options{MaxFailures: 3, Now: time.Now, Jitter: func() float64 { return 0.5 }})
	if err != nil {
		t.Fatal(err)
	}
	return l, m, &logs
}

func TestLoopJobCountsUploads(t *testing.T) {
	l, m, logs := newTestLoop(t, fetchFunc(okFetch), uploadFunc(storeAll))
	l.opts.Count = 3
	if err := l.Run(t.Context()); err != nil {
		t.Fatalf("run: got %v, want nil", err)
	}
	if got, want := testutil.ToFloat64(m.uploads), 3.0; got != want {
		t.Errorf("uploads_total: got %v, want %v", got, want)
	}
	if got, want := testutil.ToFloat64(m.bytes), 3.0*float64(len("\x89PNG fake")); got != want {
		t.Errorf("uploaded_bytes_total: got %v, want %v", got, want)
	}
	if testutil.ToFloat64(m.lastSuccess) == 0 {
		t.Error("last_success_timestamp_seconds: got 0, want set")
	}
	if got := strings.Count(logs.String(), `"msg":"object uploaded"`); got != 3 {
		t.Errorf("upload log lines: got %d, want 3\n%s", got, logs)
	}
}

func TestLoopJobGivesUpAfterConsecutiveFailures(t *testing.T) {
	var calls atomic.Int64
	fail := fetchFunc(func(context.Context) (*fetch.Image, error) {
		calls.Add(1)
		return nil, fmt.Errorf("fetch x: status 503: %w", fetch.ErrStatus)
	})
	l, m, logs := newTestLoop(t, fail, uploadFunc(storeAll))
	l.opts.Count = 5
	err := l.Run(t.Context())
	if !errors.Is(err, ErrTooManyFailures) {
		t.Fatalf("run: got %v, want ErrTooManyFailures", err)
	}
	if got, want := calls.Load(), int64(3); got != want {
		t.Errorf("fetch calls: got %d, want %d", got, want)
	}
	if got := testutil.ToFloat64(m.failures.WithLabelValues(StageFetch, "status")); got != 3 {
		t.Errorf(`failures{fetch,status}: got %v, want 3`, got)
	}
	if !strings.Contains(logs.String(), `"stage":"fetch","reason":"status"`) {
		t.Errorf("failure log lacks stage and reason:\n%s", logs)
	}
}

func TestLoopDeploymentKeepsGoingAfterFailures(t *testing.T) {
	ctx, cancel := context.WithCancel(t.Context())
	defer cancel()
	var calls atomic.Int64
	flaky := fetchFunc(func(ctx context.Context) (*fetch.Image, error) {
		if calls.Add(1) <= 6 {
			return nil, fmt.Errorf("fetch x: %w", fetch.ErrNotImage)
		}
		return okFetch(ctx)
	})
	l, m, _ := newTestLoop(t, flaky, uploadFunc(func(ctx context.Context, k string, b io.Reader, s int64, c upload.Metadata) (upload.Result, error) {
		cancel()
		return storeAll(ctx, k, b, s, c)
	}))
	if err := l.Run(ctx); err != nil {
		t.Fatalf("run: got %v, want nil", err)
	}
	if got := testutil.ToFloat64(m.failures.WithLabelValues(StageValidate, "not_image")); got != 6 {
		t.Errorf("failures{validate,not_image}: got %v, want 6", got)
	}
	if got := testutil.ToFloat64(m.uploads); got != 1 {
		t.Errorf("uploads_total: got %v, want 1", got)
	}
}

func TestBackoff(t *testing.T) {
	l := &Loop{timing: Timing{Interval: 30 * time.Second}, opts: Options{Jitter: func() float64 { return 0.999 }}}
	prev := time.Duration(0)
	for n := 1; n <= 40; n++ {
		d := l.backoff(n)
		if d <= 0 || d > l.timing.Interval {
			t.Fatalf("backoff(%d): got %s, want in (0, %s]", n, d, l.timing.Interval)
		}
		if d < prev {
			t.Fatalf("backoff(%d): got %s, want >= backoff(%d) = %s", n, d, n-1, prev)
		}
		prev = d
	}
	if got := l.backoff(1); got < 500*time.Millisecond {
		t.Errorf("backoff(1): got %s, want >= 500ms: no hot loop", got)
	}
	l.opts.Jitter = func() float64 { return 0 }
	if got, want := l.backoff(40), 15*time.Second; got != want {
		t.Errorf("backoff(40) with no jitter: got %s, want %s", got, want)
	}
}

func TestLoopShutdownLetsUploadFinish(t *testing.T) {
	ctx, cancel := context.WithCancel(t.Context())
	started := make(chan struct{})
	var uploadCtxErr error
	l, m, _ := newTestLoop(t, fetchFunc(okFetch), uploadFunc(func(uctx context.Context, k string, b io.Reader, s int64, c upload.Metadata) (upload.Result, error) {
		close(started)
		time.Sleep(100 * time.Millisecond) // SIGTERM arrives during the upload
		uploadCtxErr = uctx.Err()
		return storeAll(uctx, k, b, s, c)
	}))
	go func() { <-started; cancel() }()
	if err := l.Run(ctx); err != nil {
		t.Fatalf("run: got %v, want nil", err)
	}
	if uploadCtxErr != nil {
		t.Errorf("upload context: got %v, want still live within the shutdown timeout", uploadCtxErr)
	}
	if got := testutil.ToFloat64(m.uploads); got != 1 {
		t.Errorf("uploads_total: got %v, want 1 (the upload in flight finished)", got)
	}
}

func TestLoopShutdownAbortsSlowUpload(t *testing.T) {
	ctx, cancel := context.WithCancel(t.Context())
	l, m, _ := newTestLoop(t, fetchFunc(okFetch), uploadFunc(func(uctx context.Context, _ string, _ io.Reader, _ int64, _ upload.Metadata) (upload.Result, error) {
		cancel()
		<-uctx.Done() // never finishes by itself
		return upload.Result{}, uctx.Err()
	}))
	l.timing.ShutdownTimeout = 50 * time.Millisecond
	done := make(chan error)
	go func() { done <- l.Run(ctx) }()
	testenv.WaitReturn(t, done, 10*time.Second, "run after the shutdown timeout", nil)
	if got := testutil.ToFloat64(m.failures.WithLabelValues(StageUpload, "canceled")); got != 1 {
		t.Errorf("failures{upload,canceled}: got %v, want 1", got)
	}
}

func TestLoopJobStoppedDuringFailingCycleExitsZero(t *testing.T) {
	ctx, cancel := context.WithCancel(t.Context())
	l, _, _ := newTestLoop(t, fetchFunc(okFetch), uploadFunc(func(uctx context.Context, _ string, _ io.Reader, _ int64, _ upload.Metadata) (upload.Result, error) {
		cancel()
		<-uctx.Done()
		return upload.Result{}, uctx.Err()
	}))
	l.opts.Count, l.opts.MaxFailures, l.timing.ShutdownTimeout = 3, 1, 10*time.Millisecond
	if err := l.Run(ctx); err != nil {
		t.Fatalf("run: got %v, want nil: a Job stopped by SIGTERM exits 0", err)
	}
}

// errReader fails after its data, as a cut-off download does.
type errReader struct {
	data string
	err  error
}

func (r *errReader) Read(p []byte) (int, error) {
	if r.data == "" {
		return 0, r.err
	}
	n := copy(p, r.data)
	r.data = r.data[n:]
	return n, nil
}

func TestCycleClassifiesFailures(t *testing.T) {
	apiErr := func(code string) error { return &smithy.GenericAPIError{Code: code, Message: "x"} }
	tests := []struct {
		name          string
		creds         credsFunc
		fetch         fetchFunc
		upload        uploadFunc
		stage, reason string
	}{
		{"credentials", func(context.Context) (string, error) { return "expired", errors.New("expired") }, okFetch, storeAll, StageCredentials, "expired"},
		{"blocked address", okCredsF(), errFetch(fetch.ErrBlockedAddress), storeAll, StageFetch, "blocked_address"},
		{"redirects", okCredsF(), errFetch(fetch.ErrRedirects), storeAll, StageFetch, "redirects"},
		{"empty", okCredsF(), errFetch(fetch.ErrEmpty), storeAll, StageValidate, "empty"},
		{"too large declared", okCredsF(), errFetch(fetch.ErrTooLarge), storeAll, StageValidate, "too_large"},
		{"timeout", okCredsF(), errFetch(context.DeadlineExceeded), storeAll, StageFetch, "timeout"},
		{"network", okCredsF(), errFetch(&net.OpError{Op: "dial", Err: errors.New("refused")}), storeAll, StageFetch, "network"},
		{"truncated mid-upload", okCredsF(), func(context.Context) (*fetch.Image, error) {
			return &fetch.Image{Body: io.NopCloser(&errReader{"\x89PNG", fmt.Errorf("read: %w", fetch.ErrTruncated)}), Size: 100, Ext: "png"}, nil
		}, func(ctx context.Context, k string, b io.Reader, s int64, c upload.Metadata) (upload.Result, error) {
			_, err := io.Copy(io.Discard, b)
			return upload.Result{}, fmt.Errorf("put: %w", &upload.BodyError{Err: err})
		}, StageValidate, "truncated"},
		{"source timeout mid-upload", okCredsF(), okFetch, errUpload(fmt.Errorf("put: %w", &upload.BodyError{Err: context.DeadlineExceeded})), StageFetch, "timeout"},
		{"upload timeout", okCredsF(), okFetch, errUpload(fmt.Errorf("put: %w", context.DeadlineExceeded)), StageUpload, "timeout"},
		{"exists", okCredsF(), okFetch, errUpload(fmt.Errorf("put: %w", upload.ErrExists)), StageUpload, "exists"},
		{"access denied", okCredsF(), okFetch, errUpload(apiErr("AccessDenied")), StageUpload, "denied"},
		{"no such bucket", okCredsF(), okFetch, errUpload(apiErr("NoSuchBucket")), StageUpload, "no_such_bucket"},
		{"other API error", okCredsF(), okFetch, errUpload(apiErr("SlowDown")), StageUpload, "other"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			l, m, _ := newTestLoop(t, tt.fetch, tt.upload)
			l.creds = tt.creds
			if l.cycle(t.Context()) {
				t.Fatal("cycle: got success, want failure")
			}
			if got := testutil.ToFloat64(m.failures.WithLabelValues(tt.stage, tt.reason)); got != 1 {
				t.Errorf("failures{%s,%s}: got %v, want 1", tt.stage, tt.reason, got)
			}
			if got := testutil.ToFloat64(m.uploads); got != 0 {
				t.Errorf("uploads_total: got %v, want 0", got)
			}
		})
	}
}

func okCredsF() credsFunc { return okCreds }

func errFetch(err error) fetchFunc {
	return func(context.Context) (*fetch.Image, error) { return nil, fmt.Errorf("fetch x: %w", err) }
}

func errUpload(err error) uploadFunc {
	return func(context.Context, string, io.Reader, int64, upload.Metadata) (upload.Result, error) {
		return upload.Result{}, err
	}
}

func TestMetricsLint(t *testing.T) {
	reg := prometheus.NewRegistry()
	if _, err := NewMetrics(reg, "test"); err != nil {
		t.Fatal(err)
	}
	problems, err := promlint.NewWithMetricFamilies(mustGather(t, reg)).Lint()
	if err != nil {
		t.Fatal(err)
	}
	for _, p := range problems {
		t.Errorf("promlint: %s: %s", p.Metric, p.Text)
	}
}

func mustGather(t *testing.T, reg *prometheus.Registry) []*dto.MetricFamily {
	t.Helper()
	mfs, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	return mfs
}

func TestHealth(t *testing.T) {
	start := time.Unix(1000, 0)
	h := &Health{start: start, stale: time.Minute, firstWait: 30 * time.Second}
	h.beat(start)
	if !h.Alive(start.Add(59 * time.Second)) {
		t.Error("alive within stale: got false, want true")
	}
	if h.Alive(start.Add(61 * time.Second)) {
		t.Error("alive after stale: got true, want false")
	}
	if h.Ready(start) {
		t.Error("ready before credentials: got true, want false")
	}
	h.credsOK.Store(true)
	if !h.Ready(start.Add(10 * time.Second)) {
		t.Error("ready within first interval: got false, want true")
	}
	if h.Ready(start.Add(40 * time.Second)) {
		t.Error("ready after first interval with no success: got true, want false")
	}
	h.lastOK.Store(true)
	if !h.Ready(start.Add(40 * time.Second)) {
		t.Error("ready after a success: got false, want true")
	}
	h.stopped.Store(true)
	if h.Alive(start) {
		t.Error("alive after the loop stopped: got true, want false")
	}
}

// TestNewRefusesMissingDependencies: every required dependency and timing
// is named when missing, all at once; the Explainer fits the diagnose one.
func TestNewRefusesMissingDependencies(t *testing.T) {
	var _ Explainer = (*diagnose.Explainer)(nil)
	_, err := New(nil, nil, nil, nil, Timing{ShutdownTimeout: -1}, nil, nil, nil, Options{})
	if err == nil {
		t.Fatal("got nil, want an error")
	}
	for _, want := range []string{"credential gate", "fetcher", "uploader", "keys", "metrics", "health", "logger", "timing"} {
		if !strings.Contains(err.Error(), want+":") {
			t.Errorf("got %q, want it to name %s", err, want)
		}
	}
}
