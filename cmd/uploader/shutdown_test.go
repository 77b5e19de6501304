package main

import (
	"context"
	"io"
	"net"
	"testing"
	"time"

	"github.com/eks-least-privilege/uploader/test/miniotest"
	"github.com/eks-least-privilege/uploader/test/testenv"
)

// trickleMetrics connects to the metrics port and sends a request whose body
// comes one byte at a time, as any pod the NetworkPolicy lets in could.
func trickleMetrics(t *testing.T, addr string) {
	t.Helper()
	c, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	// Under 256 KiB: net/http reads the rest of such a body to reuse the
	// connection, so the trickle holds it.
	if _, err := io.WriteString(c, "GET /metrics HTTP/1.1\r\nHost: x\r\nContent-Length: 100000\r\n\r\n"); err != nil {
		t.Fatal(err)
	}
	go func() {
		for {
			if _, err := c.Write([]byte{'x'}); err != nil {
				return
			}
			time.Sleep(100 * time.Millisecond)
		}
	}()
}

// A client holding the metrics port must not turn the exit the loop decided
// into a failure: a Job that reached UPLOAD_COUNT, or a SIGTERM, exits 0.
func TestExitZeroWithSlowMetricsClient(t *testing.T) {
	srv := miniotest.Start(t)
	tests := []struct {
		name   string
		vars   map[string]string
		signal bool // cancel run's context, as SIGTERM does
	}{
		{"job reaches UPLOAD_COUNT", map[string]string{"UPLOAD_COUNT": "3", "UPLOAD_INTERVAL": "1s"}, false},
		{"SIGTERM", map[string]string{"UPLOAD_INTERVAL": "1s"}, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s3Env(t, srv, srv.Bucket(t), tt.vars)
			ctx, cancel := context.WithCancel(t.Context())
			defer cancel()
			var logs testenv.LockedBuffer
			done := make(chan error, 1)
			go func() { done <- run(ctx, nil, &logs) }()
			trickleMetrics(t, metricsAddr(t, &logs))
			if tt.signal {
				time.Sleep(time.Second)
				cancel()
			}
			testenv.WaitReturn(t, done, 60*time.Second, "run (exit 0)", &logs)
		})
	}
}
