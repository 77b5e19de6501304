package fetch

import (
	"io"
	"math/rand/v2"
	"testing"
)

// builtinJPEG makes one builtin image, forcing JPEG, to serve in benchmarks.
func builtinJPEG(b *testing.B) []byte {
	b.Helper()
	c := newTestClient(b, BuiltinSource, Options{Rand: rand.New(rand.NewPCG(1, 1))})
	for {
		img, err := c.Fetch(b.Context())
		if err != nil {
			b.Fatal(err)
		}
		data, err := io.ReadAll(img.Body)
		if err != nil {
			b.Fatal(err)
		}
		if img.Ext == "jpg" {
			return data
		}
	}
}

func benchmarkFetch(b *testing.B, c *Client) {
	b.Helper()
	b.ReportAllocs()
	var total int64
	for b.Loop() {
		img, err := c.Fetch(b.Context())
		if err != nil {
			b.Fatal(err)
		}
		n, err := io.Copy(io.Discard, img.Body)
		img.Body.Close()
		if err != nil {
			b.Fatal(err)
		}
		total += n
	}
	b.SetBytes(total / int64(b.N))
}

func BenchmarkFetchHTTP(b *testing.B) {
	data := builtinJPEG(b)
	for _, tt := range []struct {
		name    string
		chunked bool
	}{
		{"length", false},
		{"chunked", true},
	} {
		b.Run(tt.name, func(b *testing.B) {
			c := newTestClient(b, serve(b, bodyHandler(data, tt.chunked, "image/jpeg")), Options{})
			benchmarkFetch(b, c)
		})
	}
}

func BenchmarkFetchBuiltin(b *testing.B) {
	c := newTestClient(b, BuiltinSource, Options{Rand: rand.New(rand.NewPCG(1, 2))})
	benchmarkFetch(b, c)
}
