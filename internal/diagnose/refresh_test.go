package diagnose

import (
	"errors"
	"testing"
	"time"

	"github.com/eks-least-privilege/uploader/internal/creds"
)

func TestRefresh(t *testing.T) {
	now := time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)
	failed := &creds.Error{Mode: creds.ModeIRSA, Reason: creds.ReasonEndpointUnreachable, Err: errors.New("dial tcp: i/o timeout")}
	tests := []struct {
		name     string
		err      error
		last     creds.Identity
		want     []Name
		contains []string
	}{
		{name: "refresh worked", last: creds.Identity{Mode: creds.ModeIRSA, CanExpire: true, Expires: now.Add(time.Minute)}},
		{name: "refresh failing, still valid", err: failed, last: creds.Identity{Mode: creds.ModeIRSA, CanExpire: true, Expires: now.Add(4*time.Minute + 10*time.Second)},
			want: []Name{CredentialsRefreshFailing}, contains: []string{"refreshing the irsa credentials failed (endpoint_unreachable)", "until 2026-03-01T12:04:10Z (4m10s left)", "trust policy"}},
		{name: "already expired", err: failed, last: creds.Identity{Mode: creds.ModeIRSA, CanExpire: true, Expires: now.Add(-time.Second)}},
		{name: "static keys never expire", err: failed, last: creds.Identity{Mode: creds.ModeStatic}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			wantNames(t, refresh(tt.err, tt.last, now), tt.want, tt.contains...)
		})
	}
}
