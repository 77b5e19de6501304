package standin

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"time"
)

// ErrNotLoopback is returned by Listen for an address outside 127.0.0.0/8 and
// ::1 when non-loopback listening was not allowed.
var ErrNotLoopback = errors.New("not a loopback address")

// ListenOptions change how Listen binds.
type ListenOptions struct {
	// AllowNonLoopback lets Listen bind a non-loopback address (for example
	// inside a docker compose network). Zero: loopback only.
	AllowNonLoopback bool
}

// Listen opens a TCP listener on addr ("127.0.0.1:0" picks a free port). An
// address whose host is empty, unspecified or not loopback is refused with
// ErrNotLoopback unless opts.AllowNonLoopback is set.
func Listen(addr string, opts ListenOptions) (net.Listener, error) {
	host, _, err := net.SplitHostPort(addr)
	if err != nil {
		return nil, fmt.Errorf("listen %s: %w", addr, err)
	}
	if !opts.AllowNonLoopback && !isLoopbackHost(host) {
		return nil, fmt.Errorf("listen %s: %w (set AllowNonLoopback to bind it)", addr, ErrNotLoopback)
	}
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return nil, fmt.Errorf("listen %s: %w", addr, err)
	}
	// A name such as "localhost" is checked again once resolved.
	if tcp, ok := ln.Addr().(*net.TCPAddr); ok && !opts.AllowNonLoopback && !tcp.IP.IsLoopback() {
		ln.Close()
		return nil, fmt.Errorf("listen %s: bound %s: %w", addr, tcp.IP, ErrNotLoopback)
	}
	return ln, nil
}

func isLoopbackHost(host string) bool {
	if host == "localhost" {
		return true
	}
	ip := net.ParseIP(host)
	return ip != nil && ip.IsLoopback()
}

// Server is an http.Handler served on a listener until Shutdown.
type Server struct {
	// URL is the base URL of the server: http://127.0.0.1:port.
	URL  string
	srv  *http.Server
	done chan error
}

// Serve serves h on ln in a goroutine. Request logs go to logger (nil: none);
// they carry the method, path and status, never headers or bodies.
func Serve(ln net.Listener, h http.Handler, logger *slog.Logger) *Server {
	if logger != nil {
		h = logRequests(h, logger)
	}
	s := &Server{
		URL: "http://" + ln.Addr().String(),
		srv: &http.Server{
			Handler:           h,
			ReadHeaderTimeout: 5 * time.Second,
			ReadTimeout:       10 * time.Second,
			WriteTimeout:      30 * time.Second,
			IdleTimeout:       60 * time.Second,
		},
		done: make(chan error, 1),
	}
	go func() {
		err := s.srv.Serve(ln)
		if errors.Is(err, http.ErrServerClosed) {
			err = nil
		}
		s.done <- err
	}()
	return s
}

// Shutdown stops the server, waiting for requests in flight until ctx ends,
// and returns the error that ended serving, if any.
func (s *Server) Shutdown(ctx context.Context) error {
	err := s.srv.Shutdown(ctx)
	if err != nil {
		// Requests still in flight (a hop-limit hang) are cut.
		_ = s.srv.Close()
	}
	return errors.Join(err, <-s.done)
}

// Close stops the server at once.
func (s *Server) Close() error {
	err := s.srv.Close()
	return errors.Join(err, <-s.done)
}

type statusRecorder struct {
	http.ResponseWriter
	status int
}

func (r *statusRecorder) WriteHeader(code int) {
	r.status = code
	r.ResponseWriter.WriteHeader(code)
}

func logRequests(h http.Handler, logger *slog.Logger) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		rec := &statusRecorder{ResponseWriter: w, status: http.StatusOK}
		start := time.Now()
		h.ServeHTTP(rec, r)
		logger.Info("request served", "method", r.Method, "path", r.URL.Path,
			"status", rec.status, "duration_seconds", time.Since(start).Seconds())
	})
}
