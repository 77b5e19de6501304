package creds_test

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"net/http/httputil"
	"net/url"
	"os"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/sts"

	"github.com/eks-least-privilege/uploader/internal/creds"
	"github.com/eks-least-privilege/uploader/standin"
	"github.com/eks-least-privilege/uploader/test/mototest"
	"github.com/eks-least-privilege/uploader/test/testenv"
)

// The pod's own role in the cluster's account and the writer role in the
// bucket owner's.
const (
	sourceRole = "arn:aws:iam::111122223333:role/uploader-pod"
	writerRole = "arn:aws:iam::444455556666:role/uploader-writer"
	externalID = "ext-7f3a9c2e51d0"
)

// stsRecorder is a reverse proxy to moto that records each STS request's
// form (Action, RoleArn, ExternalId, ...).
type stsRecorder struct {
	mu    sync.Mutex // guards calls
	calls []url.Values
}

func (r *stsRecorder) start(t *testing.T, moto string) string {
	t.Helper()
	target, err := url.Parse(moto)
	if err != nil {
		t.Fatal(err)
	}
	proxy := httputil.NewSingleHostReverseProxy(target)
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, req *http.Request) {
		body, _ := io.ReadAll(req.Body)
		req.Body = io.NopCloser(bytes.NewReader(body))
		form, _ := url.ParseQuery(string(body))
		r.mu.Lock()
		r.calls = append(r.calls, form)
		r.mu.Unlock()
		proxy.ServeHTTP(w, req)
	}))
	t.Cleanup(srv.Close)
	return srv.URL
}

func (r *stsRecorder) actions() []url.Values {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([]url.Values(nil), r.calls...)
}

// writeProfile writes the shared config of IRSA followed by AssumeRole, as
// a pod mounts it: profile "pod" is the IRSA hop (the projected token and
// the pod's role), profile "writer" the role in the bucket owner's account.
func writeProfile(t *testing.T, token string, externalID string) {
	t.Helper()
	config := "[profile pod]\nweb_identity_token_file = " + token + "\nrole_arn = " + sourceRole +
		"\n\n[profile writer]\nsource_profile = pod\nrole_arn = " + writerRole + "\n"
	if externalID != "" {
		config += "external_id = " + externalID + "\n"
	}
	if err := os.WriteFile(os.Getenv("AWS_CONFIG_FILE"), []byte(config), 0o600); err != nil {
		t.Fatal(err)
	}
}

func writeToken(t *testing.T) string {
	t.Helper()
	// Moto does not check the token's signature (the package doc says so).
	return testenv.WriteFile(t, "token", "eyJhbGciOiJSUzI1NiJ9.eyJzdWIiOiJzeXN0ZW06c2VydmljZWFjY291bnQ6aW1hZ2VzOnVwbG9hZGVyIn0.c2ln")
}

func loadConfig(t *testing.T) aws.Config {
	t.Helper()
	cfg, err := creds.LoadConfig(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	return cfg
}

// TestIRSAThenAssumeRole: the SDK's own providers make both hops from a
// shared config profile (web identity, then sts:AssumeRole with the
// external id); the identity names the first hop's mode and role, the final
// role and that an external id is sent, never its value.
func TestIRSAThenAssumeRole(t *testing.T) {
	testenv.IsolateAWSEnv(t)
	var rec stsRecorder
	endpoint := rec.start(t, mototest.Start(t))
	writeProfile(t, writeToken(t), externalID)
	t.Setenv("AWS_PROFILE", "writer")
	t.Setenv("AWS_REGION", "eu-west-1")
	t.Setenv("AWS_ENDPOINT_URL_STS", endpoint)

	cfg := loadConfig(t)
	id, err := creds.Resolve(context.Background(), cfg)
	if err != nil {
		t.Fatal(err)
	}
	if id.Mode != creds.ModeIRSA {
		t.Errorf("mode: got %s, want irsa (the first hop)", id.Mode)
	}
	if id.SourceRoleARN != sourceRole || id.RoleARN != writerRole {
		t.Errorf("roles: got source %q, final %q; want %q, %q", id.SourceRoleARN, id.RoleARN, sourceRole, writerRole)
	}
	if !strings.HasPrefix(id.CallerARN, "arn:aws:sts::444455556666:assumed-role/uploader-writer/") || id.Account != "444455556666" {
		t.Errorf("caller: got %q in %q, want a session of the writer role in 444455556666", id.CallerARN, id.Account)
	}
	if !id.ExternalID {
		t.Error("external id: got not set, want set")
	}
	if err := creds.Require(id, []creds.Mode{creds.ModeIRSA}); err != nil {
		t.Errorf("REQUIRE_CREDENTIAL_MODE=irsa judges the first hop: %v", err)
	}
	if err := creds.Require(id, []creds.Mode{creds.ModeStatic}); err == nil {
		t.Error("REQUIRE_CREDENTIAL_MODE=static: got no error")
	}

	// On the wire: the web identity hop for the pod's role, then AssumeRole
	// of the writer role with the external id.
	var got []string
	for _, c := range rec.actions() {
		got = append(got, c.Get("Action")+" "+c.Get("RoleArn")+" "+c.Get("ExternalId"))
	}
	want := []string{
		"AssumeRoleWithWebIdentity " + sourceRole + " ",
		"AssumeRole " + writerRole + " " + externalID,
		"GetCallerIdentity  ",
	}
	if strings.Join(got, "\n") != strings.Join(want, "\n") {
		t.Errorf("STS calls:\ngot  %q\nwant %q", got, want)
	}

	// Reported: every hop, the external id as set, never its value.
	var table, logs bytes.Buffer
	if err := id.WriteTable(&table); err != nil {
		t.Fatal(err)
	}
	slog.New(slog.NewJSONHandler(&logs, nil)).Info("credentials resolved", "identity", id)
	for _, row := range []string{"credential mode:  irsa", "source role arn:  " + sourceRole, "role arn:         " + writerRole, "external id:      set (not shown)"} {
		if !strings.Contains(table.String(), row) {
			t.Errorf("table: want %q in\n%s", row, table.String())
		}
	}
	var line struct{ Identity map[string]string }
	if err := json.Unmarshal(logs.Bytes(), &line); err != nil {
		t.Fatal(err)
	}
	if line.Identity["source_role_arn"] != sourceRole || line.Identity["role_arn"] != writerRole || line.Identity["external_id"] != "set" {
		t.Errorf("log: got %v", line.Identity)
	}
	for _, out := range []string{table.String(), logs.String()} {
		if strings.Contains(out, externalID) {
			t.Errorf("the external id's value is printed:\n%s", out)
		}
	}
}

// TestProfileChainShadowed: with the IRSA webhook's variables in the
// environment the SDK takes the web identity from them and never reads
// AWS_PROFILE's role chain; the identity says so instead of claiming the
// writer role.
func TestProfileChainShadowed(t *testing.T) {
	testenv.IsolateAWSEnv(t)
	endpoint := mototest.Start(t)
	token := writeToken(t)
	writeProfile(t, token, "")
	t.Setenv("AWS_PROFILE", "writer")
	t.Setenv("AWS_REGION", "eu-west-1")
	t.Setenv("AWS_ENDPOINT_URL_STS", endpoint)
	t.Setenv("AWS_WEB_IDENTITY_TOKEN_FILE", token)
	t.Setenv("AWS_ROLE_ARN", sourceRole)

	id, err := creds.Resolve(context.Background(), loadConfig(t))
	if err != nil {
		t.Fatal(err)
	}
	if id.RoleARN != sourceRole || id.SourceRoleARN != "" {
		t.Errorf("roles: got source %q, final %q; want none, %q", id.SourceRoleARN, id.RoleARN, sourceRole)
	}
	warnings := strings.Join(id.Warnings(), "\n")
	if !strings.Contains(warnings, "role_arn "+writerRole+" is not assumed") {
		t.Errorf("warnings: got %q, want the unused role chain named", warnings)
	}
}

// TestPodIdentityTargetRole: with an EKS Pod Identity target role, EKS
// makes the second hop (here the agent stand-in asks moto's STS for the
// target role) and nothing changes in the pod: the mode is pod-identity,
// the role the target role, and no source role is claimed.
func TestPodIdentityTargetRole(t *testing.T) {
	testenv.IsolateAWSEnv(t)
	endpoint := mototest.Start(t)
	// EKS Auth's two hops, made outside the pod: the association's role,
	// then the target role with the association's external id.
	eks := sts.New(sts.Options{Region: "eu-west-1", BaseEndpoint: aws.String(endpoint),
		Credentials: aws.NewCredentialsCache(aws.CredentialsProviderFunc(func(context.Context) (aws.Credentials, error) {
			return aws.Credentials{AccessKeyID: "AKIAEKSAUTHEXAMPLE00", SecretAccessKey: "eks-auth-secret"}, nil
		}))})
	mint := func(ctx context.Context) (standin.Credentials, error) {
		out, err := eks.AssumeRole(ctx, &sts.AssumeRoleInput{RoleArn: aws.String(writerRole), RoleSessionName: aws.String("eks-images-uploader"),
			ExternalId: aws.String(externalID)})
		if err != nil {
			return standin.Credentials{}, err
		}
		c := out.Credentials
		return standin.Credentials{AccessKeyID: *c.AccessKeyId, SecretAccessKey: *c.SecretAccessKey, SessionToken: *c.SessionToken, Expiration: *c.Expiration}, nil
	}
	token := writeToken(t)
	agent := httptest.NewServer(standin.NewPodIdentity(mint, token, standin.PodIdentityOptions{AccountID: "444455556666"}))
	t.Cleanup(agent.Close)
	t.Setenv("AWS_CONTAINER_CREDENTIALS_FULL_URI", agent.URL+standin.PodIdentityPath)
	t.Setenv("AWS_CONTAINER_AUTHORIZATION_TOKEN_FILE", token)
	t.Setenv("AWS_REGION", "eu-west-1")
	t.Setenv("AWS_ENDPOINT_URL_STS", endpoint)

	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	id, err := creds.Resolve(ctx, loadConfig(t))
	if err != nil {
		t.Fatal(err)
	}
	if id.Mode != creds.ModePodIdentity || id.RoleARN != writerRole || id.SourceRoleARN != "" || id.ExternalID {
		t.Errorf("got mode %s, role %q, source role %q, external id %v; want pod-identity, %q, none, false (EKS sends it, not the pod)",
			id.Mode, id.RoleARN, id.SourceRoleARN, id.ExternalID, writerRole)
	}
	if err := creds.Require(id, []creds.Mode{creds.ModePodIdentity}); err != nil {
		t.Error(err)
	}
}
