package diagnose

import (
	"errors"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/aws/smithy-go"
	smithyhttp "github.com/aws/smithy-go/transport/http"

	"github.com/eks-least-privilege/uploader/internal/creds"
)

func TestRefresh(t *testing.T) {
	now := time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)
	sts503 := &creds.Error{Mode: creds.ModeIRSA, Err: &smithy.OperationError{ServiceID: "STS", OperationName: "AssumeRoleWithWebIdentity",
		Err: &smithyhttp.ResponseError{Response: &smithyhttp.Response{Response: &http.Response{StatusCode: 503}}, Err: errors.New("api error ServiceUnavailable")}}}
	failed := &creds.Error{Mode: creds.ModeIRSA, Reason: creds.ReasonEndpointUnreachable, Err: errors.New("dial tcp: i/o timeout")}
	tests := []struct {
		name     string
		err      error
		last     creds.Identity
		want     []Name
		contains []string
		absent   string
	}{
		{name: "refresh worked", last: creds.Identity{Mode: creds.ModeIRSA, CanExpire: true, Expires: now.Add(time.Minute)}},
		{name: "refresh failing, still valid", err: failed, last: creds.Identity{Mode: creds.ModeIRSA, CanExpire: true, Expires: now.Add(4*time.Minute + 10*time.Second)},
			want: []Name{CredentialsRefreshFailing}, contains: []string{"refreshing the irsa credentials failed (endpoint_unreachable)", "until 2026-03-01T12:04:10Z (4m10s left)", "trust policy"}},
		{name: "sts answering 503, still valid", err: sts503, last: creds.Identity{Mode: creds.ModeIRSA, CanExpire: true, Expires: now.Add(time.Minute)},
			want: []Name{CredentialsRefreshFailing}, contains: []string{"answered HTTP 503", "nothing to change in a policy"}, absent: "trust policy"},
		{name: "already expired", err: failed, last: creds.Identity{Mode: creds.ModeIRSA, CanExpire: true, Expires: now.Add(-time.Second)}},
		{name: "static keys never expire", err: failed, last: creds.Identity{Mode: creds.ModeStatic}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := refresh(tt.err, tt.last, now)
			wantNames(t, got, tt.want, tt.contains...)
			if tt.absent != "" && strings.Contains(List(got).String(), tt.absent) {
				t.Errorf("got %q, want no %q", List(got), tt.absent)
			}
		})
	}
}
