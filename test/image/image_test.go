// Package image_test builds the container image with podman, offline, and runs
// it hardened for one upload to a real MinIO (test/image/run.sh).
package image_test

import (
	"os"
	"os/exec"
	"strings"
	"testing"

	"github.com/eks-least-privilege/uploader/test/miniotest"
	"github.com/eks-least-privilege/uploader/test/testenv"
)

func TestImageUploadsHardened(t *testing.T) {
	if os.Geteuid() != 0 {
		testenv.Unavailable(t, "the image test runs rootful podman: run as root")
	}
	if _, err := exec.LookPath("podman"); err != nil {
		testenv.Unavailable(t, "podman not found: apt-get install podman runc")
	}
	srv := miniotest.Start(t)
	bucket := srv.Bucket(t)
	key, secret := srv.PutOnlyUser(t, bucket, "", "putonly")

	// Under the podman lock: run.sh's image names are fixed, and a second
	// run at the same time in the shared store (another checkout on the
	// machine) would remove them under this one.
	cmd := exec.Command("flock", "/tmp/uploader-podman.lock", "bash", "run.sh")
	cmd.Env = append(os.Environ(),
		"AWS_ENDPOINT_URL_S3="+srv.Endpoint,
		"S3_BUCKET_NAME="+bucket,
		"AWS_ACCESS_KEY_ID="+key,
		"AWS_SECRET_ACCESS_KEY="+secret,
		"AWS_REGION="+miniotest.Region,
	)
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("run.sh: %v\n%s", err, out)
	}
	t.Logf("%s", lastLines(string(out), 5))
	keys := srv.Keys(t, bucket)
	if len(keys) != 1 {
		t.Fatalf("objects after one upload from the image: got %v, want 1", keys)
	}
	if strings.Contains(string(out), secret) {
		t.Error("the image test output shows the secret key")
	}
}

func lastLines(s string, n int) string {
	lines := strings.Split(strings.TrimSpace(s), "\n")
	return strings.Join(lines[max(0, len(lines)-n):], "\n")
}
