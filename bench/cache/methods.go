package main

import (
	"bytes"
	"cmp"
	"context"
	"fmt"
	"io"
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
