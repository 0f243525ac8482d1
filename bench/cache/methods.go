package main

import (
	"bytes"
	"cmp"
	"context"
	"fmt"
	"io"
	"io/fs"
	"net/http/httptrace"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/s3"

	"github.com/nix-buildpack/nix-buildpack/internal/cache"
	"github.com/nix-buildpack/nix-buildpack/internal/cache/backend"
	"github.com/nix-buildpack/nix-buildpack/internal/nixstore"
	"github.com/nix-buildpack/nix-buildpack/internal/settings"
)

// emptyStore makes a fresh chroot store root under dir with an empty,
// initialised Nix database, as a build's store has one before it restores
// (untimed: creating the database costs every method the same 0.1-0.2 s of
// fdatasync here).
func emptyStore(dir string) (string, error) {
	root := filepath.Join(dir, "root")
	if err := os.MkdirAll(filepath.Join(root, "nix", "store"), 0o755); err != nil {
		return "", err
	}
	return root, nixstore.Host(root, nil).Init()
}

// runOld is the old buildpacks' restore: stream the one export object from
// S3 through zstd into nix-store --import.
func (b *bench) runOld(ctx context.Context, dir string, check bool, c *clock) (string, error) {
	root, err := emptyStore(dir)
	if err != nil {
		return "", err
	}
	c.start()
	obj, err := b.client.GetObject(ctx, &s3.GetObjectInput{Bucket: aws.String("old"), Key: aws.String("closure.nar.zst")})
	if err != nil {
		return "", err
	}
	defer obj.Body.Close()
	cmd := exec.Command("sh", "-c", `zstd -dc | nix-store --store "$1" --import > /dev/null`, "sh", root)
	cmd.Stdin = obj.Body
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	if err := cmd.Run(); err != nil {
		return "", fmt.Errorf("import: %w\n%s", err, stderr.String())
	}
	c.stop()
	return "", b.check(root, check)
}

// runNixCopy is Nix itself reading the bucket's directory as a file://
// binary cache.
func (b *bench) runNixCopy(ctx context.Context, dir string, check bool, c *clock) (string, error) {
	root, err := emptyStore(dir)
	if err != nil {
		return "", err
	}
	c.start()
	if _, err := nixCmd("", "nix", "copy", "--no-check-sigs", "--from", "file://"+filepath.Join(b.s3Dir, "cache"), "--to", root, b.top); err != nil {
		return "", err
	}
	c.stop()
	return "", b.check(root, check)
}

// runCold is ours: Fetch the closure from S3 into an empty store and
// register it with nix-store --load-db, started before the fetch, as a
// build does (nixstore.Registration).
func (b *bench) runCold(ctx context.Context, dir string, check bool, c *clock) (string, error) {
	root, err := emptyStore(dir)
	if err != nil {
		return "", err
	}
	cc, err := b.openCache(ctx)
	if err != nil {
		return "", err
	}
	detail, err := b.restore(ctx, cc, root, b.closure, len(b.closure), c)
	if err != nil {
		return "", err
	}
	return detail, b.check(root, check)
}

// runColdFile is ours reading the bucket's directory, like nix copy does:
// the same work without the S3 server.
func (b *bench) runColdFile(ctx context.Context, dir string, check bool, c *clock) (string, error) {
	root, err := emptyStore(dir)
	if err != nil {
		return "", err
	}
	cc, err := cache.Open(ctx, "file://"+filepath.Join(b.s3Dir, "cache"), cache.Options{Jobs: b.jobs})
	if err != nil {
		return "", err
	}
	detail, err := b.restore(ctx, cc, root, b.closure, len(b.closure), c)
	if err != nil {
		return "", err
	}
	return detail, b.check(root, check)
}

// runWarm restores into a store that already holds all but 10 paths (the
// top path and the nine only it and each other refer to, as after a change
// to an app's top-level derivations).
func (b *bench) runWarm(ctx context.Context, dir string, check bool, c *clock) (string, error) {
	root, err := emptyStore(dir)
	if err != nil {
		return "", err
	}
	cc, err := b.openCache(ctx)
	if err != nil {
		return "", err
	}
	missing := map[string]bool{b.top: true}
	for i := synthPaths - 9; i < synthPaths; i++ {
		for _, p := range b.closure {
			if strings.HasSuffix(p, fmt.Sprintf("-synth-%d", i)) {
				missing[p] = true
			}
		}
	}
	var present []string
	for _, p := range b.closure {
		if !missing[p] {
			present = append(present, p)
		}
	}
	if _, err := b.restore(ctx, cc, root, present, len(present), &clock{b: b}); err != nil {
		return "", err
	}
	detail, err := b.restore(ctx, cc, root, b.closure, len(missing), c)
	if err != nil {
		return "", err
	}
	return detail, b.check(root, check)
}

// restore is Fetch plus registration, timed by c, checking that want
// paths came.
func (b *bench) restore(ctx context.Context, cc *cache.Cache, root string, paths []string, want int, c *clock) (string, error) {
	c.start()
	store := nixstore.Host(root, nil)
	reg, err := store.StartRegistration()
	if err != nil {
		return "", err
	}
	res, err := cc.Fetch(ctx, paths, store)
	if err != nil {
		_ = reg.Finish(nil)
		return "", err
	}
	fetched := time.Since(c.started)
	if len(res.Installed) != want || len(res.Missing) != 0 || len(res.Warnings) != 0 {
		_ = reg.Finish(nil)
		return "", fmt.Errorf("fetch installed %d of %d paths: missing %v, warnings %v", len(res.Installed), want, res.Missing, res.Warnings)
	}
	if err := reg.Finish(res.Installed); err != nil {
		return "", err
	}
	c.stop()
	return fmt.Sprintf("fetch %.2f s (%d paths, %.1f MiB), register %.2f s",
		fetched.Seconds(), len(res.Installed), mibf(res.DownloadedBytes), (c.wall - fetched).Seconds()), nil
}

// check verifies a restored store with Nix (untimed), on request.
func (b *bench) check(root string, check bool) error {
	if !check {
		return nil
	}
	store := nixstore.Host(root, nil)
	paths, err := store.Requisites(b.top)
	if err != nil {
		return err
	}
	if n := len(paths); n != len(b.closure) {
		return fmt.Errorf("restored store has %d of %d paths valid", n, len(b.closure))
	}
	_, err = store.VerifyContents()
	return err
}

// runFloor moves the same bytes with no decompression, hashing or NAR
// parsing: download every compressed NAR (8 at a time) to /dev/null, then
// write the closure's files (same sizes, same tree, 8 paths at a time).
func (b *bench) runFloor(ctx context.Context, dir string, _ bool, c *clock) (string, error) {
	nars, err := os.ReadDir(filepath.Join(b.s3Dir, "cache", "nar"))
	if err != nil {
		return "", err
	}
	src := filepath.Join(b.srcRoot, "nix", "store")
	trees := make([][]node, len(b.closure))
	for i, p := range b.closure {
		if trees[i], err = listTree(filepath.Join(src, filepath.Base(p))); err != nil {
			return "", err
		}
	}
	dst := filepath.Join(dir, "files")
	if err := os.MkdirAll(dst, 0o755); err != nil {
		return "", err
	}
	c.start()
	var got, written atomic.Int64
	var firstErr error
	var mu sync.Mutex
	fail := func(err error) {
		mu.Lock()
		defer mu.Unlock()
		if firstErr == nil {
			firstErr = err
		}
	}
	each(8, len(nars), func(i int) {
		obj, err := b.client.GetObject(ctx, &s3.GetObjectInput{Bucket: aws.String("cache"), Key: aws.String("nar/" + nars[i].Name())})
		if err == nil {
			var n int64
			n, err = io.Copy(io.Discard, obj.Body)
			obj.Body.Close()
			got.Add(n)
		}
		if err != nil {
			fail(err)
		}
	})
	download := time.Since(c.started)
	each(8, len(b.closure), func(i int) {
		n, err := writeTree(filepath.Join(dst, filepath.Base(b.closure[i])), trees[i])
		written.Add(n)
		if err != nil {
			fail(err)
		}
	})
	c.stop()
	return fmt.Sprintf("download %.2f s (%.1f MiB), write %.2f s (%.1f MiB)",
		download.Seconds(), mibf(got.Load()), (c.wall - download).Seconds(), mibf(written.Load())), firstErr
}

// node is one entry of a store path's tree, relative to its root.
type node struct {
	rel    string
	mode   fs.FileMode
	size   int64
	target string
}

func listTree(root string) ([]node, error) {
	var out []node
	err := filepath.WalkDir(root, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		fi, err := d.Info()
		if err != nil {
			return err
		}
		n := node{rel: strings.TrimPrefix(p, root), mode: fi.Mode(), size: fi.Size()}
		if fi.Mode()&fs.ModeSymlink != 0 {
			if n.target, err = os.Readlink(p); err != nil {
				return err
			}
		}
		out = append(out, n)
		return nil
	})
	return out, err
}

// zeros is what the floor writes: the bytes' values do not matter to it.
var zeros = make([]byte, 1<<20)

// writeTree creates the listed tree at dst: directories, symlinks, and
// files of the listed sizes.
func writeTree(dst string, tree []node) (int64, error) {
	var n int64
	for _, e := range tree {
		out := dst + e.rel
		switch {
		case e.mode.IsDir():
			if err := os.Mkdir(out, 0o755); err != nil {
				return n, err
			}
		case e.mode&fs.ModeSymlink != 0:
			if err := os.Symlink(e.target, out); err != nil {
				return n, err
			}
		default:
			f, err := os.OpenFile(out, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o444)
			if err != nil {
				return n, err
			}
			for left := e.size; left > 0; {
				k, err := f.Write(zeros[:min(left, int64(len(zeros)))])
				if err != nil {
					f.Close()
					return n, err
				}
				left -= int64(k)
				n += int64(k)
			}
			if err := f.Close(); err != nil {
				return n, err
			}
		}
	}
	return n, nil
}

func each(jobs, n int, fn func(i int)) {
	var wg sync.WaitGroup
	sem := make(chan struct{}, jobs)
	for i := range n {
		sem <- struct{}{}
		wg.Add(1)
		go func() {
			defer func() { <-sem; wg.Done() }()
			fn(i)
		}()
	}
	wg.Wait()
}

// runGet moves the cache's bytes and nothing else: every narinfo and NAR
// read through package cache's backend for the URL (16 at a time, as a
// restore's lookups and downloads overlap) into io.Discard. Against the
// same objects read from the bucket's directory it shows what the S3
// transport costs: the SDK per request, the sockets, the server.
func (b *bench) runGet(s3 bool) func(ctx context.Context, dir string, check bool, c *clock) (string, error) {
	return func(ctx context.Context, dir string, _ bool, c *clock) (string, error) {
		root := filepath.Join(b.s3Dir, "cache")
		var keys []string
		entries, err := os.ReadDir(root)
		if err != nil {
			return "", err
		}
		for _, e := range entries {
			if strings.HasSuffix(e.Name(), ".narinfo") {
				keys = append(keys, e.Name())
			}
		}
		nars, err := os.ReadDir(filepath.Join(root, "nar"))
		if err != nil {
			return "", err
		}
		for _, e := range nars {
			keys = append(keys, "nar/"+e.Name())
		}
		raw, cfg := "file://"+root, backend.Config{}
		if s3 {
			raw = b.cacheURL()
			cfg.Credentials = &settings.Credentials{AccessKeyID: s3Access, SecretAccessKey: s3Secret}
		}
		u, err := url.Parse(raw)
		if err != nil {
			return "", err
		}
		c.start()
		be, err := backend.Open(ctx, u, raw, backend.NewParams(u), cfg)
		if err != nil {
			return "", err
		}
		var got atomic.Int64
		var firstErr error
		var mu sync.Mutex
		var reused, dialed atomic.Int64
		tctx := httptrace.WithClientTrace(ctx, &httptrace.ClientTrace{GotConn: func(i httptrace.GotConnInfo) {
			if i.Reused {
				reused.Add(1)
			} else {
				dialed.Add(1)
			}
		}})
		each(16, len(keys), func(i int) {
			body, err := be.Get(tctx, keys[i])
			if err == nil {
				var n int64
				n, err = io.Copy(io.Discard, body)
				body.Close()
				got.Add(n)
			}
			if err != nil {
				mu.Lock()
				firstErr = cmp.Or(firstErr, err)
				mu.Unlock()
			}
		})
		c.stop()
		detail := fmt.Sprintf("%d objects, %.1f MiB", len(keys), mibf(got.Load()))
		if s3 {
			detail += fmt.Sprintf(", %d connections dialed, %d reused", dialed.Load(), reused.Load())
		}
		return detail, firstErr
	}
}
