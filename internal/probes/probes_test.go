package probes

import (
	"context"
	"net/http"
	"net/http/httptest"
	"testing"
)

func TestHealthy(t *testing.T) {
	for _, tt := range []struct {
		name   string
		status int
		ok     bool
	}{
		{"200 is healthy", http.StatusOK, true},
		{"503 is not", http.StatusServiceUnavailable, false},
		{"204 is not", http.StatusNoContent, false},
	} {
		t.Run(tt.name, func(t *testing.T) {
			srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) { w.WriteHeader(tt.status) }))
			defer srv.Close()
			if err := Healthy(context.Background(), srv.URL+"/healthz"); (err == nil) != tt.ok {
				t.Errorf("got %v, want healthy %v", err, tt.ok)
			}
		})
	}
	srv := httptest.NewServer(http.NotFoundHandler())
	url := srv.URL
	srv.Close()
	if err := Healthy(context.Background(), url); err == nil {
		t.Error("got no error from a closed server, want one")
	}
}
