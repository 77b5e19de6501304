package diagnose

import (
	"context"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials/endpointcreds"
	"github.com/eks-least-privilege/uploader/internal/creds"
)

func TestPodIdentityAgent(t *testing.T) {
	hang := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { <-r.Context().Done() }))
	t.Cleanup(hang.Close)
	refusing := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.WriteHeader(http.StatusForbidden)
		fmt.Fprint(w, `{"code":"AccessDeniedException","message":"Service account token is not valid"}`)
	}))
	t.Cleanup(refusing.Close)
	tests := []struct {
		name     string
		url      string
		mode     creds.Mode
		want     []Name
		contains []string
	}{
		{name: "connection refused", url: closedURL(t) + "/v1/credentials", mode: creds.ModePodIdentity,
			want: []Name{PodIdentityAgentUnreachable}, contains: []string{"connection refused", "NetworkPolicy", "169.254.170.23:80"}},
		{name: "timeout", url: hang.URL + "/v1/credentials", mode: creds.ModePodIdentity,
			want: []Name{PodIdentityAgentUnreachable}, contains: []string{"no answer (timeout)", strings.TrimPrefix(hang.URL, "http://")}},
		{name: "agent answers 403", url: refusing.URL + "/v1/credentials", mode: creds.ModePodIdentity},
		{name: "ecs endpoint refused", url: closedURL(t), mode: creds.ModeECS},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p := endpointcreds.New(tt.url, func(o *endpointcreds.Options) {
				o.AuthorizationToken = "canary-token"
				o.Retryer = aws.NopRetryer{}
			})
			ctx, cancel := context.WithTimeout(context.Background(), 300*time.Millisecond)
			defer cancel()
			_, err := p.Retrieve(ctx)
			if err == nil {
				t.Fatal("want an error")
			}
			got := podIdentityAgent(err, tt.mode, envOf(map[string]string{creds.EnvContainerFullURI: tt.url}))
			wantNames(t, got, tt.want, tt.contains...)
		})
	}
}
