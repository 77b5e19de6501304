package creds

import (
	"bytes"
	"context"
	"encoding/json"
	"strings"
	"sync"
	"testing"
	"time"

	"log/slog"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"
	"github.com/prometheus/client_golang/prometheus/testutil/promlint"
)

// switchable is a provider whose credentials the test changes.
type switchable struct {
	mu    sync.Mutex // guards creds, chain
	creds aws.Credentials
	chain []aws.CredentialSource
}

func (s *switchable) set(c aws.Credentials, chain ...aws.CredentialSource) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.creds, s.chain = c, chain
}

func (s *switchable) Retrieve(context.Context) (aws.Credentials, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.creds, nil
}

func (s *switchable) ProviderSources() []aws.CredentialSource {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.chain
}

// stsConfig returns an aws.Config with provider p and STS on loopback.
func stsConfig(sts *stsServer, p aws.CredentialsProvider) aws.Config {
	return aws.Config{Region: "us-east-1", Credentials: p, BaseEndpoint: aws.String(sts.URL)}
}

func TestWatcher(t *testing.T) {
	sts := newSTS(t, nil)
	p := &switchable{}
	irsa := func(key string) aws.Credentials {
		return aws.Credentials{AccessKeyID: key, SecretAccessKey: canary + "-s", SessionToken: canary + "-t",
			Source: "WebIdentityCredentials", CanExpire: true, Expires: time.Now().Add(time.Hour)}
	}
	var logs bytes.Buffer
	reg := prometheus.NewRegistry()
	w, err := NewWatcher(stsConfig(sts, p), slog.New(slog.NewJSONHandler(&logs, nil)), reg)
	if err != nil {
		t.Fatal(err)
	}

	steps := []struct {
		name          string
		creds         aws.Credentials
		chain         []aws.CredentialSource
		wantMode      Mode
		wantRefreshes float64
		wantLogs      int
		wantCalls     int64
	}{
		{name: "start", creds: irsa("ASIAFIRSTKEY000001"), chain: []aws.CredentialSource{aws.CredentialSourceEnvVarsSTSWebIDToken},
			wantMode: ModeIRSA, wantLogs: 1, wantCalls: 1},
		{name: "same key again", creds: irsa("ASIAFIRSTKEY000001"), chain: []aws.CredentialSource{aws.CredentialSourceEnvVarsSTSWebIDToken},
			wantMode: ModeIRSA, wantLogs: 1, wantCalls: 1},
		{name: "refreshed", creds: irsa("ASIASECONDKEY00002"), chain: []aws.CredentialSource{aws.CredentialSourceEnvVarsSTSWebIDToken},
			wantMode: ModeIRSA, wantRefreshes: 1, wantLogs: 2, wantCalls: 2},
		{name: "mode changed", creds: aws.Credentials{AccessKeyID: "ASIANODEKEY0000003", SecretAccessKey: canary, Source: "EC2RoleProvider"},
			chain: []aws.CredentialSource{aws.CredentialSourceIMDS}, wantMode: ModeNodeRole, wantRefreshes: 2, wantLogs: 3, wantCalls: 3},
	}
	for _, s := range steps {
		p.set(s.creds, s.chain...)
		id, err := w.Check(context.Background())
		if err != nil {
			t.Fatalf("%s: %v", s.name, err)
		}
		if id.Mode != s.wantMode || id.CallerARN == "" {
			t.Errorf("%s: mode: got %q (caller %q), want %q with a caller", s.name, id.Mode, id.CallerARN, s.wantMode)
		}
		if got := testutil.ToFloat64(w.refreshes); got != s.wantRefreshes {
			t.Errorf("%s: refreshes: got %v, want %v", s.name, got, s.wantRefreshes)
		}
		if got := strings.Count(logs.String(), `"msg":"aws credentials resolved"`); got != s.wantLogs {
			t.Errorf("%s: log lines: got %d, want %d", s.name, got, s.wantLogs)
		}
		if got := sts.calls.Load(); got != s.wantCalls {
			t.Errorf("%s: GetCallerIdentity calls: got %d, want %d", s.name, got, s.wantCalls)
		}
		if got := testutil.ToFloat64(w.info.WithLabelValues(string(s.wantMode), s.creds.Source)); got != 1 {
			t.Errorf("%s: info{mode=%q}: got %v, want 1", s.name, s.wantMode, got)
		}
		if got := testutil.CollectAndCount(w.info); got != 1 {
			t.Errorf("%s: info series: got %d, want 1", s.name, got)
		}
	}

	last := strings.Split(strings.TrimSpace(logs.String()), "\n")
	var line map[string]any
	if err := json.Unmarshal([]byte(last[len(last)-1]), &line); err != nil {
		t.Fatal(err)
	}
	for k, want := range map[string]string{"mode": "node-role", "source": "EC2RoleProvider", "access_key_id": "ASIA…0003",
		"role_arn": testRole, "caller_arn": "arn:aws:sts::111122223333:assumed-role/uploader/sess", "account": testAccount} {
		if got := line[k]; got != want {
			t.Errorf("log %s: got %v, want %q", k, got, want)
		}
	}
}

func TestWatcherError(t *testing.T) {
	p := &switchable{}
	p.set(aws.Credentials{Source: "EC2RoleProvider"}, aws.CredentialSourceIMDS)
	cache := aws.NewCredentialsCache(p)
	w, err := NewWatcher(aws.Config{Credentials: cache}, slog.New(slog.DiscardHandler), prometheus.NewRegistry())
	if err != nil {
		t.Fatal(err)
	}
	id, err := w.Check(context.Background())
	if err == nil {
		t.Fatalf("got %+v, want an error", id)
	}
	if id.Mode != ModeNodeRole {
		t.Errorf("mode: got %q, want %q", id.Mode, ModeNodeRole)
	}
}

func TestMetricNames(t *testing.T) {
	reg := prometheus.NewRegistry()
	w, err := NewWatcher(aws.Config{}, slog.New(slog.DiscardHandler), reg)
	if err != nil {
		t.Fatal(err)
	}
	w.info.WithLabelValues("irsa", "WebIdentityCredentials").Set(1)
	problems, err := promlint.NewWithMetricFamilies(mustGather(t, reg)).Lint()
	if err != nil {
		t.Fatal(err)
	}
	for _, p := range problems {
		t.Errorf("promlint: %s: %s", p.Metric, p.Text)
	}
	if _, err := NewWatcher(aws.Config{}, slog.New(slog.DiscardHandler), reg); err == nil {
		t.Errorf("second registration: got nil, want an error")
	}
}
