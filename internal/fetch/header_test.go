package fetch

import (
	"bufio"
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"hash/crc32"
	"image"
	"image/jpeg"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

// jpegSegment returns a JPEG marker segment: 0xFF, the marker, the 16-bit
// length (which counts itself) and the payload.
func jpegSegment(marker byte, payload []byte) []byte {
	seg := []byte{0xff, marker, 0, 0}
	binary.BigEndian.PutUint16(seg[2:], uint16(len(payload)+2))
	return append(seg, payload...)
}

// appSegments returns n APPn segments of the largest size (64 KiB each),
// the way ICC profiles and extended XMP are split.
func appSegments(marker byte, n int) [][]byte {
	var segs [][]byte
	for i := range n {
		payload := bytes.Repeat([]byte{byte(i)}, 0xffff-2)
		copy(payload, "ICC_PROFILE\x00")
		segs = append(segs, jpegSegment(marker, payload))
	}
	return segs
}

// withSegments inserts segments right after the SOI marker of a JPEG.
func withSegments(jpg []byte, segs ...[]byte) []byte {
	out := append([]byte(nil), jpg[:2]...)
	for _, s := range segs {
		out = append(out, s...)
	}
	return append(out, jpg[2:]...)
}

// exifSegment returns an APP1 EXIF segment of about size bytes: a TIFF
// header and filler, as a camera's maker notes and thumbnail make it large.
func exifSegment(size int) []byte {
	payload := append([]byte("Exif\x00\x00II*\x00\x08\x00\x00\x00"), make([]byte, size-16)...)
	return jpegSegment(0xe1, payload)
}

// jfif is a JFIF APP0 segment, which makes Go's decoder stop at the frame
// header instead of reading on to the start of scan.
var jfif = jpegSegment(0xe0, []byte("JFIF\x00\x01\x01\x00\x00\x01\x00\x01\x00\x00"))

// riffChunk returns a RIFF chunk, padded to an even length.
func riffChunk(fourCC string, data []byte) []byte {
	c := append([]byte(fourCC), 0, 0, 0, 0)
	binary.LittleEndian.PutUint32(c[4:], uint32(len(data)))
	c = append(c, data...)
	if len(data)%2 == 1 {
		c = append(c, 0)
	}
	return c
}

// webpFile wraps chunks in a RIFF WEBP container.
func webpFile(chunks ...[]byte) []byte {
	body := []byte("WEBP")
	for _, c := range chunks {
		body = append(body, c...)
	}
	return riffChunk("RIFF", body)
}

// vp8KeyFrame returns a lossy key frame: the 10-byte frame header with the
// start code and dimensions, then filler standing for the compressed data.
func vp8KeyFrame(width, height int) []byte {
	f := []byte{0x10, 0x02, 0x00, 0x9d, 0x01, 0x2a, 0, 0, 0, 0}
	binary.LittleEndian.PutUint16(f[6:], uint16(width))
	binary.LittleEndian.PutUint16(f[8:], uint16(height))
	return append(f, bytes.Repeat([]byte{0x55}, 600)...)
}

// vp8x returns the extended-format chunk payload: flags, then the canvas
// width and height minus one, 24 bits each.
func vp8x(flags byte, width, height int) []byte {
	p := make([]byte, 10)
	p[0] = flags
	w, h := uint32(width-1), uint32(height-1)
	p[4], p[5], p[6] = byte(w), byte(w>>8), byte(w>>16)
	p[7], p[8], p[9] = byte(h), byte(h>>8), byte(h>>16)
	return p
}

// pngIHDR returns png with its IHDR width replaced, and its CRC recomputed
// when fixCRC is set.
func pngIHDR(png []byte, width uint32, fixCRC bool) []byte {
	out := append([]byte(nil), png...)
	// Signature (8), length (4), "IHDR" (4), then width at 16.
	binary.BigEndian.PutUint32(out[16:], width)
	if fixCRC {
		binary.BigEndian.PutUint32(out[29:], crc32.ChecksumIEEE(out[12:29]))
	}
	return out
}

// grayJPEG encodes a w x h gray JPEG of noise-free content.
func grayJPEG(t testing.TB, w, h int) []byte {
	t.Helper()
	img := image.NewGray(image.Rect(0, 0, w, h))
	for i := range img.Pix {
		img.Pix[i] = uint8(i)
	}
	var buf bytes.Buffer
	if err := jpeg.Encode(&buf, img, nil); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

func TestFetchHeader(t *testing.T) {
	jpg := testImage(t, "jpeg") // 64x64, no JFIF segment
	png := testImage(t, "png")  // 64x64, paletted
	gif := testImage(t, "gif")  // 64x64
	text := []byte(strings.Repeat("<html><body>This is not an image, but it starts like one.</body></html>\n", 40))
	lossy := webpFile(riffChunk("VP8 ", vp8KeyFrame(300, 200)))

	tests := []struct {
		name          string
		data          []byte
		wantErr       error // nil: accepted
		width, height int
		inError       string
	}{
		{name: "jpeg", data: jpg, width: 64, height: 64},
		{name: "jpeg with JFIF", data: withSegments(jpg, jfif), width: 64, height: 64},
		{name: "jpeg 4000x3000 gray", data: grayJPEG(t, 4000, 3000), width: 4000, height: 3000},
		{
			// The largest camera file measured (docs/measurements.md) had 36 KB
			// of APP1; a full 64 KiB EXIF segment and XMP exceed it.
			name:  "jpeg with an EXIF block larger than a camera's",
			data:  withSegments(jpg, exifSegment(0xffff-2), jpegSegment(0xe1, []byte("http://ns.adobe.com/xap/1.0/\x00<x:xmpmeta/>"))),
			width: 64, height: 64,
		},
		{
			// As the measured Photoshop CMYK files: ~560 KB of ICC
			// profile in APP2 segments before the frame header.
			name:  "jpeg with a 640 KB ICC profile",
			data:  withSegments(jpg, append([][]byte{exifSegment(9000)}, appSegments(0xe2, 10)...)...),
			width: 64, height: 64,
		},
		{
			name:    "jpeg header beyond the bound",
			data:    withSegments(jpg, appSegments(0xe2, headerLookahead/0xffff+1)...),
			wantErr: ErrNotImage, inError: "in the first 1048576 bytes",
		},
		{
			name:    "jpeg signature then text",
			data:    append([]byte("\xff\xd8\xff\xe0"), text...),
			wantErr: ErrNotImage, inError: "invalid image/jpeg header",
		},
		{
			// Go's decoder skips bytes other than 0xFF between
			// segments, as libjpeg does: text never ends that scan.
			name:    "jpeg signature then 2 MiB of text",
			data:    append([]byte("\xff\xd8\xff\xe0"), bytes.Repeat(text, 2<<20/len(text))...),
			wantErr: ErrNotImage, inError: "in the first 1048576 bytes",
		},
		{
			name:    "jpeg header cut short, complete body",
			data:    jpg[:300],
			wantErr: ErrNotImage, inError: "after 300 bytes",
		},
		{
			name:    "jpeg lossless (SOF3), unsupported",
			data:    append([]byte("\xff\xd8"), jpegSegment(0xc3, []byte{8, 0, 64, 0, 64, 1, 1, 0x11, 0})...),
			wantErr: ErrNotImage, inError: "unsupported",
		},
		{name: "png", data: png, width: 64, height: 64},
		{
			name:    "png with a bad IHDR checksum",
			data:    pngIHDR(png, 65, false),
			wantErr: ErrNotImage, inError: "checksum",
		},
		{
			name:    "png with zero width",
			data:    pngIHDR(png, 0, true),
			wantErr: ErrNotImage, inError: "image/png",
		},
		{
			name:    "png signature then text",
			data:    append([]byte("\x89PNG\r\n\x1a\n"), text...),
			wantErr: ErrNotImage, inError: "image/png",
		},
		{name: "png header cut short", data: png[:20], wantErr: ErrNotImage, inError: "after 20 bytes"},
		{name: "gif", data: gif, width: 64, height: 64},
		{
			// DecodeConfig reads the 13-byte screen descriptor only:
			// the block after it is checked too.
			name:    "gif signature then text",
			data:    append([]byte("GIF89a"), text...),
			wantErr: ErrNotImage, inError: "starts no block",
		},
		{name: "gif header cut short", data: gif[:10], wantErr: ErrNotImage, inError: "image/gif"},
		{name: "webp VP8L", data: webpBlob, width: 1, height: 1},
		{name: "webp VP8", data: lossy, width: 300, height: 200},
		{
			name: "webp VP8X with alpha and EXIF",
			data: webpFile(riffChunk("VP8X", vp8x(0x18, 3000, 2000)), riffChunk("EXIF", make([]byte, 5000)),
				riffChunk("ALPH", []byte{0, 1, 2}), riffChunk("VP8 ", vp8KeyFrame(3000, 2000))),
			width: 3000, height: 2000,
		},
		{
			name:    "webp VP8 without start code",
			data:    bytes.Replace(lossy, []byte{0x9d, 0x01, 0x2a}, []byte("abc"), 1),
			wantErr: ErrNotImage, inError: "image/webp",
		},
		{
			name:    "webp VP8X of the wrong length",
			data:    webpFile(riffChunk("VP8X", vp8x(0, 30, 20)[:8]), riffChunk("VP8 ", vp8KeyFrame(30, 20))),
			wantErr: ErrNotImage, inError: "image/webp",
		},
		{
			name:    "webp signature then text",
			data:    append([]byte("RIFF\x00\x10\x00\x00WEBPVP8 "), text...),
			wantErr: ErrNotImage, inError: "image/webp",
		},
	}
	for _, tt := range tests {
		for _, chunked := range []bool{false, true} {
			t.Run(fmt.Sprintf("%s/chunked=%t", tt.name, chunked), func(t *testing.T) {
				c := newTestClient(t, serve(t, bodyHandler(tt.data, chunked, "image/jpeg")), Options{})
				img, got, atFetch, err := fetchAll(t.Context(), c)
				if tt.wantErr != nil {
					if !errors.Is(err, tt.wantErr) {
						t.Fatalf("got error %v, want %v", err, tt.wantErr)
					}
					if !atFetch {
						t.Errorf("got the error from the body, want it from Fetch")
					}
					if !strings.Contains(err.Error(), tt.inError) {
						t.Errorf("got error %q, want it to contain %q", err, tt.inError)
					}
					return
				}
				if err != nil {
					t.Fatalf("got error %v, want nil", err)
				}
				if img.Width != tt.width || img.Height != tt.height {
					t.Errorf("got %dx%d, want %dx%d", img.Width, img.Height, tt.width, tt.height)
				}
				if !bytes.Equal(got, tt.data) {
					t.Errorf("got %d bytes, want the %d bytes served", len(got), len(tt.data))
				}
			})
		}
	}
}

// TestFetchHeaderFailingBody checks that a body failing within the header
// is reported for what it is, not as a bad header.
func TestFetchHeaderFailingBody(t *testing.T) {
	jpg := withSegments(testImage(t, "jpeg"), exifSegment(30000))
	tests := []struct {
		name    string
		handler func(t *testing.T) http.Handler
		opts    Options
		wantErr error
	}{
		{
			name: "connection cut within the EXIF block",
			handler: func(t *testing.T) http.Handler {
				head := fmt.Sprintf("HTTP/1.1 200 OK\r\nContent-Length: %d\r\n\r\n", len(jpg))
				return rawHandler(t, append([]byte(head), jpg[:10000]...))
			},
			wantErr: ErrTruncated,
		},
		{
			name: "chunked body over MaxBytes within the header",
			handler: func(*testing.T) http.Handler {
				return bodyHandler(jpg, true, "")
			},
			opts:    Options{MaxBytes: 20000},
			wantErr: ErrTooLarge,
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := newTestClient(t, serve(t, tt.handler(t)), tt.opts)
			_, _, atFetch, err := fetchAll(t.Context(), c)
			if !errors.Is(err, tt.wantErr) {
				t.Fatalf("got error %v, want %v", err, tt.wantErr)
			}
			if errors.Is(err, ErrNotImage) {
				t.Errorf("got error %v, want it not to be %v", err, ErrNotImage)
			}
			if !atFetch {
				t.Errorf("got the error from the body, want it from Fetch")
			}
		})
	}
}

// TestFetchHeaderHoldsOnlyTheHeader checks that the look-ahead keeps what
// the decoder read, not the bound nor the body: a 40 KB header in an 8 MiB
// body.
func TestFetchHeaderHoldsOnlyTheHeader(t *testing.T) {
	jpg := withSegments(testImage(t, "jpeg"), exifSegment(40000))
	data := append(jpg, make([]byte, 8<<20)...)
	c := newTestClient(t, serve(t, bodyHandler(data, true, "")), Options{})
	img, err := c.Fetch(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	defer img.Body.Close()
	ahead := len(img.Body.(*body).ahead)
	if ahead < 40000 || ahead > 64<<10 {
		t.Errorf("got %d bytes read ahead, want the header's 40 KB, no more than 64 KiB", ahead)
	}
	got, err := io.ReadAll(img.Body)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(got, data) {
		t.Errorf("got %d bytes, want the %d bytes served", len(got), len(data))
	}
}

func TestBuiltinSize(t *testing.T) {
	c := newTestClient(t, BuiltinSource, Options{})
	for range 4 { // both formats, most likely
		img, data := readBuiltin(t, c)
		cfg, _, err := image.DecodeConfig(bytes.NewReader(data))
		if err != nil {
			t.Fatal(err)
		}
		if img.Width != cfg.Width || img.Height != cfg.Height {
			t.Errorf("got %dx%d, want the encoded %dx%d", img.Width, img.Height, cfg.Width, cfg.Height)
		}
	}
}

// BenchmarkHeader measures the header check alone, on data in memory:
// what Fetch adds per image.
func BenchmarkHeader(b *testing.B) {
	jpg := builtinJPEG(b)
	for _, tt := range []struct {
		name, contentType string
		data              []byte
	}{
		{"jpeg", "image/jpeg", jpg},
		{"jpeg_exif_36KB", "image/jpeg", withSegments(jpg, exifSegment(33000), exifSegment(2560))},
		{"jpeg_icc_600KB", "image/jpeg", withSegments(jpg, appSegments(0xe2, 9)...)},
		{"png", "image/png", testImage(b, "png")},
		{"gif", "image/gif", testImage(b, "gif")},
		{"webp", "image/webp", webpFile(riffChunk("VP8 ", vp8KeyFrame(300, 200)))},
	} {
		b.Run(tt.name, func(b *testing.B) {
			c := newTestClient(b, BuiltinSource, Options{})
			r := bytes.NewReader(tt.data)
			b.ReportAllocs()
			b.SetBytes(int64(len(tt.data)))
			for b.Loop() {
				r.Reset(tt.data)
				bd := &body{r: bufio.NewReaderSize(r, sniffLen), client: c}
				if _, err := bd.readHeader(tt.contentType); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

// TestFetchHeaderRealFiles fetches the real images that golang.org/x/image
// ships as test data (libwebp's lossy, lossless and alpha WebP files, PNGs of
// every colour type, a JPEG): each must pass with the size the whole file
// decodes to, and stream unchanged.
func TestFetchHeaderRealFiles(t *testing.T) {
	out, err := exec.Command("go", "list", "-m", "-f", "{{.Dir}}", "golang.org/x/image").Output()
	dir := filepath.Join(strings.TrimSpace(string(out)), "testdata")
	files, _ := filepath.Glob(filepath.Join(dir, "*.*p*g")) // .png, .jpeg
	webps, _ := filepath.Glob(filepath.Join(dir, "*.webp"))
	files = append(files, webps...)
	if err != nil || len(webps) == 0 {
		msg := fmt.Sprintf("no test data of golang.org/x/image in the module cache (%s, go list: %v): run go mod download", dir, err)
		if os.Getenv("CI") == "true" {
			t.Fatal(msg + "; in CI this is a failure")
		}
		t.Skip(msg)
	}
	for _, f := range files {
		t.Run(filepath.Base(f), func(t *testing.T) {
			data, err := os.ReadFile(f)
			if err != nil {
				t.Fatal(err)
			}
			want, _, err := image.DecodeConfig(bytes.NewReader(data))
			if err != nil {
				t.Fatalf("decode the whole file: %v", err)
			}
			c := newTestClient(t, serve(t, bodyHandler(data, true, "")), Options{})
			img, got, _, err := fetchAll(t.Context(), c)
			if err != nil {
				t.Fatalf("got error %v, want nil", err)
			}
			if img.Width != want.Width || img.Height != want.Height {
				t.Errorf("got %dx%d, want %dx%d", img.Width, img.Height, want.Width, want.Height)
			}
			if !bytes.Equal(got, data) {
				t.Errorf("got %d bytes, want the %d bytes served", len(got), len(data))
			}
		})
	}
}
