package main

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"io/fs"
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
)

// emptyStore makes a fresh chroot store root under dir.
func emptyStore(dir string) (string, error) {
	root := filepath.Join(dir, "root")
	return root, os.MkdirAll(filepath.Join(root, "nix", "store"), 0o755)
}

// runOld is the old buildpacks' restore: stream the one export object from
// S3 through zstd into nix-store --import.
func (b *bench) runOld(ctx context.Context, dir string, check bool) (time.Duration, string, error) {
	root, err := emptyStore(dir)
	if err != nil {
		return 0, "", err
	}
	start := time.Now()
	obj, err := b.client.GetObject(ctx, &s3.GetObjectInput{Bucket: aws.String("old"), Key: aws.String("closure.nar.zst")})
	if err != nil {
		return 0, "", err
	}
	defer obj.Body.Close()
	cmd := exec.Command("sh", "-c", `zstd -dc | nix-store --store "$1" --import > /dev/null`, "sh", root)
	cmd.Stdin = obj.Body
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	if err := cmd.Run(); err != nil {
		return 0, "", fmt.Errorf("import: %w\n%s", err, stderr.String())
	}
	d := time.Since(start)
	return d, "", b.check(root, check)
}

// runNixCopy is Nix itself reading the bucket's directory as a file://
// binary cache.
func (b *bench) runNixCopy(ctx context.Context, dir string, check bool) (time.Duration, string, error) {
	root, err := emptyStore(dir)
	if err != nil {
		return 0, "", err
	}
	start := time.Now()
	if _, err := nixCmd("", "nix", "copy", "--no-check-sigs", "--from", "file://"+filepath.Join(b.s3Dir, "cache"), "--to", root, b.top); err != nil {
		return 0, "", err
	}
	d := time.Since(start)
	return d, "", b.check(root, check)
}

// runCold is ours: Fetch the closure from S3 into an empty store and
// register it with nix-store --register-validity --hash-given.
func (b *bench) runCold(ctx context.Context, dir string, check bool) (time.Duration, string, error) {
	root, err := emptyStore(dir)
	if err != nil {
		return 0, "", err
	}
	d, detail, err := b.restore(ctx, root, b.closure, len(b.closure))
	if err != nil {
		return 0, "", err
	}
	return d, detail, b.check(root, check)
}

// runWarm restores into a store that already holds all but 10 paths (the
// top path and the nine only it and each other refer to, as after a change
// to an app's top-level derivations).
func (b *bench) runWarm(ctx context.Context, dir string, check bool) (time.Duration, string, error) {
	root, err := emptyStore(dir)
	if err != nil {
		return 0, "", err
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
	if _, _, err := b.restore(ctx, root, present, len(present)); err != nil {
		return 0, "", err
	}
	d, detail, err := b.restore(ctx, root, b.closure, len(missing))
	if err != nil {
		return 0, "", err
	}
	return d, detail, b.check(root, check)
}

// restore is Fetch plus registration, checking that want paths came.
func (b *bench) restore(ctx context.Context, root string, paths []string, want int) (time.Duration, string, error) {
	start := time.Now()
	c, err := b.openCache(ctx)
	if err != nil {
		return 0, "", err
	}
	res, err := c.Fetch(ctx, paths, filepath.Join(root, "nix", "store"))
	if err != nil {
		return 0, "", err
	}
	fetched := time.Since(start)
	if len(res.Installed) != want || len(res.Missing) != 0 || len(res.Warnings) != 0 {
		return 0, "", fmt.Errorf("fetch installed %d of %d paths: missing %v, warnings %v", len(res.Installed), want, res.Missing, res.Warnings)
	}
	var reg bytes.Buffer
	if err := cache.FormatRegistration(&reg, res.Installed); err != nil {
		return 0, "", err
	}
	// A chroot store cannot take --register-validity in Nix 2.8 (it
	// canonicalises by the logical path), so mount it on /nix in a private
	// mount namespace, as the build does.
	if _, err := nixCmd(reg.String(), "unshare", "--mount", "--propagation", "private", "sh", "-c",
		`mount --bind "$1" /nix && exec nix-store --register-validity --hash-given`, "sh", filepath.Join(root, "nix")); err != nil {
		return 0, "", err
	}
	d := time.Since(start)
	return d, fmt.Sprintf("fetch %.2f s (%d paths, %.1f MiB), register %.2f s",
		fetched.Seconds(), len(res.Installed), mibf(res.DownloadedBytes), (d - fetched).Seconds()), nil
}

// check verifies a restored store with Nix (untimed), on request.
func (b *bench) check(root string, check bool) error {
	if !check {
		return nil
	}
	out, err := nixCmd("", "nix-store", "--store", root, "-qR", b.top)
	if err != nil {
		return err
	}
	if n := len(strings.Fields(out)); n != len(b.closure) {
		return fmt.Errorf("restored store has %d of %d paths valid", n, len(b.closure))
	}
	_, err = nixCmd("", "nix-store", "--store", root, "--verify", "--check-contents")
	return err
}

// runFloor moves the same bytes with no decompression, hashing or NAR
// parsing: download every compressed NAR (8 at a time) to /dev/null, then
// write the closure's files (same sizes, same tree, 8 paths at a time).
func (b *bench) runFloor(ctx context.Context, dir string, _ bool) (time.Duration, string, error) {
	nars, err := os.ReadDir(filepath.Join(b.s3Dir, "cache", "nar"))
	if err != nil {
		return 0, "", err
	}
	start := time.Now()
	var got atomic.Int64
	var firstErr error
	var mu sync.Mutex
	each(8, len(nars), func(i int) {
		obj, err := b.client.GetObject(ctx, &s3.GetObjectInput{Bucket: aws.String("cache"), Key: aws.String("nar/" + nars[i].Name())})
		if err == nil {
			var n int64
			n, err = io.Copy(io.Discard, obj.Body)
			obj.Body.Close()
			got.Add(n)
		}
		if err != nil {
			mu.Lock()
			firstErr = err
			mu.Unlock()
		}
	})
	if firstErr != nil {
		return 0, "", firstErr
	}
	download := time.Since(start)
	src := filepath.Join(b.srcRoot, "nix", "store")
	dst := filepath.Join(dir, "files")
	if err := os.MkdirAll(dst, 0o755); err != nil {
		return 0, "", err
	}
	var written atomic.Int64
	each(8, len(b.closure), func(i int) {
		n, err := writeLike(filepath.Join(src, filepath.Base(b.closure[i])), filepath.Join(dst, filepath.Base(b.closure[i])))
		written.Add(n)
		if err != nil {
			mu.Lock()
			firstErr = err
			mu.Unlock()
		}
	})
	d := time.Since(start)
	return d, fmt.Sprintf("download %.2f s (%.1f MiB), write %.2f s (%.1f MiB)",
		download.Seconds(), mibf(got.Load()), (d - download).Seconds(), mibf(written.Load())), firstErr
}

// zeros is what the floor writes: the bytes' values do not matter to it.
var zeros = make([]byte, 1<<20)

// writeLike recreates the tree at src under dst: directories, symlinks,
// and files of the same sizes.
func writeLike(src, dst string) (int64, error) {
	var n int64
	err := filepath.WalkDir(src, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		out := filepath.Join(dst, strings.TrimPrefix(p, src))
		switch {
		case d.IsDir():
			return os.Mkdir(out, 0o755)
		case d.Type()&fs.ModeSymlink != 0:
			target, err := os.Readlink(p)
			if err != nil {
				return err
			}
			return os.Symlink(target, out)
		default:
			fi, err := d.Info()
			if err != nil {
				return err
			}
			f, err := os.OpenFile(out, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o444)
			if err != nil {
				return err
			}
			for left := fi.Size(); left > 0; {
				k, err := f.Write(zeros[:min(left, int64(len(zeros)))])
				if err != nil {
					f.Close()
					return err
				}
				left -= int64(k)
				n += int64(k)
			}
			return f.Close()
		}
	})
	return n, err
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
