package image_test

import (
	"archive/tar"
	"bytes"
	"compress/gzip"
	"crypto/sha256"
	"debug/elf"
	"encoding/hex"
	"encoding/json"
	"errors"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/eks-least-privilege/uploader/test/testenv"
)

// TestImageMultiArch builds the uploader for linux/amd64 and linux/arm64 the
// way `make image PLATFORMS=...` does (deploy/image.sh with podman), offline
// (test/image/build.sh: stand-ins for the base images, the host's Go
// toolchain and caches mounted), pushes the manifest list to an OCI layout
// on disk and checks each image there: the config's platform, user 65532,
// the OCI labels, and the binary itself (its ELF machine type, and that the
// same commit built again, here on the host with the Dockerfile's flags,
// gives the same bytes).
func TestImageMultiArch(t *testing.T) {
	if os.Geteuid() != 0 {
		testenv.Unavailable(t, "the image test runs rootful podman: run as root")
	}
	if _, err := exec.LookPath("podman"); err != nil {
		testenv.Unavailable(t, "podman not found: apt-get install podman runc")
	}
	root, err := filepath.Abs("../..")
	if err != nil {
		t.Fatal(err)
	}
	git := func(args ...string) string {
		out, err := exec.Command("git", append([]string{"-C", root}, args...)...).Output()
		if err != nil {
			t.Fatalf("git %v: %v", args, err)
		}
		return strings.TrimSpace(string(out))
	}
	version := "v0.0.0-test"
	revision := git("rev-parse", "HEAD")
	epoch := git("log", "-1", "--format=%ct")

	// A private store: nothing shared with other podman users of the machine.
	dir := t.TempDir()
	store := "--root " + filepath.Join(dir, "root") + " --runroot " + filepath.Join(dir, "runroot")
	const image = "localhost/uploader-multiarch:test"
	cmd := exec.Command("flock", "/tmp/uploader-podman.lock", "bash", "build.sh")
	cmd.Env = append(os.Environ(), "PLATFORMS=linux/amd64,linux/arm64", "UPLOADER_IMAGE="+image, "VERSION="+version, "PODMAN_OPTS="+store)
	start := time.Now()
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("build.sh: %v\n%s", err, out)
	}
	t.Logf("both platforms built in %s", time.Since(start).Round(time.Second))
	layout := filepath.Join(dir, "oci")
	push := exec.Command("sh", "-c", "podman "+store+" manifest push --all "+image+" oci:"+layout)
	push.Env = append(os.Environ(), "CONTAINERS_CONF="+filepath.Join(root, "test/image/containers.conf"))
	if out, err := push.CombinedOutput(); err != nil {
		t.Fatalf("manifest push: %v\n%s", err, out)
	}
	t.Cleanup(func() { _ = exec.Command("sh", "-c", "podman "+store+" system reset --force").Run() })

	var index ociIndex
	readJSON(t, filepath.Join(layout, "index.json"), &index)
	if len(index.Manifests) != 1 {
		t.Fatalf("index.json: %d entries, want the manifest list", len(index.Manifests))
	}
	var list ociIndex
	readJSON(t, blob(layout, index.Manifests[0].Digest), &list)
	seconds, err := strconv.ParseInt(epoch, 10, 64)
	if err != nil {
		t.Fatal(err)
	}
	created := time.Unix(seconds, 0).UTC().Format(time.RFC3339)
	machines := map[string]elf.Machine{"amd64": elf.EM_X86_64, "arm64": elf.EM_AARCH64}
	seen := map[string]bool{}
	for _, m := range list.Manifests {
		arch := m.Platform.Architecture
		seen[arch] = true
		t.Run(arch, func(t *testing.T) {
			var manifest ociManifest
			readJSON(t, blob(layout, m.Digest), &manifest)
			var config ociConfig
			readJSON(t, blob(layout, manifest.Config.Digest), &config)
			if config.Architecture != arch || config.OS != "linux" || m.Platform.OS != "linux" {
				t.Errorf("config platform %s/%s, index %s/%s; want linux/%s", config.OS, config.Architecture, m.Platform.OS, arch, arch)
			}
			if config.Config.User != "65532:65532" {
				t.Errorf("user %q, want 65532:65532", config.Config.User)
			}
			for k, want := range map[string]string{
				"org.opencontainers.image.source":   "https://github.com/eks-least-privilege/uploader",
				"org.opencontainers.image.revision": revision,
				"org.opencontainers.image.version":  version,
				"org.opencontainers.image.created":  created,
			} {
				if got := config.Config.Labels[k]; got != want {
					t.Errorf("label %s = %q, want %q", k, got, want)
				}
			}
			bin := findFile(t, layout, manifest, "uploader")
			f, err := elf.NewFile(bytes.NewReader(bin))
			if err != nil {
				t.Fatalf("/uploader is not ELF: %v", err)
			}
			if f.Machine != machines[arch] {
				t.Errorf("/uploader machine %s, want %s", f.Machine, machines[arch])
			}
			// The same commit built again, elsewhere: the same bytes.
			again := filepath.Join(dir, "uploader-"+arch)
			build := exec.Command("go", "build", "-trimpath", "-ldflags", "-s -w -X main.version="+version, "-o", again, "./cmd/uploader")
			build.Dir = root
			build.Env = append(os.Environ(), "CGO_ENABLED=0", "GOOS=linux", "GOARCH="+arch, "GOFLAGS=", "GOTOOLCHAIN=local")
			if out, err := build.CombinedOutput(); err != nil {
				t.Fatalf("go build: %v\n%s", err, out)
			}
			host, err := os.ReadFile(again)
			if err != nil {
				t.Fatal(err)
			}
			if sum(host) != sum(bin) {
				t.Errorf("the image's /uploader (sha256 %s) differs from a second build of the commit (%s)", sum(bin), sum(host))
			}
		})
	}
	if !seen["amd64"] || !seen["arm64"] || len(seen) != 2 {
		t.Errorf("manifest list platforms %v, want amd64 and arm64", seen)
	}
}

type ociDescriptor struct {
	Digest   string `json:"digest"`
	Platform struct {
		Architecture string `json:"architecture"`
		OS           string `json:"os"`
	} `json:"platform"`
}

type ociIndex struct {
	Manifests []ociDescriptor `json:"manifests"`
}

type ociManifest struct {
	Config ociDescriptor   `json:"config"`
	Layers []ociDescriptor `json:"layers"`
}

type ociConfig struct {
	Architecture string `json:"architecture"`
	OS           string `json:"os"`
	Config       struct {
		User   string            `json:"User"`
		Labels map[string]string `json:"Labels"`
	} `json:"config"`
}

func blob(layout, digest string) string {
	alg, hexsum, _ := strings.Cut(digest, ":")
	return filepath.Join(layout, "blobs", alg, hexsum)
}

func readJSON(t *testing.T, path string, v any) {
	t.Helper()
	raw, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	if err := json.Unmarshal(raw, v); err != nil {
		t.Fatalf("%s: %v", path, err)
	}
}

// findFile returns a regular file of the image's filesystem (the last
// layer that has it wins).
func findFile(t *testing.T, layout string, m ociManifest, name string) []byte {
	t.Helper()
	var found []byte
	for _, l := range m.Layers {
		f, err := os.Open(blob(layout, l.Digest))
		if err != nil {
			t.Fatal(err)
		}
		defer f.Close()
		var r io.Reader = f
		if gz, err := gzip.NewReader(f); err == nil {
			r = gz
		} else if _, serr := f.Seek(0, io.SeekStart); serr != nil {
			t.Fatal(serr)
		}
		tr := tar.NewReader(r)
		for {
			h, err := tr.Next()
			if errors.Is(err, io.EOF) {
				break
			}
			if err != nil {
				t.Fatalf("layer %s: %v", l.Digest, err)
			}
			if strings.TrimPrefix(h.Name, "./") == name && h.Typeflag == tar.TypeReg {
				if found, err = io.ReadAll(tr); err != nil {
					t.Fatal(err)
				}
			}
		}
	}
	if found == nil {
		t.Fatalf("no /%s in the image", name)
	}
	return found
}

func sum(b []byte) string {
	s := sha256.Sum256(b)
	return hex.EncodeToString(s[:])
}
