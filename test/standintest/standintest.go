// Package standintest starts, for one test, a real MinIO that trusts the
// stand-ins' OIDC issuer, with a bucket and a put-only user whose temporary
// credentials the stand-ins serve: the set-up every credential-mode test needs.
package standintest

import (
	"context"
	"testing"
	"time"

	"github.com/eks-least-privilege/uploader/standin"
	"github.com/eks-least-privilege/uploader/test/miniotest"
	"github.com/eks-least-privilege/uploader/test/testenv"
)

// Fixture is a MinIO server trusting a Stack's issuer, with a bucket and a
// put-only user whose credentials the Stack serves.
type Fixture struct {
	Srv          *miniotest.Server
	Stack        *standin.Stack
	Minter       *standin.Minter
	Bucket       string
	User, Secret string
}

// Start isolates the AWS environment and starts the stand-ins, then MinIO
// (which reads the issuer's discovery document at start), a bucket and the
// put-only user. Everything stops at cleanup.
func Start(t testing.TB, sopts standin.StackOptions, mopts standin.MinterOptions) Fixture {
	t.Helper()
	testenv.IsolateAWSEnv(t)
	if miniotest.Binary() == "" || miniotest.MCBinary() == "" {
		testenv.Unavailable(t, "credential mode tests need minio and mc on PATH or in $GOPATH/bin: go install "+
			miniotest.MinIOModule+" "+miniotest.MCModule)
	}
	sopts.TokenDir = t.TempDir()
	stack, err := standin.StartStack(sopts)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		if err := stack.Close(ctx); err != nil {
			t.Errorf("close stand-ins: %v", err)
		}
	})
	srv := miniotest.StartWith(t, miniotest.Options{Env: stack.MinIOEnv("putonly")})
	bucket := srv.Bucket(t)
	user, secret := srv.PutOnlyUser(t, bucket, "", "putonly")
	m := standin.NewMinter(srv.Endpoint, user, secret, mopts)
	stack.UseMinter(m)
	return Fixture{Srv: srv, Stack: stack, Minter: m, Bucket: bucket, User: user, Secret: secret}
}

// ModeEnv returns the AWS environment of a credential mode: static and
// static-legacy (the walkthrough's AWS_ACCESS_KEY/AWS_SECRET_KEY names) with
// the put-only user's keys, or a stand-in mode (node-role, irsa, pod-identity).
func (f Fixture) ModeEnv(t testing.TB, mode string) []string {
	t.Helper()
	switch mode {
	case "static":
		return []string{"AWS_ACCESS_KEY_ID=" + f.User, "AWS_SECRET_ACCESS_KEY=" + f.Secret}
	case "static-legacy":
		return []string{"AWS_ACCESS_KEY=" + f.User, "AWS_SECRET_KEY=" + f.Secret}
	}
	env, err := f.Stack.Env(mode)
	if err != nil {
		t.Fatal(err)
	}
	return env
}
