package probes

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"time"
)

// Limits bound what one client can hold of a [Server]: any pod may reach the
// port (the NetworkPolicy allows it), so a client that trickles a request,
// never reads its answer or keeps connections open must not keep the process
// from exiting, nor pile up goroutines. A zero field takes its default.
type Limits struct {
	// ReadHeader bounds reading a request's headers, also of a connection
	// that never sends one. Zero means 5s.
	ReadHeader time.Duration
	// Read bounds reading a whole request; probes and scrapes have no
	// body. Zero means 10s.
	Read time.Duration
	// Write bounds writing the answer, from the end of the request headers.
	// Zero means 10s, Prometheus' default scrape timeout.
	Write time.Duration
	// Idle is how long a keep-alive connection may wait for its next
	// request before it is closed. Zero means 30s: Prometheus scraping every
	// 15s keeps its connection, one scraping every minute reconnects.
	Idle time.Duration
	// MaxHeaderBytes bounds a request's headers; a scrape sends well under
	// 1 KiB. Zero means 16 KiB (net/http's default is 1 MiB).
	MaxHeaderBytes int
	// Shutdown bounds the graceful shutdown, after which the connections
	// still open are closed. Zero means 5s.
	Shutdown time.Duration
}

func (l Limits) withDefaults() Limits {
	for _, d := range []struct {
		v   *time.Duration
		def time.Duration
	}{
		{&l.ReadHeader, 5 * time.Second},
		{&l.Read, 10 * time.Second},
		{&l.Write, 10 * time.Second},
		{&l.Idle, 30 * time.Second},
		{&l.Shutdown, 5 * time.Second},
	} {
		if *d.v <= 0 {
			*d.v = d.def
		}
	}
	if l.MaxHeaderBytes <= 0 {
		l.MaxHeaderBytes = 16 << 10
	}
	return l
}

// Server serves a [Handler] within [Limits] and stops within them too.
type Server struct {
	http     *http.Server
	shutdown time.Duration
	logger   *slog.Logger
}

// NewServer returns a Server for h. Zero fields of limits take their
// defaults; logger gets a warning when a shutdown had to close connections.
func NewServer(h http.Handler, limits Limits, logger *slog.Logger) *Server {
	l := limits.withDefaults()
	return &Server{
		http: &http.Server{
			Handler:           h,
			ReadHeaderTimeout: l.ReadHeader,
			ReadTimeout:       l.Read,
			WriteTimeout:      l.Write,
			IdleTimeout:       l.Idle,
			MaxHeaderBytes:    l.MaxHeaderBytes,
		},
		shutdown: l.Shutdown,
		logger:   logger,
	}
}

// Serve serves on ln until ctx is cancelled, then shuts down on a fresh
// context bounded by Limits.Shutdown. Connections still busy then are
// closed: the caller decides the exit code, not a slow client, so only a
// failure to serve is returned.
func (s *Server) Serve(ctx context.Context, ln net.Listener) error {
	errc := make(chan error, 1)
	go func() { errc <- s.http.Serve(ln) }()
	select {
	case err := <-errc:
		return fmt.Errorf("metrics server: %w", err)
	case <-ctx.Done():
	}
	sctx, cancel := context.WithTimeout(context.Background(), s.shutdown)
	defer cancel()
	if err := s.http.Shutdown(sctx); err != nil {
		s.logger.Warn("metrics server shutdown timed out, connections closed",
			"timeout_seconds", s.shutdown.Seconds(), "err", err)
		_ = s.http.Close()
	}
	if err := <-errc; !errors.Is(err, http.ErrServerClosed) {
		return fmt.Errorf("metrics server: %w", err)
	}
	return nil
}
