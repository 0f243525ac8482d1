package main

import (
	"context"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/s3"
)

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
