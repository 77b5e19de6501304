package fetch

import (
	"bytes"
	"context"
	"errors"
	"image"
	_ "image/jpeg" // register decoders for image.Decode
	_ "image/png"
	"io"
	"math/rand/v2"
	"sync"
	"testing"
)

func readBuiltin(t *testing.T, c *Client) (*Image, []byte) {
	t.Helper()
	img, data, _, err := fetchAll(t.Context(), c)
	if err != nil {
		t.Fatalf("got error %v, want nil", err)
	}
	return img, data
}

func TestBuiltin(t *testing.T) {
	c := newTestClient(t, BuiltinSource, Options{Rand: rand.New(rand.NewPCG(1, 2))})
	seen := map[string]bool{}
	// Enough fetches to see both formats with this seed.
	for i := range 8 {
		img, data := readBuiltin(t, c)
		if img.Size != int64(len(data)) {
			t.Errorf("fetch %d: got Size %d, want %d", i, img.Size, len(data))
		}
		decoded, format, err := image.Decode(bytes.NewReader(data))
		if err != nil {
			t.Fatalf("fetch %d: decode: %v", i, err)
		}
		if want := "image/" + format; img.ContentType != want {
			t.Errorf("fetch %d: got ContentType %q, want %q", i, img.ContentType, want)
		}
		if want := map[string]string{"jpeg": "jpg", "png": "png"}[format]; img.Ext != want {
			t.Errorf("fetch %d: got Ext %q, want %q", i, img.Ext, want)
		}
		if got, want := decoded.Bounds(), image.Rect(0, 0, builtinWidth, builtinHeight); got != want {
			t.Errorf("fetch %d: got bounds %v, want %v", i, got, want)
		}
		if ct, _, err := sniff(data); err != nil || ct != img.ContentType {
			t.Errorf("fetch %d: got sniffed %q (%v), want %q", i, ct, err, img.ContentType)
		}
		seen[img.ContentType] = true
		seen[string(data)] = true
	}
	if !seen["image/png"] || !seen["image/jpeg"] {
		t.Errorf("got content types %v, want both image/png and image/jpeg", seen)
	}
	if got, want := len(seen), 8+2; got != want {
		t.Errorf("got %d distinct images in 8 fetches, want 8", got-2)
	}
}

func TestBuiltinDeterministic(t *testing.T) {
	a := newTestClient(t, BuiltinSource, Options{Rand: rand.New(rand.NewPCG(7, 7))})
	b := newTestClient(t, BuiltinSource, Options{Rand: rand.New(rand.NewPCG(7, 7))})
	for i := range 3 {
		_, got := readBuiltin(t, a)
		_, want := readBuiltin(t, b)
		if !bytes.Equal(got, want) {
			t.Fatalf("fetch %d: got different images from the same seed", i)
		}
	}
}

func TestBuiltinErrors(t *testing.T) {
	canceled, cancel := context.WithCancel(t.Context())
	cancel()
	tests := []struct {
		name    string
		ctx     context.Context
		opts    Options
		wantErr error
	}{
		{"canceled", canceled, Options{}, context.Canceled},
		{"over MaxBytes", t.Context(), Options{MaxBytes: 1000}, ErrTooLarge},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := newTestClient(t, BuiltinSource, tt.opts)
			_, err := c.Fetch(tt.ctx)
			if !errors.Is(err, tt.wantErr) {
				t.Fatalf("got error %v, want %v", err, tt.wantErr)
			}
		})
	}
}

// TestBuiltinConcurrent runs fetches in parallel; with -race it checks that
// the shared Rand is guarded.
func TestBuiltinConcurrent(t *testing.T) {
	c := newTestClient(t, BuiltinSource, Options{})
	var wg sync.WaitGroup
	for range 4 {
		wg.Go(func() {
			img, err := c.Fetch(t.Context())
			if err != nil {
				t.Errorf("got error %v, want nil", err)
				return
			}
			defer img.Body.Close()
			if _, err := io.Copy(io.Discard, img.Body); err != nil {
				t.Errorf("got error %v, want nil", err)
			}
		})
	}
	wg.Wait()
}
