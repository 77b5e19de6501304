package diagnose

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/aws/smithy-go"
	"github.com/eks-least-privilege/uploader/internal/creds"
	"github.com/prometheus/client_golang/prometheus"
)

func TestExplainer(t *testing.T) {
	env := envOf(map[string]string{"AWS_EC2_METADATA_DISABLED": "true"})
	e, err := NewExplainer(env, []creds.Mode{creds.ModeIRSA}, prometheus.NewRegistry())
	if err != nil {
		t.Fatal(err)
	}
	now := time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)
	e.now = func() time.Time { return now }
	node := creds.Identity{Mode: creds.ModeNodeRole, CallerARN: "arn:aws:sts::111122223333:assumed-role/node/i-0123456789abcdef0"}

	// Resolved: the node role although IRSA is required.
	if got := e.Watch(context.Background(), creds.Event{Identity: node}); len(got) != 1 || got[0].Key != "diagnoses" {
		t.Fatalf("resolved: got %v, want a diagnoses attribute", got)
	}
	wantNames(t, e.List(), []Name{MutationMissing, SilentFallback})

	// A refresh fails while the credentials still work.
	last := creds.Identity{Mode: creds.ModeIRSA, CanExpire: true, Expires: now.Add(time.Minute)}
	fail := &creds.Error{Mode: creds.ModeIRSA, Reason: creds.ReasonEndpointUnreachable, Err: context.DeadlineExceeded}
	e.Watch(context.Background(), creds.Event{Identity: creds.Identity{Mode: creds.ModeIRSA}, Err: fail, Last: &last})
	if !e.List().Has(CredentialsRefreshFailing) {
		t.Errorf("after a failed refresh: got %v, want credentials_refresh_failing", e.List().Names())
	}
	if got := e.Failed("credentials", fail); len(got) != 1 {
		t.Errorf("credentials failure line: got %v, want the diagnoses", got)
	}

	// An upload refused for its checksum, then one stored.
	bad := &smithy.GenericAPIError{Code: "XAmzContentSHA256Mismatch", Message: "mismatch"}
	if got := e.Failed("upload", bad); len(got) != 1 || !e.List().Has(ChecksumRejected) {
		t.Errorf("upload failure: got %v, active %v; want checksum_rejected", got, e.List().Names())
	}
	if got := e.Failed("fetch", errors.New("x")); got != nil {
		t.Errorf("fetch failure: got %v, want nothing", got)
	}
	e.Succeeded()
	if e.List().Has(ChecksumRejected) {
		t.Errorf("after a stored image: got %v, want checksum_rejected gone", e.List().Names())
	}
	// Resolved again: the refresh diagnosis ends.
	e.Watch(context.Background(), creds.Event{Identity: creds.Identity{Mode: creds.ModeIRSA}})
	if e.List().Has(CredentialsRefreshFailing) {
		t.Errorf("after a good refresh: got %v", e.List().Names())
	}
}
