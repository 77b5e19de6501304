// Package probes serves what Kubernetes probes and Prometheus ask of a
// process (/metrics, /healthz, /readyz) with a bounded shutdown, and is the
// client a container healthcheck runs against such an endpoint (distroless
// images have no shell or curl).
package probes

import (
	"context"
	"fmt"
	"net"
	"net/http"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promhttp"
)

// Health answers the liveness and readiness probes.
type Health interface {
	Alive(now time.Time) bool
	Ready(now time.Time) bool
}

// Handler serves /metrics from reg, and /healthz and /readyz from h.
func Handler(reg *prometheus.Registry, h Health, now func() time.Time) http.Handler {
	mux := http.NewServeMux()
	mux.Handle("GET /metrics", promhttp.HandlerFor(reg, promhttp.HandlerOpts{Registry: reg}))
	probe := func(ok func(time.Time) bool) http.HandlerFunc {
		return func(w http.ResponseWriter, _ *http.Request) {
			w.Header().Set("Content-Type", "text/plain; charset=utf-8")
			if !ok(now()) {
				w.WriteHeader(http.StatusServiceUnavailable)
				fmt.Fprintln(w, "not ok")
				return
			}
			fmt.Fprintln(w, "ok")
		}
	}
	mux.Handle("GET /healthz", probe(h.Alive))
	mux.Handle("GET /readyz", probe(h.Ready))
	return mux
}

// checkTimeout bounds one healthcheck request.
const checkTimeout = 3 * time.Second

// Get asks url once, within a few seconds, and returns the HTTP status; an
// error when nothing answered.
func Get(ctx context.Context, url string) (int, error) {
	ctx, cancel := context.WithTimeout(ctx, checkTimeout)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	if err != nil {
		return 0, fmt.Errorf("healthcheck: %w", err)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return 0, fmt.Errorf("healthcheck: %w", err)
	}
	resp.Body.Close()
	return resp.StatusCode, nil
}

// Healthy asks url once, as [Get] does, and fails unless it answers 200 OK.
func Healthy(ctx context.Context, url string) error {
	status, err := Get(ctx, url)
	if err != nil {
		return err
	}
	if status != http.StatusOK {
		return fmt.Errorf("healthcheck: %d %s", status, http.StatusText(status))
	}
	return nil
}

// LocalURL is the URL of path on a server listening on addr (host:port),
// asked from the same host: an unspecified host becomes 127.0.0.1.
func LocalURL(addr, path string) (string, error) {
	host, port, err := net.SplitHostPort(addr)
	if err != nil {
		return "", err
	}
	if host == "" || host == "0.0.0.0" || host == "::" {
		host = "127.0.0.1"
	}
	return "http://" + net.JoinHostPort(host, port) + path, nil
}
