package cache

import (
	"context"
	"errors"
	"fmt"
	"io"
	"maps"
	"os"
	"slices"
	"sort"
	"strings"
	"sync"
	"time"

	"github.com/nix-buildpack/nix-buildpack/internal/cache/backend"
	"github.com/nix-buildpack/nix-buildpack/internal/cache/retry"
	"github.com/nix-buildpack/nix-buildpack/internal/cache/storedir"
	"github.com/nix-buildpack/nix-buildpack/internal/nar"
	"github.com/nix-buildpack/nix-buildpack/internal/narinfo"
)

// PushResult is what Push did.
type PushResult struct {
	Uploaded      int      // paths whose narinfo Push wrote
	UploadedBytes int64    // compressed NAR bytes sent
	NarBytes      int64    // uncompressed size of the uploaded paths
	Skipped       int      // paths the cache already had
	Failed        []string // paths not uploaded; Warnings say why
	Warnings      []string
	Elapsed       time.Duration
}

// Push uploads the paths of infos the cache lacks, reading them from
// storeDir (the on-disk directory holding the store). infos should be a
// closure, as from `nix-store --dump-db $(nix-store -qR ...)`. Each path is
// serialised, checked against its NarHash and NarSize (a path whose disk
// contents differ is refused), compressed, and uploaded NAR first, narinfo
// last, after the narinfos of its references, so a reader never sees a
// narinfo without its NAR or its references. Narinfos are signed with
// Options.SecretKey when set. nix-cache-info is written if absent.
//
// Like Fetch, Push turns cache and network problems into Warnings and
// Failed paths; an error means misuse or a cancelled ctx.
func (c *Cache) Push(ctx context.Context, infos []narinfo.PathInfo, storeDir string) (*PushResult, error) {
	return c.PushWith(ctx, infos, storeDir, PushOptions{})
}

// PushOptions change how Push stores paths.
type PushOptions struct {
	// AsLayer, when set, names the paths to store as their image layer
	// (nar.PackLayer, narinfo Compression nar.LayerCompression) rather than
	// a NAR, and where each sits in its layer: the CNB front-end's store
	// layers, so that an OCI cache in the image's repository holds the very
	// blobs the exporter then finds there and does not send. Only an
	// oci:// cache takes them; other caches keep NARs.
	AsLayer func(storePath string) (nar.Layer, bool)
}

// PushWith is Push with options.
func (c *Cache) PushWith(ctx context.Context, infos []narinfo.PathInfo, storeDir string, o PushOptions) (*PushResult, error) {
	if fi, err := os.Stat(storeDir); err != nil || !fi.IsDir() {
		return nil, fmt.Errorf("store directory %s is not a directory; pass the on-disk directory holding the store", storeDir)
	}
	byPath := map[string]*narinfo.PathInfo{}
	for i := range infos {
		if err := infos[i].Validate(); err != nil {
			return nil, fmt.Errorf("unable to push\n%w", err)
		}
		byPath[infos[i].StorePath] = &infos[i]
	}
	p := &push{c: c, storeDir: storeDir, t: newTracker(c, "push"), r: retry.New(c.opts.Attempts, c.opts.RetryDelay), res: &PushResult{}}
	if c.layers {
		p.asLayer = o.AsLayer
	}
	if err := c.ensureCacheInfo(ctx, p.r); err != nil {
		p.t.warn("cache %s is not usable, so nothing is pushed: %v", c, err)
		for sp := range byPath {
			p.res.Failed = append(p.res.Failed, sp)
		}
	} else {
		p.upload(ctx, p.missing(ctx, byPath))
	}
	sort.Strings(p.res.Failed)
	p.res.Warnings = p.t.takeWarnings()
	p.res.Elapsed = time.Since(p.t.start)
	return p.res, ctx.Err()
}

// push is the state of one Push call.
type push struct {
	c        *Cache
	storeDir string
	t        *tracker
	r        *retry.Retrier
	asLayer  func(string) (nar.Layer, bool)
	mu       sync.Mutex // guards res once uploads run
	res      *PushResult
}

// missing returns the paths the cache has no narinfo for, references
// before referrers; the others count as skipped, or failed when the cache
// could not tell.
func (p *push) missing(ctx context.Context, byPath map[string]*narinfo.PathInfo) []narinfo.PathInfo {
	paths := slices.Sorted(maps.Keys(byPath))
	have := make([]bool, len(paths))
	errs := make([]error, len(paths))
	parallel(32, len(paths), func(i int) {
		errs[i] = p.r.Do(ctx, func() error {
			var err error
			have[i], err = p.c.b.Exists(ctx, narinfo.HashPart(paths[i])+".narinfo")
			return err
		})
	})
	var todo []narinfo.PathInfo
	for i, sp := range paths {
		switch {
		case errs[i] != nil:
			p.t.warn("%s: unable to check the cache: %v", sp, errs[i])
			p.res.Failed = append(p.res.Failed, sp)
		case have[i]:
			p.res.Skipped++
		default:
			todo = append(todo, *byPath[sp])
		}
	}
	return narinfo.ReferencesFirst(todo)
}

// upload pushes todo, Options.Jobs paths at a time; a path's narinfo waits
// for its references' narinfos, and is not written when one failed.
func (p *push) upload(ctx context.Context, todo []narinfo.PathInfo) {
	var narTotal int64
	for _, info := range todo {
		narTotal += int64(info.NarSize)
	}
	layered := 0
	for _, info := range todo {
		if _, ok := p.layerOf(info.StorePath); ok {
			layered++
		}
	}
	as := ""
	if layered > 0 {
		as = fmt.Sprintf(", %d of them as their image layers", layered)
	}
	p.c.logf("Pushing %d store paths (%s unpacked) to %s%s; %d already there", len(todo), mib(narTotal), p.c, as, p.res.Skipped)
	p.t.addTotal(len(todo), narTotal)
	p.t.run()

	// done[sp] is closed once sp's narinfo is written (ok[sp]) or has failed.
	done := map[string]chan struct{}{}
	ok := map[string]bool{}
	for _, info := range todo {
		done[info.StorePath] = make(chan struct{})
	}
	refOK := func(ref string) bool {
		ch, pending := done[ref]
		if !pending {
			return true // in the cache already
		}
		<-ch
		p.mu.Lock()
		defer p.mu.Unlock()
		return ok[ref]
	}
	parallel(p.c.opts.Jobs, len(todo), func(i int) {
		info := &todo[i]
		sent, err := p.one(ctx, info, refOK)
		p.mu.Lock()
		if err == nil {
			ok[info.StorePath] = true
			p.res.Uploaded++
			p.res.UploadedBytes += sent
			p.res.NarBytes += int64(info.NarSize)
		} else {
			p.res.Failed = append(p.res.Failed, info.StorePath)
			if ctx.Err() == nil {
				p.t.warn("%s: not pushed: %v", info.StorePath, err)
			}
		}
		p.mu.Unlock()
		close(done[info.StorePath])
		p.t.paths.Add(1)
		p.t.bytes.Add(int64(info.NarSize))
	})
	pr := p.t.finish()
	p.c.logf("Pushed %d store paths (%s compressed) in %.2f s; %d skipped, %d failed",
		p.res.Uploaded, mib(p.res.UploadedBytes), pr.Elapsed.Seconds(), p.res.Skipped, len(p.res.Failed))
}

// one uploads one path: NAR, then (once refOK says each reference made it)
// its narinfo. It returns the compressed bytes sent.
func (p *push) one(ctx context.Context, info *narinfo.PathInfo, refOK func(string) bool) (int64, error) {
	packed, compression, err := p.pack(info)
	if err != nil {
		return 0, err
	}
	defer packed.Close()
	e := &narinfo.NarInfo{PathInfo: *info, URL: "nar/" + narinfo.FormatSHA256(packed.FileSHA256)[len("sha256:"):] + nar.Extension(compression),
		Compression: compression, FileHash: narinfo.FormatSHA256(packed.FileSHA256), FileSize: uint64(packed.FileSize)}
	e.NarHash = narinfo.FormatSHA256(packed.NarSHA256)
	e.References = slices.Sorted(slices.Values(info.References))
	sent, err := p.uploadNAR(ctx, e.URL, packed, compression)
	if err != nil {
		return 0, err
	}
	for _, ref := range info.References {
		if ref != info.StorePath && !refOK(ref) {
			return sent, fmt.Errorf("its reference %s was not pushed", ref)
		}
	}
	return sent, p.writeNarinfo(ctx, e)
}

// pack serialises the path as a NAR, compressed (or as its image layer,
// PushOptions.AsLayer), refusing it when its contents differ from what the
// Nix database records (storedir.Pack). It returns the narinfo's
// Compression.
func (p *push) pack(info *narinfo.PathInfo) (*nar.Packed, string, error) {
	compression := p.c.compression
	var layer *nar.Layer
	if l, ok := p.layerOf(info.StorePath); ok {
		compression, layer = nar.LayerCompression, &l
	}
	packed, err := storedir.Pack(p.storeDir, info, compression, layer)
	return packed, compression, err
}

// layerOf says whether the path is stored as its image layer.
func (p *push) layerOf(storePath string) (nar.Layer, bool) {
	if p.asLayer == nil {
		return nar.Layer{}, false
	}
	return p.asLayer(storePath)
}

// uploadNAR stores the packed NAR under key unless the cache has it, and
// returns the bytes sent.
func (p *push) uploadNAR(ctx context.Context, key string, packed *nar.Packed, compression string) (int64, error) {
	contentType := "application/x-nix-nar"
	if compression == nar.LayerCompression {
		contentType = "application/vnd.oci.image.layer.v1.tar+gzip"
	}
	var sent int64
	err := p.r.Do(ctx, func() error {
		exists, err := p.c.b.Exists(ctx, key)
		if err != nil || exists {
			return err
		}
		if _, err := packed.Body.Seek(0, io.SeekStart); err != nil {
			return backend.Permanent(err)
		}
		if err := p.c.b.Put(ctx, key, packed.Body, packed.FileSize, contentType); err != nil {
			return err
		}
		sent = packed.FileSize
		return nil
	})
	return sent, err
}

// writeNarinfo signs e with Options.SecretKey, if set, and stores it.
func (p *push) writeNarinfo(ctx context.Context, e *narinfo.NarInfo) error {
	if k := p.c.opts.SecretKey; k != nil {
		sig, err := k.Sign(e.Fingerprint())
		if err != nil {
			return err
		}
		e.Signatures = []string{sig}
	}
	text := e.String()
	return p.r.Do(ctx, func() error {
		return p.c.b.Put(ctx, narinfo.HashPart(e.StorePath)+".narinfo", strings.NewReader(text), int64(len(text)), "text/x-nix-narinfo")
	})
}

// ensureCacheInfo checks that the cache is usable for /nix/store and writes
// nix-cache-info when it is missing.
func (c *Cache) ensureCacheInfo(ctx context.Context, r *retry.Retrier) error {
	info, err := c.readCacheInfo(ctx, r)
	if err == nil {
		if info.storeDir != "" && info.storeDir != narinfo.StoreDir {
			return fmt.Errorf("its nix-cache-info says StoreDir %s, not %s", info.storeDir, narinfo.StoreDir)
		}
		return nil
	}
	if !errors.Is(err, backend.ErrNotFound) {
		return err
	}
	text := fmt.Sprintf("StoreDir: %s\nWantMassQuery: 1\nPriority: %d\n", narinfo.StoreDir, c.priority)
	return r.Do(ctx, func() error {
		return c.b.Put(ctx, "nix-cache-info", strings.NewReader(text), int64(len(text)), "text/x-nix-cache-info")
	})
}
