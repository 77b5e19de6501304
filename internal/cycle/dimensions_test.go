package cycle

import (
	"context"
	"io"
	"strings"
	"testing"

	"github.com/eks-least-privilege/uploader/internal/fetch"
	"github.com/eks-least-privilege/uploader/internal/upload"
)

// The size read from the image header goes to the upload as metadata and
// into the "object uploaded" line.
func TestCyclePassesDimensions(t *testing.T) {
	img := func(context.Context) (*fetch.Image, error) {
		i := fakeImage("\xff\xd8\xff fake")
		i.ContentType, i.Ext, i.Width, i.Height = "image/jpeg", "jpg", 4032, 3024
		return i, nil
	}
	var got upload.Metadata
	l, _, logs := newTestLoop(t, fetchFunc(img), uploadFunc(func(ctx context.Context, key string, body io.Reader, size int64, meta upload.Metadata) (upload.Result, error) {
		got = meta
		return storeAll(ctx, key, body, size, meta)
	}))
	l.opts.Count = 1
	if err := l.Run(context.Background()); err != nil {
		t.Fatal(err)
	}
	if want := (upload.Metadata{ContentType: "image/jpeg", Width: 4032, Height: 3024}); got != want {
		t.Errorf("upload metadata: got %+v, want %+v", got, want)
	}
	if !strings.Contains(logs.String(), `"msg":"object uploaded"`) || !strings.Contains(logs.String(), `"width":4032,"height":3024`) {
		t.Errorf("the object uploaded line lacks width and height:\n%s", logs.String())
	}
}
