package relocate

import (
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
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

// CheckReport is what Check found.
type CheckReport struct {
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

// Check reads the relocated closure in dir (entries "<hash>-name", as
// Copy wrote them for p) beside the original in origStore, and reports
// only what the relocation broke: a problem the original already had
// (a stale checksum, a corrupt archive) is not reported.
func Check(origStore, dir string, p Prefix) (*CheckReport, error) {
	rep := &CheckReport{}
	var (
		mu   sync.Mutex
		wg   sync.WaitGroup
		jobs = make(chan string, 64)
	)
	for range 2 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			fc := &fileCheck{orig: origStore, dir: dir, p: p, buf: make([]byte, 1<<20)}
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

// fileCheck checks files; each worker of Check has one.
type fileCheck struct {
	orig, dir    string
	p            Prefix
	buf          []byte
	broken       []Finding
	notInspected []Finding
	files        int
	bytes        int64
}

// finding names rel ("<hash>-name/sub/file") by store path and file.
func finding(rel, problem string) Finding {
	name, file, _ := strings.Cut(filepath.ToSlash(rel), "/")
	return Finding{StorePath: StoreDir + "/" + name, File: file, Problem: problem}
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
	fc.pyc(rel)
}

// checkSymlink reports a relocated symlink that still leads into /nix.
func checkSymlink(path, rel string) (Finding, bool) {
	target, err := os.Readlink(path)
	if err != nil {
		return finding(rel, "unreadable symlink: "+err.Error()), false
	}
	if target == "/nix" || strings.HasPrefix(target, "/nix/") || storeSpelling.MatchString(target) {
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
func checkSetuid(origStore, dir string, rep *CheckReport) error {
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
