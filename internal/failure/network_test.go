package failure_test

import (
	"context"
	"errors"
	"fmt"
	"net"
	"os"
	"syscall"
	"testing"

	"github.com/eks-least-privilege/uploader/internal/failure"
)

// TestNetworkCause: the cause of a failed request read from the error's
// type, through the wrapping of net/http and the SDK, never from its text.
func TestNetworkCause(t *testing.T) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	closed := l.Addr().String()
	l.Close()
	_, refused := net.Dial("tcp", closed)
	if refused == nil {
		t.Fatalf("dial %s: want an error, the port is closed", closed)
	}
	sys := func(errno syscall.Errno) error {
		return &net.OpError{Op: "dial", Net: "tcp", Err: os.NewSyscallError("connect", errno)}
	}
	tests := []struct {
		name string
		err  error
		want string
	}{
		{"refused, a real dial", fmt.Errorf("request: %w", refused), "connection refused"},
		{"reset", sys(syscall.ECONNRESET), "connection reset"},
		{"no route", sys(syscall.EHOSTUNREACH), "no route to host"},
		{"network unreachable", sys(syscall.ENETUNREACH), "network is unreachable"},
		{"no such host", &net.DNSError{Err: "no such host", Name: "imds.invalid", IsNotFound: true}, "no such host"},
		{"deadline", fmt.Errorf("get: %w", context.DeadlineExceeded), failure.ReasonTimeout},
		{"another network error", sys(syscall.EPIPE), failure.ReasonNetwork},
		{"text alone does not count", errors.New("dial tcp: connection refused"), failure.ReasonOther},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := failure.NetworkCause(tt.err); got != tt.want {
				t.Errorf("got %q, want %q", got, tt.want)
			}
		})
	}
}
