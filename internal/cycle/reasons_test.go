package cycle

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"slices"
	"testing"
	"time"

	"github.com/aws/smithy-go"
	dto "github.com/prometheus/client_model/go"

	"github.com/eks-least-privilege/uploader/internal/creds"
	"github.com/eks-least-privilege/uploader/internal/fetch"
	"github.com/eks-least-privilege/uploader/internal/upload"
)

// A classifier never returns a reason outside the set its package exports,
// so every counted failure has a series initialised to zero.
func TestClassifiersStayInTheirSets(t *testing.T) {
	errs := []error{
		errors.New("x"), context.Canceled, context.DeadlineExceeded,
		&net.OpError{Op: "dial", Err: errors.New("refused")},
		fetch.ErrNotImage, fetch.ErrEmpty, fetch.ErrTooLarge, fetch.ErrTruncated,
		fetch.ErrStatus, fetch.ErrBlockedAddress, fetch.ErrRedirects, upload.ErrExists,
		&upload.BodyError{Err: fetch.ErrTruncated}, &creds.Error{Reason: creds.ReasonExpired, Err: errors.New("x")},
	}
	for _, code := range []string{"AccessDenied", "InvalidTokenId", "NoSuchBucket", "NoSuchUpload", "SlowDown", "ServiceUnavailable", "ExpiredToken", "Whatever"} {
		errs = append(errs, &smithy.GenericAPIError{Code: code})
	}
	for _, err := range errs {
		err = fmt.Errorf("wrapped: %w", err)
		if stage, r := fetch.Reason(err); !slices.Contains(Reasons[stage], r) {
			t.Errorf("fetch.Reason(%v) = %s/%s, not in the stage's set", err, stage, r)
		}
		if r := upload.Reason(err); !slices.Contains(Reasons[StageUpload], r) {
			t.Errorf("upload.Reason(%v) = %s, not in the set", err, r)
		}
		if r := creds.Reason(err); !slices.Contains(Reasons[StageCredentials], r) {
			t.Errorf("creds.Reason(%v) = %s, not in the set", err, r)
		}
		if r := upload.AbortReason(err); !slices.Contains(upload.AbortReasons, r) {
			t.Errorf("upload.AbortReason(%v) = %s, not in the set", err, r)
		}
		for _, shutdown := range []bool{false, true} {
			ctx, cancel := context.WithCancel(context.Background())
			if shutdown {
				cancel()
			}
			if stage, r := uploadReason(ctx, err); !slices.Contains(Reasons[stage], r) {
				t.Errorf("uploadReason(%v) = %s/%s, not in the stage's set", err, stage, r)
			}
			cancel()
		}
	}
}

// When UPLOAD_TIMEOUT, the cycle's deadline, ends a body that is still
// streaming into S3, the cycle deadline is the reason, not the source.
func TestCycleDeadlineWhileBodyStreams(t *testing.T) {
	blocking := fetchFunc(func(ctx context.Context) (*fetch.Image, error) {
		return &fetch.Image{Body: io.NopCloser(ctxReader{ctx}), Size: -1, Ext: "png", ContentType: "image/png"}, nil
	})
	streamAll := uploadFunc(func(_ context.Context, _ string, b io.Reader, _ int64, _ upload.Metadata) (upload.Result, error) {
		_, err := io.Copy(io.Discard, b)
		return upload.Result{}, fmt.Errorf("put: %w", &upload.BodyError{Err: err})
	})
	l, m, _ := newTestLoop(t, blocking, streamAll)
	l.timing.CycleTimeout = 50 * time.Millisecond
	if l.cycle(t.Context()) {
		t.Fatal("cycle: got success, want failure")
	}
	if got := m.failures.WithLabelValues(StageUpload, ReasonCycleTimeout); counterValue(t, got) != 1 {
		t.Errorf("failures{upload,cycle_timeout}: got %v, want 1", counterValue(t, got))
	}
	if got := m.failures.WithLabelValues(StageFetch, "timeout"); counterValue(t, got) != 0 {
		t.Errorf("failures{fetch,timeout}: got %v, want 0", counterValue(t, got))
	}
}

// ctxReader blocks until its context ends, then fails with its error, as a
// download does whose request context expired.
type ctxReader struct{ ctx context.Context }

func (r ctxReader) Read([]byte) (int, error) {
	<-r.ctx.Done()
	return 0, r.ctx.Err()
}

func TestHealthWindowDoesNotOverflow(t *testing.T) {
	start := time.Now()
	h := NewHealth(start, 2562047*time.Hour, time.Hour)
	if !h.Alive(start.Add(time.Hour)) {
		t.Error("alive an hour after start with the longest interval: got false, want true")
	}
}

func counterValue(t *testing.T, c interface{ Write(*dto.Metric) error }) float64 {
	t.Helper()
	var m dto.Metric
	if err := c.Write(&m); err != nil {
		t.Fatal(err)
	}
	return m.GetCounter().GetValue()
}
