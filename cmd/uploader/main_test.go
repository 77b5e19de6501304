package main

import (
	"bufio"
	"bytes"
	"context"
	"crypto/rand"
	"errors"
	"fmt"
	"image"
	"image/color"
	"image/png"
	"io"
	"net/http"
	"net/http/httptest"
	"os/exec"
	"path/filepath"
	"regexp"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/s3"

	"github.com/eks-least-privilege/uploader/internal/cycle"
	"github.com/eks-least-privilege/uploader/test/miniotest"
	"github.com/eks-least-privilege/uploader/test/testenv"
)

// s3Env is the environment of a run against srv with its root credentials,
// unless vars say otherwise.
func s3Env(t *testing.T, srv *miniotest.Server, bucket string, vars map[string]string) {
	t.Helper()
	testenv.IsolateAWSEnv(t)
	env := map[string]string{
		"S3_BUCKET_NAME":        bucket,
		"AWS_REGION":            miniotest.Region,
		"AWS_ENDPOINT_URL_S3":   srv.Endpoint,
		"AWS_ACCESS_KEY_ID":     srv.RootUser,
		"AWS_SECRET_ACCESS_KEY": srv.RootPassword,
		"S3_USE_PATH_STYLE":     "true",
		"IMAGE_SOURCE_URL":      "builtin:",
		"UPLOAD_INTERVAL":       "100ms",
		"METRICS_ADDR":          "127.0.0.1:0",
		"POD_NAME":              "test-pod",
	}
	for k, v := range vars {
		env[k] = v
	}
	setEnv(t, env)
}

var keyShape = regexp.MustCompile(`^jobs/test-pod/\d{4}/\d{2}/\d{2}/\d{8}T\d{6}\.\d{3}Z-[0-9a-f]{8}\.(png|jpg)$`)

func TestJobUploadsCountThenExits(t *testing.T) {
	srv := miniotest.Start(t)
	bucket := srv.Bucket(t)
	s3Env(t, srv, bucket, map[string]string{"UPLOAD_COUNT": "3", "S3_KEY_PREFIX": "jobs/"})
	var logs testenv.LockedBuffer
	if err := run(t.Context(), nil, &logs); err != nil {
		t.Fatalf("run: got %v, want nil\n%s", err, logs.String())
	}
	keys := srv.Keys(t, bucket)
	if len(keys) != 3 {
		t.Fatalf("objects: got %d %v, want 3", len(keys), keys)
	}
	client := srv.Client(t)
	for _, k := range keys {
		if !keyShape.MatchString(k) {
			t.Errorf("key %q: does not match %s", k, keyShape)
		}
		out, err := client.GetObject(t.Context(), &s3.GetObjectInput{Bucket: aws.String(bucket), Key: aws.String(k)})
		if err != nil {
			t.Fatalf("get %s: %v", k, err)
		}
		body, _ := io.ReadAll(out.Body)
		out.Body.Close()
		if got := http.DetectContentType(body); got != aws.ToString(out.ContentType) {
			t.Errorf("%s: Content-Type got %q, want %q (sniffed)", k, aws.ToString(out.ContentType), got)
		}
		if _, _, err := image.Decode(bytes.NewReader(body)); err != nil {
			t.Errorf("%s: stored bytes are not an image: %v", k, err)
		}
	}
	for _, want := range []string{`"msg":"uploader starting"`, `"msg":"object uploaded"`, `"msg":"upload count reached, exiting"`} {
		if !strings.Contains(logs.String(), want) {
			t.Errorf("logs lack %s", want)
		}
	}
}

func TestJobFailsAfterConsecutiveFailures(t *testing.T) {
	srv := miniotest.Start(t)
	s3Env(t, srv, "no-such-bucket-"+testenv.RandomHex(4), map[string]string{"UPLOAD_COUNT": "2", "UPLOAD_MAX_CONSECUTIVE_FAILURES": "2"})
	var logs testenv.LockedBuffer
	err := run(t.Context(), nil, &logs)
	if !errors.Is(err, cycle.ErrTooManyFailures) {
		t.Fatalf("run: got %v, want cycle.ErrTooManyFailures\n%s", err, logs.String())
	}
	if got := exitCode(err); got == 0 {
		t.Errorf("exit code: got %d, want non-zero", got)
	}
	if !strings.Contains(logs.String(), `"reason":"no_such_bucket"`) {
		t.Errorf("logs lack the reason no_such_bucket:\n%s", logs.String())
	}
}

// pngBytes is a real PNG image.
func pngBytes(t testing.TB) []byte {
	t.Helper()
	img := image.NewRGBA(image.Rect(0, 0, 16, 16))
	img.Set(1, 1, color.RGBA{255, 0, 0, 255})
	var b bytes.Buffer
	if err := png.Encode(&b, img); err != nil {
		t.Fatal(err)
	}
	return b.Bytes()
}

// metricsAddr waits for the run's log line that names the metrics address.
func metricsAddr(t *testing.T, logs *testenv.LockedBuffer) string {
	t.Helper()
	re := regexp.MustCompile(`"msg":"metrics server listening","addr":"([^"]+)"`)
	deadline := time.Now().Add(30 * time.Second)
	for time.Now().Before(deadline) {
		if m := re.FindStringSubmatch(logs.String()); m != nil {
			return m[1]
		}
		time.Sleep(20 * time.Millisecond)
	}
	t.Fatalf("no metrics address logged:\n%s", logs.String())
	return ""
}

// scrape returns the value of each sample line of /metrics.
func scrape(t *testing.T, addr string) map[string]float64 {
	t.Helper()
	resp, err := http.Get("http://" + addr + "/metrics")
	if err != nil {
		t.Fatalf("scrape: %v", err)
	}
	defer resp.Body.Close()
	samples := map[string]float64{}
	sc := bufio.NewScanner(resp.Body)
	for sc.Scan() {
		line := sc.Text()
		if strings.HasPrefix(line, "#") || line == "" {
			continue
		}
		i := strings.LastIndexByte(line, ' ')
		v, err := strconv.ParseFloat(line[i+1:], 64)
		if err == nil {
			samples[line[:i]] = v
		}
	}
	return samples
}

func TestDeploymentMetricsAndBadDownloads(t *testing.T) {
	good := pngBytes(t)
	var n int
	var mu sync.Mutex
	source := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		mu.Lock()
		n++
		i := n
		mu.Unlock()
		switch i % 3 {
		case 1: // the walkthrough's fault: an error page uploaded as .jpg
			w.Header().Set("Content-Type", "image/jpeg")
			fmt.Fprint(w, "<html><body>Service unavailable</body></html>")
		case 2:
			w.WriteHeader(http.StatusServiceUnavailable)
		default:
			w.Header().Set("Content-Type", "text/html") // lies: the bytes are a PNG
			w.Write(good)
		}
	}))
	defer source.Close()

	srv := miniotest.Start(t)
	bucket := srv.Bucket(t)
	s3Env(t, srv, bucket, map[string]string{"IMAGE_SOURCE_URL": source.URL, "UPLOAD_INTERVAL": "100ms"})
	ctx, cancel := context.WithCancel(t.Context())
	defer cancel()
	var logs testenv.LockedBuffer
	done := make(chan error, 1)
	go func() { done <- run(ctx, nil, &logs) }()
	addr := metricsAddr(t, &logs)

	deadline := time.Now().Add(60 * time.Second)
	var m map[string]float64
	for {
		m = scrape(t, addr)
		if m["uploader_uploads_total"] >= 2 || time.Now().After(deadline) {
			break
		}
		time.Sleep(100 * time.Millisecond)
	}
	if got := probe(t, addr, "/healthz"); got != http.StatusOK {
		t.Errorf("/healthz: got %d, want 200", got)
	}
	// Ready after a cycle that succeeded; one of three fails, so some do.
	for probe(t, addr, "/readyz") != http.StatusOK {
		if time.Now().After(deadline) {
			t.Fatal("/readyz: never 200 while uploads succeed")
		}
		time.Sleep(20 * time.Millisecond)
	}
	cancel()
	if err := <-done; err != nil {
		t.Fatalf("run after cancel: got %v, want nil", err)
	}

	uploads := m["uploader_uploads_total"]
	if uploads < 2 {
		t.Fatalf("uploader_uploads_total: got %v, want >= 2\n%s", uploads, logs.String())
	}
	if got, want := m["uploader_uploaded_bytes_total"], uploads*float64(len(good)); got != want {
		t.Errorf("uploader_uploaded_bytes_total: got %v, want %v", got, want)
	}
	if m[`uploader_upload_failures_total{reason="not_image",stage="validate"}`] < 1 {
		t.Errorf("failures{validate,not_image}: got %v, want >= 1", m[`uploader_upload_failures_total{reason="not_image",stage="validate"}`])
	}
	if m[`uploader_upload_failures_total{reason="status",stage="fetch"}`] < 1 {
		t.Errorf("failures{fetch,status}: got %v, want >= 1", m[`uploader_upload_failures_total{reason="status",stage="fetch"}`])
	}
	if _, ok := m[`uploader_upload_failures_total{reason="exists",stage="upload"}`]; !ok {
		t.Error("failures{upload,exists}: missing, want initialised to 0")
	}
	if m["uploader_last_success_timestamp_seconds"] <= 0 {
		t.Error("uploader_last_success_timestamp_seconds: got 0, want set")
	}
	if m["uploader_fetch_duration_seconds_count"] < uploads || m["uploader_upload_duration_seconds_count"] != uploads {
		t.Errorf("duration histogram counts: fetch %v, upload %v, want >= %v and == %v",
			m["uploader_fetch_duration_seconds_count"], m["uploader_upload_duration_seconds_count"], uploads, uploads)
	}
	if _, ok := m[`uploader_build_info{goversion="`+runtime.Version()+`",version="dev"}`]; !ok {
		t.Errorf("uploader_build_info: missing")
	}
	// Only images were stored, each under a .png key.
	keys := srv.Keys(t, bucket)
	if float64(len(keys)) < uploads {
		t.Errorf("objects: got %d, want >= %v", len(keys), uploads)
	}
	for _, k := range keys {
		if !strings.HasSuffix(k, ".png") {
			t.Errorf("key %q: want .png, the sniffed type", k)
		}
		out, err := srv.Client(t).GetObject(t.Context(), &s3.GetObjectInput{Bucket: aws.String(bucket), Key: aws.String(k)})
		if err != nil {
			t.Fatalf("get %s: %v", k, err)
		}
		stored, _ := io.ReadAll(out.Body)
		out.Body.Close()
		if !bytes.Equal(stored, good) {
			t.Errorf("%s: stored %d bytes that differ from the %d served", k, len(stored), len(good))
		}
		if got := aws.ToString(out.ContentType); got != "image/png" {
			t.Errorf("%s: Content-Type got %q, want image/png (sniffed, not the server's text/html)", k, got)
		}
	}
}

func probe(t *testing.T, addr, path string) int {
	t.Helper()
	resp, err := http.Get("http://" + addr + path)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	return resp.StatusCode
}

// slowImage streams a PNG header then size bytes slowly, with or without a
// declared length.
func slowImage(size int64, declared bool) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "image/png")
		if declared {
			w.Header().Set("Content-Length", strconv.FormatInt(size, 10))
		}
		// A real signature and IHDR (33 bytes), as fetch checks the header.
		var sample bytes.Buffer
		png.Encode(&sample, image.NewRGBA(image.Rect(0, 0, 16, 16)))
		head := sample.Bytes()[:33]
		w.Write(head)
		buf := make([]byte, 256<<10)
		rand.Read(buf)
		for sent := int64(len(head)); sent < size; sent += int64(len(buf)) {
			if _, err := w.Write(buf[:min(int64(len(buf)), size-sent)]); err != nil {
				return
			}
			w.(http.Flusher).Flush()
			select {
			case <-r.Context().Done():
				return
			case <-time.After(20 * time.Millisecond):
			}
		}
	}
}

// TestSIGTERMDuringLargeUpload builds the binary, starts a large slow upload,
// sends SIGTERM, and checks the process exits 0 leaving no partial object and
// no multipart upload in progress.
func TestSIGTERMDuringLargeUpload(t *testing.T) {
	bin := filepath.Join(t.TempDir(), "uploader")
	if out, err := exec.Command("go", "build", "-o", bin, ".").CombinedOutput(); err != nil {
		t.Fatalf("go build: %v\n%s", err, out)
	}
	srv := miniotest.Start(t)
	for _, declared := range []bool{true, false} {
		t.Run(fmt.Sprintf("declared length %v", declared), func(t *testing.T) {
			source := httptest.NewServer(slowImage(1<<30, declared))
			defer source.Close()
			bucket := srv.Bucket(t)
			s3Env(t, srv, bucket, map[string]string{
				"IMAGE_SOURCE_URL": source.URL, "MAX_IMAGE_BYTES": strconv.Itoa(2 << 30),
				"FETCH_TIMEOUT": "10m", "UPLOAD_TIMEOUT": "10m", "SHUTDOWN_TIMEOUT": "1s",
			})
			cmd := exec.Command(bin)
			var logs testenv.LockedBuffer
			cmd.Stdout, cmd.Stderr = &logs, &logs
			if err := cmd.Start(); err != nil {
				t.Fatal(err)
			}
			defer cmd.Process.Kill()
			// Wait until the upload is under way in S3, so that the test can
			// see it left behind.
			deadline := time.Now().Add(30 * time.Second)
			for len(srv.MultipartUploads(t, bucket)) == 0 {
				if time.Now().After(deadline) {
					t.Fatalf("no multipart upload started within 30s\n%s", logs.String())
				}
				time.Sleep(50 * time.Millisecond)
			}
			time.Sleep(time.Second) // parts on their way
			if err := cmd.Process.Signal(syscall.SIGTERM); err != nil {
				t.Fatal(err)
			}
			waited := make(chan error, 1)
			go func() { waited <- cmd.Wait() }()
			testenv.WaitReturn(t, waited, 30*time.Second, "the process after SIGTERM (exit 0)", &logs)
			if keys := srv.Keys(t, bucket); len(keys) != 0 {
				t.Errorf("objects after SIGTERM: got %v, want none", keys)
			}
			if ups := srv.MultipartUploads(t, bucket); len(ups) != 0 {
				t.Errorf("multipart uploads in progress after SIGTERM: got %v, want none", ups)
			}
			if !strings.Contains(logs.String(), `"msg":"stopped by signal"`) {
				t.Errorf("logs lack the stop line:\n%s", logs.String())
			}
		})
	}
}
