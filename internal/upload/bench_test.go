package upload

import (
	"context"
	"fmt"
	"runtime"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/service/s3"
)

// BenchmarkUpload measures throughput against MinIO (skipped without one).
// "https" runs through the in-process TLS proxy, so it includes TLS both ways.
func BenchmarkUpload(b *testing.B) {
	e := newEnv(b)
	tests := []struct {
		name   string
		client *s3.Client
		size   int64
		known  bool
	}{
		{"200KiB/known/https", e.https, 200 << 10, true},
		{"200KiB/known/http", e.http, 200 << 10, true},
		{"16MiB/known/https", e.https, 16 << 20, true},
		{"64MiB/known/http-nochecksum", e.httpStream, 64 << 20, true},
		{"64MiB/known/http", e.http, 64 << 20, true},
		{"64MiB/unknown/http", e.http, 64 << 20, false},
		{"64MiB/unknown/https", e.https, 64 << 20, false},
	}
	for _, tt := range tests {
		b.Run(tt.name, func(b *testing.B) {
			u := New(tt.client, e.bucket, streamAll(tt.client == e.httpStream))
			keys := Keys{Host: "bench"}
			size := declared(tt.known, tt.size)
			b.SetBytes(tt.size)
			for b.Loop() {
				if _, err := u.Upload(context.Background(), keys.Next("bin"), &patternReader{left: tt.size}, size, Metadata{ContentType: "application/octet-stream"}); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

// BenchmarkUploadMemory streams a 256 MiB generated body and reports the Go
// heap it took: peak-heap-MiB is the highest HeapInuse sampled every
// millisecond minus the heap before the upload, alloc-MiB/op the bytes
// allocated per upload. The body is never held whole.
func BenchmarkUploadMemory(b *testing.B) {
	e := newEnv(b)
	const size = 256 << 20
	tests := []struct {
		name   string
		client *s3.Client
		known  bool
	}{
		{"known/http-nochecksum", e.httpStream, true}, // one streaming PutObject
		{"known/http", e.http, true},                  // buffered parts
		{"unknown/http", e.http, false},               // buffered parts
	}
	for _, tt := range tests {
		b.Run(tt.name, func(b *testing.B) {
			u := New(tt.client, e.bucket, streamAll(tt.client == e.httpStream))
			keys := Keys{Host: "bench"}
			n := declared(tt.known, size)
			b.SetBytes(size)
			var peak, allocs uint64
			for b.Loop() {
				p, a, err := heapDuring(func() error {
					_, err := u.Upload(context.Background(), keys.Next("bin"), &patternReader{left: size}, n, Metadata{ContentType: "application/octet-stream"})
					return err
				})
				if err != nil {
					b.Fatal(err)
				}
				peak, allocs = max(peak, p), allocs+a
			}
			b.ReportMetric(float64(peak)/(1<<20), "peak-heap-MiB")
			b.ReportMetric(float64(allocs)/(1<<20)/float64(b.N), "alloc-MiB/op")
		})
	}
}

// streamAll lifts MaxPutSize to S3's 5 GiB limit when stream is true, so
// that a large known-size body takes the one streaming PutObject.
func streamAll(stream bool) Options {
	if stream {
		return Options{MaxPutSize: 5 << 30}
	}
	return Options{}
}

// heapDuring runs f and returns the peak HeapInuse above the starting level
// and the bytes allocated meanwhile.
func heapDuring(f func() error) (peak, alloc uint64, err error) {
	runtime.GC()
	var before runtime.MemStats
	runtime.ReadMemStats(&before)

	done := make(chan struct{})
	var wg sync.WaitGroup
	wg.Go(func() {
		t := time.NewTicker(time.Millisecond)
		defer t.Stop()
		var m runtime.MemStats
		for {
			runtime.ReadMemStats(&m)
			if m.HeapInuse > before.HeapInuse {
				peak = max(peak, m.HeapInuse-before.HeapInuse)
			}
			select {
			case <-done:
				return
			case <-t.C:
			}
		}
	})
	err = f()
	close(done)
	wg.Wait()

	var after runtime.MemStats
	runtime.ReadMemStats(&after)
	return peak, after.TotalAlloc - before.TotalAlloc, err
}

// ExampleKeys shows the key shape.
func ExampleKeys() {
	k := Keys{
		Prefix: "images",
		Host:   "uploader-5f7c9-x2x4q",
		Now:    func() time.Time { return time.Date(2026, 1, 2, 3, 4, 5, 6_000_000, time.UTC) },
	}
	key := k.Next("jpg")
	fmt.Println(key[:len(key)-12]) // the 8 random hex digits and ".jpg" vary
	// Output: images/uploader-5f7c9-x2x4q/2026/01/02/20260102T030405.006Z-
}
