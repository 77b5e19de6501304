package creds

import (
	"bytes"
	"context"
	"encoding/json"
	"log/slog"
	"net"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/eks-least-privilege/uploader/test/testenv"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"
)

// failAfter returns its credentials once, then err.
type failAfter struct {
	mu    sync.Mutex // guards calls
	calls int
	creds aws.Credentials
	err   error
}

func (f *failAfter) Retrieve(context.Context) (aws.Credentials, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.calls++
	if f.calls > 1 {
		return aws.Credentials{Source: f.creds.Source}, f.err
	}
	return f.creds, nil
}

// TestWatcherExpiryAndFailingRefresh: the expiry gauge follows the
// credentials, a failed refresh while they still work is a warning with the
// time left, and the Explain hook sees both events.
func TestWatcherExpiryAndFailingRefresh(t *testing.T) {
	now := time.Now()
	expires := now.Add(4 * time.Minute).Truncate(time.Second)
	p := &failAfter{
		creds: aws.Credentials{AccessKeyID: "ASIAEXAMPLE0000001", SecretAccessKey: canary + "-secret", SessionToken: canary + "-token",
			Source: "WebIdentityCredentials", CanExpire: true, Expires: expires},
		err: &net.OpError{Op: "dial", Net: "tcp", Err: syscall.ECONNREFUSED},
	}
	var logs bytes.Buffer
	reg := prometheus.NewRegistry()
	w, err := NewWatcher(stsConfig(newSTS(t, nil), p), slog.New(slog.NewJSONHandler(&logs, nil)), reg)
	if err != nil {
		t.Fatal(err)
	}
	w.now = func() time.Time { return now }
	var events []Event
	w.Explain(func(_ context.Context, ev Event) []slog.Attr {
		events = append(events, ev)
		return []slog.Attr{slog.Any("diagnoses", []string{"explained"})}
	})
	if _, err := w.Check(context.Background()); err != nil {
		t.Fatal(err)
	}
	if got := testutil.ToFloat64(w.expiry); got != float64(expires.Unix()) {
		t.Errorf("expiry gauge: got %v, want %d", got, expires.Unix())
	}
	if _, err := w.Check(context.Background()); err == nil {
		t.Fatal("second check: want the refresh error")
	}
	if len(events) != 2 || events[0].Err != nil || events[1].Err == nil || events[1].Last == nil || events[1].Last.Expires != expires {
		t.Fatalf("events: got %+v, want a success then a failure with the last identity", events)
	}
	var warn map[string]any
	for _, line := range strings.Split(strings.TrimSpace(logs.String()), "\n") {
		var m map[string]any
		if err := json.Unmarshal([]byte(line), &m); err != nil {
			t.Fatal(err)
		}
		if m["msg"] == "aws credentials resolved" && m["diagnoses"] == nil {
			t.Errorf("resolved line without the hook's attributes: %s", line)
		}
		if m["msg"] == "aws credentials refresh failing" {
			warn = m
		}
	}
	if warn == nil || warn["level"] != "WARN" || warn["remaining_seconds"].(float64) < 200 || warn["reason"] != ReasonEndpointUnreachable || warn["diagnoses"] == nil {
		t.Errorf("refresh warning: got %v, want a WARN with about 240s left, reason endpoint_unreachable and the diagnoses\n%s", warn, logs.String())
	}
	testenv.NoSecrets(t, logs.String(), canary)
}
