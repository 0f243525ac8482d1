package cache

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
)

// Pointer is what a digest of an app's source names: the output built from
// that source. Pointers are kept under nixbp/source/ beside the binary cache
// layout (Nix ignores them), so that a builder with the same source restores
// the output's closure without evaluating Nix.
type Pointer struct {
	// Output is the build output's store path.
	Output string `json:"output"`
}

func pointerKey(digest string) string { return "nixbp/source/" + digest + ".json" }

// ReadPointer returns the pointer stored for digest, or nil when there is
// none. An error is a cache or network problem (the caller warns and
// evaluates instead).
func (c *Cache) ReadPointer(ctx context.Context, digest string) (*Pointer, error) {
	r := newRetrier(c.opts.Attempts, c.opts.RetryDelay)
	var data []byte
	err := r.do(ctx, func() error {
		body, err := c.b.get(ctx, pointerKey(digest))
		if err != nil {
			return err
		}
		defer body.Close()
		data, err = readAllLimited(body, 64<<10)
		return err
	})
	if errors.Is(err, errNotFound) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("unable to read the source pointer from %s: %v", c, err)
	}
	var p Pointer
	if err := json.Unmarshal(data, &p); err != nil || !strings.HasPrefix(p.Output, StoreDir+"/") {
		return nil, fmt.Errorf("the source pointer %s in %s is malformed", pointerKey(digest), c)
	}
	return &p, nil
}

// WritePointer stores a pointer for digest. Write it only after the
// output's closure is in the cache, so that a reader never follows a
// pointer to a missing path.
func (c *Cache) WritePointer(ctx context.Context, digest string, p Pointer) error {
	data, err := json.Marshal(p)
	if err != nil {
		return err
	}
	r := newRetrier(c.opts.Attempts, c.opts.RetryDelay)
	err = r.do(ctx, func() error {
		return c.b.put(ctx, pointerKey(digest), bytes.NewReader(data), int64(len(data)), "application/json")
	})
	if err != nil {
		return fmt.Errorf("unable to write the source pointer to %s: %v", c, err)
	}
	return nil
}
