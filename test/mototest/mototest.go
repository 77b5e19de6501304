// Package mototest runs moto_server, a local AWS API emulator, on loopback
// for tests that need an STS answering AssumeRole and
// AssumeRoleWithWebIdentity with role sessions that GetCallerIdentity then
// names. Moto is more lenient than AWS: without IAM enforcement it checks
// neither trust policies nor the web identity token's signature, so a test
// using it proves what the client sends and reports, not what AWS would
// allow.
package mototest

import (
	"net/http"
	"os/exec"
	"syscall"
	"testing"
	"time"

	"github.com/eks-least-privilege/uploader/test/testenv"
)

// Start runs moto_server on a free loopback port and returns its endpoint
// (http://127.0.0.1:PORT); it is stopped at cleanup. Without moto_server on
// PATH the test is Unavailable.
func Start(t testing.TB) string {
	t.Helper()
	bin, err := exec.LookPath("moto_server")
	if err != nil {
		testenv.Unavailable(t, "moto_server not on PATH: pip install 'moto[server]'")
	}
	addr := testenv.FreePort(t)
	host, port := addr[:len("127.0.0.1")], addr[len("127.0.0.1:"):]
	log := &testenv.LockedBuffer{}
	cmd := exec.Command(bin, "-H", host, "-p", port)
	cmd.Stdout, cmd.Stderr = log, log
	cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
	if err := cmd.Start(); err != nil {
		t.Fatalf("start moto_server: %v", err)
	}
	t.Cleanup(func() {
		_ = cmd.Process.Kill()
		_ = cmd.Wait()
	})
	endpoint := "http://" + addr
	client := &http.Client{Timeout: time.Second}
	for deadline := time.Now().Add(30 * time.Second); ; time.Sleep(100 * time.Millisecond) {
		resp, err := client.Get(endpoint + "/moto-api/")
		if err == nil {
			resp.Body.Close()
			return endpoint
		}
		if time.Now().After(deadline) {
			t.Fatalf("moto_server did not answer on %s: %v\n%s", endpoint, err, log.String())
		}
	}
}
