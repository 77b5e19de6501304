package fetch

import (
	"errors"
	"fmt"
	"image"
	"image/gif"
	"image/jpeg"
	"image/png"
	"io"

	"golang.org/x/image/webp"
)

// headerLookahead bounds how far into a body the image header is looked for:
// a body whose header does not parse within it is refused with ErrNotImage.
//
// A JPEG's frame header (SOF) comes after every APPn segment (EXIF, XMP,
// ICC profile, Photoshop data), and for a file without a JFIF segment Go's
// decoder reads on to the start of scan (SOS). 1 MiB covers the largest
// header measured on real files (a Photoshop CMYK JPEG, 594,626 bytes) with a
// margin of 1.7x: docs/measurements.md has the files and sizes. A file beyond
// it is refused, which costs one cycle. Only the bytes the decoder actually
// reads are held, never the whole bound, and they are all streamed on.
const headerLookahead = 1 << 20

// errHeaderBound is returned by the header reader once the bound was
// read (headerLookahead); it never leaves the package.
var errHeaderBound = errors.New("header bound reached")

// decodeConfigs maps each sniffed media type to the decoder of its header.
// Each reads the header only (dimensions, colour model), never pixels.
var decodeConfigs = map[string]func(*headerReader) (image.Config, error){
	"image/jpeg": func(h *headerReader) (image.Config, error) { return jpeg.DecodeConfig(h) },
	"image/png":  func(h *headerReader) (image.Config, error) { return png.DecodeConfig(h) },
	"image/gif":  decodeGIFConfig,
	"image/webp": func(h *headerReader) (image.Config, error) { return webp.DecodeConfig(h) },
}

// decodeGIFConfig is gif.DecodeConfig and one more check: DecodeConfig reads
// only the 13-byte screen descriptor and the global colour table, so any
// seven bytes after "GIF89a" pass. The byte after them must start an
// extension (0x21) or an image (0x2C).
func decodeGIFConfig(h *headerReader) (image.Config, error) {
	cfg, err := gif.DecodeConfig(h)
	if err != nil {
		return cfg, err
	}
	const screenEnd, packed, hasTable = 13, 10, 0x80
	next := screenEnd
	if flags := h.head[packed]; flags&hasTable != 0 {
		next += 3 << (flags&0x07 + 1)
	}
	// DecodeConfig read ahead through a bufio.Reader, maybe not this far.
	if more := next + 1 - len(h.head); more > 0 {
		if _, err := io.ReadFull(h, make([]byte, more)); err != nil {
			return image.Config{}, err
		}
	}
	if b := h.head[next]; b != 0x21 && b != 0x2c {
		return image.Config{}, fmt.Errorf("gif: byte %#02x after the screen descriptor starts no block", b)
	}
	return cfg, nil
}

// headerReader reads from r and keeps every byte read, up to limit, so that
// what the header decoder consumed can be streamed on afterwards.
type headerReader struct {
	r     io.Reader
	limit int
	head  []byte
	err   error // the first error from r or the bound, kept to tell causes apart
}

func (h *headerReader) Read(p []byte) (int, error) {
	if h.err != nil {
		return 0, h.err
	}
	if len(h.head) == h.limit {
		h.err = errHeaderBound
		return 0, h.err
	}
	if len(h.head) == cap(h.head) {
		// Double, as append does for small slices only: a header of
		// hundreds of KB would otherwise be copied many times over.
		grown := make([]byte, len(h.head), min(max(2*cap(h.head), 512), h.limit))
		copy(grown, h.head)
		h.head = grown
	}
	// Read no more than fits: decoders ask for 4 KiB at a time and take
	// short reads, so the buffer grows with what is read, not asked for.
	spare := h.head[len(h.head):cap(h.head)]
	n, err := h.r.Read(spare[:min(len(p), len(spare))])
	copy(p, spare[:n])
	h.head = h.head[:len(h.head)+n]
	if err != nil {
		h.err = err
	}
	return n, err
}

// readHeader parses the header of the image of the given sniffed type at the
// start of b's stream, over at most headerLookahead bytes. The bytes it reads are kept
// in b.ahead, so the body still streams every byte. A header that does not
// parse, or is not found within the bound, is an error wrapping ErrNotImage; a
// failure to read the body (too large, truncated, timeout) is mapped as body
// reads are.
func (b *body) readHeader(contentType string) (image.Config, error) {
	decode, ok := decodeConfigs[contentType]
	if !ok {
		return image.Config{}, b.client.errorf("no header decoder for %s: %w", contentType, ErrNotImage)
	}
	h := &headerReader{r: b.r, limit: headerLookahead}
	cfg, err := decode(h)
	b.ahead = h.head
	switch {
	case errors.Is(h.err, errHeaderBound):
		return image.Config{}, b.client.errorf("no valid %s header in the first %d bytes: %w", contentType, headerLookahead, ErrNotImage)
	case h.err != nil && h.err != io.EOF:
		// The body failed, not the format: say why, as a body read would.
		return image.Config{}, b.mapErr(h.err)
	case err != nil:
		// %v, not %w: the decoder's io.ErrUnexpectedEOF means a header
		// cut short in a complete body, not a truncated transfer.
		return image.Config{}, b.client.errorf("invalid %s header after %d bytes: %v: %w", contentType, len(h.head), err, ErrNotImage)
	case cfg.Width <= 0 || cfg.Height <= 0:
		return image.Config{}, b.client.errorf("%s header gives %dx%d pixels: %w", contentType, cfg.Width, cfg.Height, ErrNotImage)
	}
	return cfg, nil
}
