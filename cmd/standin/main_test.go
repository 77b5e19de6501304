package main

import (
	"bytes"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
)

func TestHealthcheck(t *testing.T) {
	tests := []struct {
		name    string
		status  int
		wantErr bool
	}{
		{"up, unauthenticated", http.StatusUnauthorized, false},
		{"up", http.StatusOK, false},
		{"broken", http.StatusServiceUnavailable, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) { w.WriteHeader(tt.status) }))
			defer srv.Close()
			err := run(t.Context(), []string{"healthcheck", srv.URL}, &bytes.Buffer{}, &bytes.Buffer{})
			if (err != nil) != tt.wantErr {
				t.Errorf("healthcheck on %d: got %v, want error %v", tt.status, err, tt.wantErr)
			}
		})
	}
}

func TestRunRejectsBadArguments(t *testing.T) {
	for _, args := range [][]string{nil, {"metadata"}, {"imds", "-listen", "10.0.0.1:80"}, {"imds"}} {
		err := run(t.Context(), args, &bytes.Buffer{}, &bytes.Buffer{})
		if err == nil {
			t.Errorf("run %q: got nil, want an error", strings.Join(args, " "))
		}
	}
}
