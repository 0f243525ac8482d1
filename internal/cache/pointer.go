package cache

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"

	"github.com/nix-buildpack/nix-buildpack/internal/cache/backend"
	"github.com/nix-buildpack/nix-buildpack/internal/cache/retry"
	"github.com/nix-buildpack/nix-buildpack/internal/narinfo"
)

// Pointer is what a digest of an app's source names: the output built from
// that source. Pointers are kept under nixbp/source/ beside the binary cache
// layout (Nix ignores them), so that a builder with the same source restores
// the output's closure without evaluating Nix.
type Pointer struct {
	// Digest is the source digest the pointer answers; a pointer stored
	// under another digest's name is refused.
	Digest string `json:"digest"`
	// Output is the build output's store path.
	Output string `json:"output"`
	// Signatures are "keyname:base64" ed25519 signatures of the
	// fingerprint, made with the key that signs narinfos.
	Signatures []string `json:"signatures,omitempty"`
}

// fingerprint is what a pointer's signature covers; the prefix keeps it
// from ever being read as a narinfo's fingerprint (those start with "1;").
func (p *Pointer) fingerprint() string {
	return "nixbp-source-pointer;1;" + p.Digest + ";" + p.Output
}

func pointerKey(digest string) string { return "nixbp/source/" + digest + ".json" }

// ReadPointer returns the pointer stored for digest, or nil when there is
// none. A pointer that is malformed, answers another digest or, with
// trusted keys, is not signed by one, is an error, as is a cache or network
// problem: the caller warns and evaluates instead.
func (c *Cache) ReadPointer(ctx context.Context, digest string) (*Pointer, error) {
	r := retry.New(c.opts.Attempts, c.opts.RetryDelay)
	var data []byte
	err := r.Do(ctx, func() error {
		body, err := c.b.Get(ctx, pointerKey(digest))
		if err != nil {
			return err
		}
		defer body.Close()
		data, err = readAllLimited(body, 64<<10)
		return err
	})
	if errors.Is(err, backend.ErrNotFound) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("unable to read the source pointer from %s\n%w", c, err)
	}
	key := pointerKey(digest)
	var p Pointer
	if err := json.Unmarshal(data, &p); err != nil {
		return nil, fmt.Errorf("the source pointer %s in %s is not JSON: %w", key, c, err)
	}
	if err := narinfo.CheckStorePath(p.Output); err != nil {
		return nil, fmt.Errorf("the source pointer %s in %s: output: %w", key, c, err)
	}
	if p.Digest != digest {
		return nil, fmt.Errorf("the source pointer %s in %s answers source digest %q, not this one; "+
			"it was copied from another app's pointer or written by an old nix-buildpack", key, c, p.Digest)
	}
	if len(c.trusted) > 0 && !c.trusted.Signed(p.fingerprint(), p.Signatures) {
		if len(p.Signatures) == 0 {
			return nil, fmt.Errorf("the source pointer %s in %s is not signed, and trusted keys are set", key, c)
		}
		return nil, fmt.Errorf("the source pointer %s in %s is not signed by any trusted key (signatures: %v)", key, c, narinfo.SignerNames(p.Signatures))
	}
	return &p, nil
}

// WritePointer stores a pointer from digest to output, signed with
// Options.SecretKey if set. Write it only after the output's closure is in
// the cache, so that a reader never follows a pointer to a missing path.
func (c *Cache) WritePointer(ctx context.Context, digest, output string) error {
	if err := narinfo.CheckStorePath(output); err != nil {
		return fmt.Errorf("unable to write the source pointer\n%w", err)
	}
	p := Pointer{Digest: digest, Output: output}
	if k := c.opts.SecretKey; k != nil {
		sig, err := k.Sign(p.fingerprint())
		if err != nil {
			return fmt.Errorf("unable to sign the source pointer\n%w", err)
		}
		p.Signatures = []string{sig}
	}
	data, err := json.Marshal(p)
	if err != nil {
		return err
	}
	r := retry.New(c.opts.Attempts, c.opts.RetryDelay)
	err = r.Do(ctx, func() error {
		return c.b.Put(ctx, pointerKey(digest), bytes.NewReader(data), int64(len(data)), "application/json")
	})
	if err != nil {
		return fmt.Errorf("unable to write the source pointer to %s\n%w", c, err)
	}
	return nil
}
