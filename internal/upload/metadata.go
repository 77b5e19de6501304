package upload

import "strconv"

// Metadata describes the object beside its bytes.
type Metadata struct {
	// ContentType is sent as Content-Type; empty sends none.
	ContentType string
	// Width and Height are an image's size in pixels, stored as user
	// metadata: x-amz-meta-width and x-amz-meta-height. Zero sends none.
	Width, Height int
}

// user returns the user metadata (x-amz-meta-*) to send, nil for none.
func (m Metadata) user() map[string]string {
	if m.Width <= 0 || m.Height <= 0 {
		return nil
	}
	return map[string]string{"width": strconv.Itoa(m.Width), "height": strconv.Itoa(m.Height)}
}
