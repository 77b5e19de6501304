package main

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/eks-least-privilege/uploader/standin"
	"github.com/eks-least-privilege/uploader/test/miniotest"
	"github.com/eks-least-privilege/uploader/test/standintest"
	"github.com/eks-least-privilege/uploader/test/testenv"
)

// modesFixture is a MinIO server trusting the stand-ins' OIDC issuer, with a
// bucket and a put-only user whose credentials the stand-ins serve.
type modesFixture struct{ standintest.Fixture }

func setupModes(t *testing.T, sopts standin.StackOptions, mopts standin.MinterOptions) modesFixture {
	t.Helper()
	return modesFixture{standintest.Start(t, sopts, mopts)}
}

// setEnv isolates the AWS environment and sets the uploader's configuration
// for credential mode (static-legacy: the AWS_ACCESS_KEY/AWS_SECRET_KEY names)
// with keys under prefix.
func (f modesFixture) setEnv(t *testing.T, mode, prefix string) {
	t.Helper()
	testenv.IsolateAWSEnv(t)
	var env []string
	if mode == "root" {
		env = []string{"AWS_ACCESS_KEY_ID=" + f.Srv.RootUser, "AWS_SECRET_ACCESS_KEY=" + f.Srv.RootPassword}
	} else {
		env = f.ModeEnv(t, mode)
	}
	required := strings.TrimSuffix(mode, "-legacy")
	if mode == "root" {
		required = "static"
	}
	if !strings.HasPrefix(mode, "irsa") {
		// GetCallerIdentity too stays on loopback (MinIO answers it with an error).
		env = append(env, "AWS_ENDPOINT_URL_STS="+f.Srv.Endpoint)
	}
	env = append(env,
		"S3_BUCKET_NAME="+f.Bucket,
		"S3_KEY_PREFIX="+prefix,
		"AWS_REGION="+miniotest.Region,
		"AWS_ENDPOINT_URL_S3="+f.Srv.Endpoint,
		"S3_USE_PATH_STYLE=true",
		"IMAGE_SOURCE_URL=builtin:",
		"UPLOAD_INTERVAL=200ms",
		"UPLOAD_COUNT=3",
		"METRICS_ADDR=127.0.0.1:0",
		"REQUIRE_CREDENTIAL_MODE="+required,
	)
	for _, kv := range env {
		k, v, _ := strings.Cut(kv, "=")
		t.Setenv(k, v)
	}
}

// keysUnder returns the bucket's keys that start with prefix.
func (f modesFixture) keysUnder(t *testing.T, prefix string) []string {
	t.Helper()
	var keys []string
	for _, k := range f.Srv.Keys(t, f.Bucket) {
		if strings.HasPrefix(k, prefix) {
			keys = append(keys, k)
		}
	}
	return keys
}

func runFor(t *testing.T, limit time.Duration, args ...string) (string, error) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), limit)
	defer cancel()
	var out testenv.LockedBuffer
	err := run(ctx, args, &out)
	return out.String(), err
}

func TestCredentialModesEndToEnd(t *testing.T) {
	f := setupModes(t, standin.StackOptions{}, standin.MinterOptions{})
	for _, mode := range []string{"static", "static-legacy", "node-role", "irsa", "pod-identity"} {
		t.Run(mode, func(t *testing.T) {
			prefix := mode + "/"
			wantMode := strings.TrimSuffix(mode, "-legacy")
			f.setEnv(t, mode, prefix)

			out, err := runFor(t, time.Minute)
			if err != nil {
				t.Fatalf("run: got %v, want nil\n%s", err, out)
			}
			if want := `"mode":"` + wantMode + `"`; !strings.Contains(out, want) {
				t.Errorf("log: got no %s in\n%s", want, out)
			}
			f.assertNoSecrets(t, out)
			if got := len(f.keysUnder(t, prefix)); got != 3 {
				t.Errorf("objects under %s: got %d, want 3", prefix, got)
			}

			// The fixture's user may put anywhere in the bucket: least
			// privilege holds for no prefix (with one, the put outside it is allowed).
			t.Setenv("S3_KEY_PREFIX", "")
			out, err = runFor(t, time.Minute, "check")
			if err != nil {
				t.Errorf("check: got %v, want nil (least privilege)\n%s", err, out)
			}
			if got := checkField(out, "credential mode:"); got != wantMode {
				t.Errorf("check credential mode: got %q, want %q\n%s", got, wantMode, out)
			}
			// STS is MinIO's, which does not implement GetCallerIdentity: the
			// check says so rather than leave a bare 400.
			if got := checkField(out, "caller arn:"); !strings.Contains(got, "does not implement GetCallerIdentity") {
				t.Errorf("check caller arn: got %q, want why MinIO gives none\n%s", got, out)
			}
			f.assertNoSecrets(t, out)
		})
	}
}

// assertNoSecrets fails if out holds any secret of the fixture: the static
// keys' secret, MinIO's root password, any secret key or session token the
// stand-ins minted, or any JWT (service-account tokens, MinIO session tokens).
func (f modesFixture) assertNoSecrets(t *testing.T, out string) {
	t.Helper()
	testenv.NoSecrets(t, out, append([]string{f.Secret, f.Srv.RootPassword}, f.Minter.Secrets()...)...)
}

func TestCheckReportsOverPrivilege(t *testing.T) {
	f := setupModes(t, standin.StackOptions{Services: []string{standin.ServiceIMDS, standin.ServicePodIdentity}}, standin.MinterOptions{})
	f.setEnv(t, "root", "root/")
	out, err := runFor(t, time.Minute, "check")
	assertOverPrivileged(t, out, err)
	f.assertNoSecrets(t, out)

	// The same for temporary credentials of a user allowed everything in the
	// bucket, served as the node's role and by the Pod Identity agent.
	user, secret := "readwrite"+testenv.RandomHex(4), testenv.RandomHex(16)
	f.Srv.Admin(t, "admin", "user", "add", "t", user, secret)
	f.Srv.Admin(t, "admin", "policy", "attach", "t", "readwrite", "--user", user)
	f.Stack.UseMinter(standin.NewMinter(f.Srv.Endpoint, user, secret, standin.MinterOptions{}))
	for _, mode := range []string{"node-role", "pod-identity"} {
		t.Run(mode, func(t *testing.T) {
			f.setEnv(t, mode, "over-"+mode+"/")
			out, err := runFor(t, time.Minute, "check")
			assertOverPrivileged(t, out, err)
			if strings.Contains(out, secret) {
				t.Error("check output holds the readwrite user's secret key")
			}
			f.assertNoSecrets(t, out)
		})
	}
}

func assertOverPrivileged(t *testing.T, out string, err error) {
	t.Helper()
	if got := exitCode(err); got != 3 {
		t.Errorf("check exit code: got %d (%v), want 3 (over-privileged)\n%s", got, err, out)
	}
	if !strings.Contains(out, "OVER-PRIVILEGED") {
		t.Errorf("check table lacks OVER-PRIVILEGED:\n%s", out)
	}
}

// TestRotationKeepsUploading runs the uploader while credentials are
// refreshed every few seconds: advertised for 2s by IMDS and Pod Identity, and
// for IRSA a 4s token, rewritten at 80% of its life as the kubelet does, to
// which MinIO ties the credentials.
func TestRotationKeepsUploading(t *testing.T) {
	if testing.Short() {
		t.Skip("rotation runs for seconds")
	}
	f := setupModes(t, standin.StackOptions{TokenLifetime: 4 * time.Second}, standin.MinterOptions{Advertise: 2 * time.Second})
	// Credentials that live 2s are inside the expiry window of a minute
	// from the start: every cycle retrieves them again, so each rotation
	// of the stand-ins is met.
	for _, mode := range []string{"node-role", "irsa", "pod-identity"} {
		t.Run(mode, func(t *testing.T) {
			prefix := "rotation-" + mode + "/"
			f.setEnv(t, mode, prefix)
			t.Setenv("UPLOAD_INTERVAL", "250ms")
			t.Setenv("UPLOAD_COUNT", "28")
			minted, signed := f.Minter.Minted(), f.Stack.Issuer.Signed()

			out, err := runFor(t, time.Minute)
			if err != nil {
				t.Fatalf("run: got %v, want nil\n%s", err, out)
			}
			if n := strings.Count(out, `"cycle failed"`); n > 0 {
				t.Errorf("failed cycles: got %d, want 0\n%s", n, out)
			}
			f.assertNoSecrets(t, out)
			if got := len(f.keysUnder(t, prefix)); got != 28 {
				t.Errorf("objects: got %d, want 28", got)
			}
			refreshes := f.Minter.Minted() - minted
			if mode == "irsa" {
				refreshes = f.Stack.Issuer.Signed() - signed
			}
			if refreshes < 3 {
				t.Errorf("credential refreshes in 7s: got %d, want at least 3", refreshes)
			}
		})
	}
}

// TestRevocationCountsFailuresAndRecovers withdraws the Pod Identity
// credentials while the uploader runs, then gives them back.
func TestRevocationCountsFailuresAndRecovers(t *testing.T) {
	if testing.Short() {
		t.Skip("revocation runs for seconds")
	}
	f := setupModes(t, standin.StackOptions{Services: []string{standin.ServicePodIdentity}}, standin.MinterOptions{Advertise: 2 * time.Second})
	f.setEnv(t, "pod-identity", "revocation/")
	t.Setenv("UPLOAD_COUNT", "0")
	t.Setenv("UPLOAD_MAX_CONSECUTIVE_FAILURES", "1000")

	ctx, cancel := context.WithCancel(context.Background())
	var out testenv.LockedBuffer
	done := make(chan error, 1)
	go func() { done <- run(ctx, nil, &out) }()
	t.Cleanup(func() {
		cancel()
		select {
		case <-done:
		case <-time.After(30 * time.Second):
			t.Error("run did not return 30s after cancel")
		}
	})
	uploaded := func() int { return strings.Count(out.String(), `"object uploaded"`) }
	failed := func() int { return strings.Count(out.String(), `"cycle failed"`) }
	testenv.WaitFor(t, 30*time.Second, "a first upload", func() bool { return uploaded() > 0 })

	f.Minter.Revoke()
	testenv.WaitFor(t, 30*time.Second, "failed cycles", func() bool { return failed() >= 2 })
	if s := out.String(); !strings.Contains(s, "InvalidAccessKeyId") && !strings.Contains(s, "denied") {
		t.Errorf("failure log: got no clear reason (InvalidAccessKeyId or access denied) in\n%s", s)
	}

	before := uploaded()
	f.Minter.Restore()
	testenv.WaitFor(t, 30*time.Second, "uploads to resume", func() bool { return uploaded() >= before+2 })
	f.assertNoSecrets(t, out.String())
}

// checkField returns the value after label in `uploader check` output.
func checkField(out, label string) string {
	for line := range strings.Lines(out) {
		if v, ok := strings.CutPrefix(line, label); ok {
			return strings.TrimSpace(v)
		}
	}
	return ""
}

// TestNodeRoleHopLimitIsNamed serves IMDS that never answers token requests,
// as IMDSv2 does for a pod behind a hop limit of 1: the error must say so.
func TestNodeRoleHopLimitIsNamed(t *testing.T) {
	f := setupModes(t, standin.StackOptions{Services: []string{standin.ServiceIMDS}}, standin.MinterOptions{})
	f.Stack.IMDS.SetHopLimitExceeded(true)
	f.setEnv(t, "node-role", "hop/")
	out, err := runFor(t, time.Minute, "check")
	if err == nil {
		t.Fatalf("check with IMDS unreachable: got nil error\n%s", out)
	}
	t.Logf("error: %v", err)
	if !strings.Contains(err.Error(), "hop limit") {
		t.Errorf("error: got %q, want it to name the IMDSv2 hop limit", err)
	}
	f.assertNoSecrets(t, out+err.Error())
}
