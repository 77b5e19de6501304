package creds

import (
	"context"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"os"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/config"
	"github.com/prometheus/client_golang/prometheus"

	"github.com/eks-least-privilege/uploader/test/testenv"
)

// dialRecorder is an HTTP client that records the address of every
// connection the SDK asks for, before any DNS lookup, and refuses all but
// loopback: a request meant for public AWS shows up here and goes nowhere.
type dialRecorder struct {
	mu    sync.Mutex // guards addrs
	addrs []string
}

func (d *dialRecorder) client() *http.Client {
	return &http.Client{Transport: &http.Transport{DialContext: func(ctx context.Context, network, addr string) (net.Conn, error) {
		d.mu.Lock()
		d.addrs = append(d.addrs, addr)
		d.mu.Unlock()
		if host, _, _ := net.SplitHostPort(addr); host != "127.0.0.1" {
			return nil, fmt.Errorf("test: refused to dial %s", addr)
		}
		return (&net.Dialer{Timeout: 5 * time.Second}).DialContext(ctx, network, addr)
	}}}
}

func (d *dialRecorder) dialed() []string {
	d.mu.Lock()
	defer d.mu.Unlock()
	return slices.Compact(slices.Sorted(slices.Values(d.addrs)))
}

func TestCallerLookupOnlyWhereConfigured(t *testing.T) {
	sts := newSTS(t, nil)
	stsHost := strings.TrimPrefix(sts.URL, "http://")
	const s3 = "http://127.0.0.1:1" // never asked: only its being set matters
	tests := []struct {
		name       string
		env        map[string]string
		config     string // shared config file, "%s" the STS stand-in's URL
		wantDialed []string
		wantCaller bool
	}{
		{name: "S3 endpoint, no STS endpoint", env: map[string]string{"AWS_ENDPOINT_URL_S3": s3}},
		{
			name:       "S3 and STS endpoints",
			env:        map[string]string{"AWS_ENDPOINT_URL_S3": s3, "AWS_ENDPOINT_URL_STS": sts.URL},
			wantDialed: []string{stsHost}, wantCaller: true,
		},
		{
			name:       "S3 endpoint, AWS_ENDPOINT_URL for the others",
			env:        map[string]string{"AWS_ENDPOINT_URL_S3": s3, "AWS_ENDPOINT_URL": sts.URL},
			wantDialed: []string{stsHost}, wantCaller: true,
		},
		{
			name:       "S3 endpoint, STS in the profile's services",
			env:        map[string]string{"AWS_ENDPOINT_URL_S3": s3},
			config:     "[default]\nservices = local\n\n[services local]\nsts =\n  endpoint_url = %s\n",
			wantDialed: []string{stsHost}, wantCaller: true,
		},
		{
			// Real AWS: S3 and STS both public, the lookup is wanted.
			name:       "no custom endpoint",
			wantDialed: []string{"sts.us-east-1.amazonaws.com:443"},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			testenv.IsolateAWSEnv(t)
			os.Unsetenv("AWS_ENDPOINT_URL")
			t.Setenv("AWS_REGION", "us-east-1")
			t.Setenv("AWS_ACCESS_KEY_ID", "AKIALOCALSTOREEXAMPLE")
			t.Setenv("AWS_SECRET_ACCESS_KEY", canary)
			for k, v := range tt.env {
				t.Setenv(k, v)
			}
			if tt.config != "" {
				t.Setenv("AWS_CONFIG_FILE", testenv.WriteFile(t, "config", fmt.Sprintf(tt.config, sts.URL)))
			}
			rec := &dialRecorder{}
			cfg, err := config.LoadDefaultConfig(t.Context(), config.WithHTTPClient(rec.client()))
			if err != nil {
				t.Fatal(err)
			}
			watcher, err := NewWatcher(cfg, slog.New(slog.DiscardHandler), prometheus.NewRegistry())
			if err != nil {
				t.Fatal(err)
			}
			for name, resolve := range map[string]func(context.Context) (Identity, error){
				"Resolve": func(ctx context.Context) (Identity, error) { return Resolve(ctx, cfg) },
				"Watcher": watcher.Check,
			} {
				id, err := resolve(t.Context())
				if err != nil {
					t.Fatalf("%s: %v", name, err)
				}
				if got := id.CallerARN != ""; got != tt.wantCaller {
					t.Errorf("%s: caller looked up: got %v (%q, %q), want %v", name, got, id.CallerARN, id.CallerUnavailable, tt.wantCaller)
				}
				if len(tt.wantDialed) == 0 && id.CallerUnavailable != CallerNotLookedUp {
					t.Errorf("%s: caller unavailable: got %q, want %q", name, id.CallerUnavailable, CallerNotLookedUp)
				}
			}
			if got := rec.dialed(); !slices.Equal(got, tt.wantDialed) {
				t.Errorf("dialed: got %q, want %q", got, tt.wantDialed)
			}
		})
	}
}
