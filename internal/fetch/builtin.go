package fetch

import (
	"bytes"
	"context"
	"image"
	"image/color"
	"image/jpeg"
	"image/png"
	"io"
	"math/rand/v2"
)

// Size of the images made by the builtin source.
const (
	builtinWidth  = 640
	builtinHeight = 480
)

// builtin makes a random image: a diagonal gradient under random rectangles
// and discs, encoded as PNG or JPEG (chosen at random too).
func (c *Client) builtin(ctx context.Context) (*Image, error) {
	if err := ctx.Err(); err != nil {
		return nil, c.errorf("%w", err)
	}
	c.mu.Lock()
	img := drawRandom(c.rnd)
	asPNG := c.rnd.IntN(2) == 0
	c.mu.Unlock()

	var buf bytes.Buffer
	contentType, ext := "image/jpeg", "jpg"
	var err error
	if asPNG {
		contentType, ext = "image/png", "png"
		enc := png.Encoder{CompressionLevel: png.BestSpeed}
		err = enc.Encode(&buf, img)
	} else {
		err = jpeg.Encode(&buf, img, &jpeg.Options{Quality: 85})
	}
	if err != nil {
		return nil, c.errorf("encode %s: %w", ext, err)
	}
	if int64(buf.Len()) > c.maxBytes {
		return nil, c.errorf("made %d bytes, exceeds %d bytes: %w", buf.Len(), c.maxBytes, ErrTooLarge)
	}
	return &Image{
		Body:        io.NopCloser(&buf),
		Size:        int64(buf.Len()),
		ContentType: contentType,
		Ext:         ext,
		Width:       builtinWidth,
		Height:      builtinHeight,
	}, nil
}

func drawRandom(r *rand.Rand) *image.RGBA {
	img := image.NewRGBA(image.Rect(0, 0, builtinWidth, builtinHeight))
	from, to := randomColor(r), randomColor(r)
	// Gradient along x+y, written straight into Pix: Set per pixel would
	// dominate the cost.
	span := builtinWidth + builtinHeight - 2
	for y := range builtinHeight {
		row := img.Pix[y*img.Stride:]
		for x := range builtinWidth {
			t := x + y
			i := 4 * x
			row[i+0] = lerp(from.R, to.R, t, span)
			row[i+1] = lerp(from.G, to.G, t, span)
			row[i+2] = lerp(from.B, to.B, t, span)
			row[i+3] = 0xff
		}
	}
	for range 4 + r.IntN(8) {
		col := randomColor(r)
		x0, y0 := r.IntN(builtinWidth), r.IntN(builtinHeight)
		w, h := 20+r.IntN(builtinWidth/3), 20+r.IntN(builtinHeight/3)
		if r.IntN(2) == 0 {
			fillRect(img, image.Rect(x0, y0, x0+w, y0+h), col)
		} else {
			fillDisc(img, x0, y0, w/2, col)
		}
	}
	return img
}

func randomColor(r *rand.Rand) color.RGBA {
	v := r.Uint32()
	return color.RGBA{R: uint8(v), G: uint8(v >> 8), B: uint8(v >> 16), A: 0xff}
}

func lerp(a, b uint8, t, span int) uint8 {
	return uint8((int(a)*(span-t) + int(b)*t) / span)
}

func fillRect(img *image.RGBA, r image.Rectangle, c color.RGBA) {
	r = r.Intersect(img.Bounds())
	for y := r.Min.Y; y < r.Max.Y; y++ {
		for x := r.Min.X; x < r.Max.X; x++ {
			img.SetRGBA(x, y, c)
		}
	}
}

func fillDisc(img *image.RGBA, cx, cy, radius int, c color.RGBA) {
	box := image.Rect(cx-radius, cy-radius, cx+radius+1, cy+radius+1).Intersect(img.Bounds())
	for y := box.Min.Y; y < box.Max.Y; y++ {
		for x := box.Min.X; x < box.Max.X; x++ {
			if dx, dy := x-cx, y-cy; dx*dx+dy*dy <= radius*radius {
				img.SetRGBA(x, y, c)
			}
		}
	}
}
