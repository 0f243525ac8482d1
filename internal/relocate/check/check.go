// Package check reads a closure relocated by relocate.Copy beside the
// original and reports what the byte rewrite of /nix/store/ could not
// reach or broke: store paths inside compressed data and archive members
// (nested up to maxDepth), other encodings of the store directory (UTF-16,
// JSON-escaped, URL-encoded, base64), symlinks and ELF interpreters or
// RUNPATHs still in /nix, checksums that no longer verify (zip members,
// gzip/xz/zstd frames, tar headers, PNG chunks, wheel RECORDs and *SUMS,
// hash-checked .pyc), SQLite indexes over rewritten text, setuid files.
// A problem the original already had is not reported.
package check

import (
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"regexp"
	"sort"
	"strings"
	"sync"
)

// Finding is one thing relocation broke, or could not inspect, in a file
// of the closure.
type Finding struct {
	// StorePath is the original store path (/nix/store/<hash>-name).
	StorePath string
	// File is the file inside it ("" for the store path itself).
	File string
	// Problem says what is wrong and why it matters at run time.
	Problem string
}

func (f Finding) String() string {
	if f.File == "" {
		return f.StorePath + ": " + f.Problem
	}
	return f.StorePath + "/" + f.File + ": " + f.Problem
}

// Report is what Closure found.
type Report struct {
	// Broken are the problems relocation caused: a relocated program may
	// not find what it needs, or may refuse its own files.
	Broken []Finding
	// NotInspected are files that might hide store paths where the check
	// cannot look.
	NotInspected []Finding
	// Files and Bytes count what was read.
	Files int
	Bytes int64
}

// Closure reads the relocated closure in dir (entries "<hash>-name", as
// relocate.Copy wrote them) beside the original in origStore, and reports
// only what the relocation broke: a problem the original already had
// (a stale checksum, a corrupt archive) is not reported. prefix is the
// directory that replaced /nix/store in the copy, as written in its files
// (a relocate.Prefix, padded to the store directory's length).
func Closure(origStore, dir, prefix string) (*Report, error) {
	rep := &Report{}
	var (
		mu   sync.Mutex
		wg   sync.WaitGroup
		jobs = make(chan string, 64)
	)
	for range 2 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			fc := &fileCheck{orig: origStore, dir: dir, prefix: prefix, buf: make([]byte, 1<<20)}
			for rel := range jobs {
				fc.check(rel)
			}
			mu.Lock()
			rep.Broken = append(rep.Broken, fc.broken...)
			rep.NotInspected = append(rep.NotInspected, fc.notInspected...)
			rep.Files += fc.files
			rep.Bytes += fc.bytes
			mu.Unlock()
		}()
	}
	err := filepath.WalkDir(dir, func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(dir, path)
		switch {
		case d.Type().IsRegular():
			jobs <- rel
		case d.Type()&fs.ModeSymlink != 0:
			if f, ok := checkSymlink(path, rel); !ok {
				mu.Lock()
				rep.Broken = append(rep.Broken, f)
				mu.Unlock()
			}
		}
		return nil
	})
	close(jobs)
	wg.Wait()
	if err != nil {
		return nil, fmt.Errorf("unable to read the relocated closure %s\n%w", dir, err)
	}
	if err := checkSetuid(origStore, dir, rep); err != nil {
		return nil, err
	}
	for _, l := range [][]Finding{rep.Broken, rep.NotInspected} {
		sort.Slice(l, func(i, j int) bool { return l[i].String() < l[j].String() })
	}
	return rep, nil
}

// fileCheck checks files; each worker of Closure has one.
type fileCheck struct {
	orig, dir    string
	prefix       string
	buf          []byte
	broken       []Finding
	notInspected []Finding
	files        int
	bytes        int64
}

// finding names rel ("<hash>-name/sub/file") by store path and file.
func finding(rel, problem string) Finding {
	name, file, _ := strings.Cut(filepath.ToSlash(rel), "/")
	return Finding{StorePath: storeDir + "/" + name, File: file, Problem: problem}
}

func (fc *fileCheck) report(rel, format string, args ...any) {
	fc.broken = append(fc.broken, finding(rel, fmt.Sprintf(format, args...)))
}

// check runs every check that applies to one file.
func (fc *fileCheck) check(rel string) {
	path := filepath.Join(fc.dir, rel)
	f, err := os.Open(path)
	if err != nil {
		fc.report(rel, "unreadable: %v", err)
		return
	}
	defer f.Close()
	fi, err := f.Stat()
	if err != nil {
		fc.report(rel, "unreadable: %v", err)
		return
	}
	fc.files++
	fc.bytes += fi.Size()
	if form, off, err := scanForms(f, fc.buf); err != nil {
		fc.report(rel, "unreadable: %v", err)
	} else if form != "" {
		fc.report(rel, "%s at byte %d is not rewritten; it points into /nix, which is absent at run time", form, off)
	}
	head := make([]byte, 512)
	n, _ := f.ReadAt(head, 0)
	head = head[:n]
	fc.inside(rel, path, head)
	fc.formats(rel, path, head)
	fc.elf(rel, path, head)
	fc.manifest(rel)
	fc.checkedPyc(rel)
}

// storeDir is the store directory every closure is built for, and
// storePrefix what the rewrite replaces.
const (
	storeDir    = "/nix/store"
	storePrefix = storeDir + "/"
)

// intoNix is an absolute path into /nix, however spelled: extra slashes
// and "." components ("//nix/", "/./nix/store"), which the kernel resolves
// into /nix.
var intoNix = regexp.MustCompile(`^(/+\.)*/+nix(/|$)`)

// checkSymlink reports a relocated symlink that still leads into /nix.
func checkSymlink(path, rel string) (Finding, bool) {
	target, err := os.Readlink(path)
	if err != nil {
		return finding(rel, "unreadable symlink: "+err.Error()), false
	}
	if intoNix.MatchString(target) {
		return finding(rel, "symlink to "+target+" points into /nix, which is absent at run time"), false
	}
	return Finding{}, true
}

// inside looks into a file the check can open (compressed data, an
// archive, and what they nest): store paths there are out of the
// rewrite's reach, and a checksum or header that no longer verifies was
// broken by it, unless the original was broken already.
func (fc *fileCheck) inside(rel, path string, head []byte) {
	if isZip(path, head) {
		fc.zip(rel, path)
		return
	}
	kind := recognize(path, head)
	if kind == "" {
		return
	}
	in, err := lookInto(path, fc.buf)
	if err != nil {
		if _, oerr := lookInto(filepath.Join(fc.orig, rel), fc.buf); oerr == nil {
			what := kind + " data no longer decompresses"
			if kind == "tar" {
				what = "tar archive no longer reads"
			}
			fc.report(rel, "%s after the rewrite: %v", what, err)
		}
		return
	}
	fc.inner(rel, in)
}

// lookInto reads the file at path with inner.
func lookInto(path string, buf []byte) (*inner, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	in := &inner{buf: buf}
	return in, in.look(f, filepath.Base(path), "", 0, false)
}

// inner records what in found in the file rel.
func (fc *fileCheck) inner(rel string, in *inner) {
	for _, f := range in.found {
		fc.report(rel, "%s: the rewrite cannot reach it", f)
	}
	for _, s := range in.skipped {
		fc.notInspected = append(fc.notInspected, finding(rel, s))
	}
}

// checkSetuid reports setuid and setgid files of the original: a copy
// made without root cannot keep the bit (the store never has them; a
// closure copied from elsewhere might).
func checkSetuid(origStore, dir string, rep *Report) error {
	entries, err := os.ReadDir(dir)
	if err != nil {
		return fmt.Errorf("unable to read %s\n%w", dir, err)
	}
	for _, e := range entries {
		root := filepath.Join(origStore, e.Name())
		err := filepath.WalkDir(root, func(path string, d fs.DirEntry, err error) error {
			if err != nil || !d.Type().IsRegular() {
				return err
			}
			fi, err := d.Info()
			if err != nil {
				return err
			}
			if fi.Mode()&(fs.ModeSetuid|fs.ModeSetgid) != 0 {
				rel, _ := filepath.Rel(origStore, path)
				rep.Broken = append(rep.Broken, finding(rel, "setuid or setgid file; the relocated copy cannot keep the bit"))
			}
			return nil
		})
		if err != nil {
			return fmt.Errorf("unable to read the original closure %s\n%w", root, err)
		}
	}
	return nil
}
