package creds

import (
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"sync/atomic"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	dto "github.com/prometheus/client_model/go"
)

// canary is a secret that must never show up in logs, metrics or errors.
const canary = "CANARYSECRET"

const (
	testAccount = "111122223333"
	testRole    = "arn:aws:iam::111122223333:role/uploader"
)

// stsServer is a loopback STS answering AssumeRoleWithWebIdentity, AssumeRole
// and GetCallerIdentity. Every secret it hands out contains the canary.
type stsServer struct {
	*httptest.Server
	calls   atomic.Int64 // GetCallerIdentity calls
	denyAll bool         // answer every action with AccessDenied
	// callerStatus and callerCode, when set, are GetCallerIdentity's error
	// answer (MinIO's is 400 InvalidParameterValue).
	callerStatus int
	callerCode   string
	keys         atomic.Int64 // issued access keys, for distinct ids
}

func newSTS(t *testing.T, configure func(*stsServer)) *stsServer {
	t.Helper()
	s := &stsServer{}
	if configure != nil {
		configure(s)
	}
	s.Server = httptest.NewServer(http.HandlerFunc(s.serve))
	t.Cleanup(s.Close)
	return s
}

func (s *stsServer) serve(w http.ResponseWriter, r *http.Request) {
	if err := r.ParseForm(); err != nil {
		http.Error(w, err.Error(), http.StatusBadRequest)
		return
	}
	action := r.Form.Get("Action")
	w.Header().Set("Content-Type", "text/xml")
	stsError := func(status int, code string) {
		w.WriteHeader(status)
		fmt.Fprintf(w, `<ErrorResponse><Error><Type>Sender</Type><Code>%s</Code><Message>refused %s</Message></Error><RequestId>r1</RequestId></ErrorResponse>`, code, action)
	}
	if s.denyAll {
		stsError(http.StatusForbidden, "AccessDenied")
		return
	}
	switch action {
	case "GetCallerIdentity":
		s.calls.Add(1)
		if s.callerCode != "" {
			stsError(s.callerStatus, s.callerCode)
			return
		}
		fmt.Fprintf(w, `<GetCallerIdentityResponse><GetCallerIdentityResult><Arn>arn:aws:sts::%s:assumed-role/uploader/sess</Arn><UserId>AROAEXAMPLE:sess</UserId><Account>%s</Account></GetCallerIdentityResult><ResponseMetadata><RequestId>r1</RequestId></ResponseMetadata></GetCallerIdentityResponse>`, testAccount, testAccount)
	case "AssumeRoleWithWebIdentity", "AssumeRole":
		n := s.keys.Add(1)
		fmt.Fprintf(w, `<%[1]sResponse><%[1]sResult><Credentials><AccessKeyId>ASIASTSEXAMPLE%04d</AccessKeyId><SecretAccessKey>%[3]s-sts-secret</SecretAccessKey><SessionToken>%[3]s-sts-token</SessionToken><Expiration>%[4]s</Expiration></Credentials><AssumedRoleUser><Arn>arn:aws:sts::111122223333:assumed-role/uploader/sess</Arn><AssumedRoleId>AROAEXAMPLE:sess</AssumedRoleId></AssumedRoleUser></%[1]sResult><ResponseMetadata><RequestId>r1</RequestId></ResponseMetadata></%[1]sResponse>`,
			action, n, canary, time.Now().Add(time.Hour).UTC().Format(time.RFC3339))
	default:
		stsError(http.StatusBadRequest, "InvalidAction")
	}
}

// imdsServer is a loopback IMDSv2 with one instance role.
func imdsServer(t *testing.T) *httptest.Server {
	t.Helper()
	const token = "imds-session-token"
	mux := http.NewServeMux()
	mux.HandleFunc("PUT /latest/api/token", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("X-Aws-Ec2-Metadata-Token-Ttl-Seconds", r.Header.Get("X-Aws-Ec2-Metadata-Token-Ttl-Seconds"))
		fmt.Fprint(w, token)
	})
	authed := func(h http.HandlerFunc) http.HandlerFunc {
		return func(w http.ResponseWriter, r *http.Request) {
			if r.Header.Get("X-Aws-Ec2-Metadata-Token") != token {
				http.Error(w, "", http.StatusUnauthorized)
				return
			}
			h(w, r)
		}
	}
	mux.HandleFunc("GET /latest/meta-data/iam/security-credentials/", authed(func(w http.ResponseWriter, r *http.Request) {
		fmt.Fprint(w, "node-role\n")
	}))
	mux.HandleFunc("GET /latest/meta-data/iam/security-credentials/node-role", authed(func(w http.ResponseWriter, r *http.Request) {
		_ = json.NewEncoder(w).Encode(map[string]string{
			"Code": "Success", "Type": "AWS-HMAC", "LastUpdated": time.Now().UTC().Format(time.RFC3339),
			"AccessKeyId": "ASIAIMDSEXAMPLE0001", "SecretAccessKey": canary + "-imds-secret", "Token": canary + "-imds-token",
			"Expiration": time.Now().Add(6 * time.Hour).UTC().Format(time.RFC3339),
		})
	}))
	s := httptest.NewServer(mux)
	t.Cleanup(s.Close)
	return s
}

// containerServer is a loopback container credentials endpoint (the EKS Pod
// Identity agent or the ECS agent) that wants authToken, if set.
func containerServer(t *testing.T, authToken string) *httptest.Server {
	t.Helper()
	s := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if authToken != "" && r.Header.Get("Authorization") != authToken {
			w.WriteHeader(http.StatusForbidden)
			_ = json.NewEncoder(w).Encode(map[string]string{"code": "AccessDeniedException", "message": "bad token"})
			return
		}
		_ = json.NewEncoder(w).Encode(map[string]string{
			"AccessKeyId": "ASIAPODEXAMPLE00001", "SecretAccessKey": canary + "-pod-secret", "Token": canary + "-pod-token",
			"AccountId": testAccount, "Expiration": time.Now().Add(6 * time.Hour).UTC().Format(time.RFC3339),
		})
	}))
	t.Cleanup(s.Close)
	return s
}

func mustGather(t *testing.T, g prometheus.Gatherer) []*dto.MetricFamily {
	t.Helper()
	mfs, err := g.Gather()
	if err != nil {
		t.Fatal(err)
	}
	return mfs
}
