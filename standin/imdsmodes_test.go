package standin

import (
	"context"
	"net/http"
	"net/http/httptest"
	"testing"
	"time"
)

// TestIMDSModes checks what each simulated instance answers to a token
// request and to an IMDSv1 request of the role list.
func TestIMDSModes(t *testing.T) {
	tests := []struct {
		name              string
		setup             func(*IMDS)
		wantToken, wantV1 int
	}{
		{"imdsv2 required", func(*IMDS) {}, http.StatusOK, http.StatusUnauthorized},
		{"imdsv1 allowed", func(s *IMDS) { s.SetV1Allowed(true) }, http.StatusOK, http.StatusOK},
		{"imdsv1 only", func(s *IMDS) { s.SetV1Only(true) }, http.StatusNotFound, http.StatusOK},
		{"no role", func(s *IMDS) { s.SetNoRole(true); s.SetV1Allowed(true) }, http.StatusOK, http.StatusNotFound},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s := NewIMDS(func(context.Context) (Credentials, error) {
				return Credentials{AccessKeyID: "A", SecretAccessKey: "S", SessionToken: "T", Expiration: time.Now().Add(time.Hour)}, nil
			}, IMDSOptions{})
			tt.setup(s)
			srv := httptest.NewServer(s)
			defer srv.Close()
			req, _ := http.NewRequest(http.MethodPut, srv.URL+imdsTokenPath, nil)
			req.Header.Set(IMDSTokenTTLHeader, "60")
			if got := status(t, req); got != tt.wantToken {
				t.Errorf("token: got %d, want %d", got, tt.wantToken)
			}
			req, _ = http.NewRequest(http.MethodGet, srv.URL+imdsCredsPath, nil)
			if got := status(t, req); got != tt.wantV1 {
				t.Errorf("imdsv1 role list: got %d, want %d", got, tt.wantV1)
			}
		})
	}
}

func status(t *testing.T, req *http.Request) int {
	t.Helper()
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	return resp.StatusCode
}
