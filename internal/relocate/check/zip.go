package check

import (
	"archive/zip"
	"bytes"
	"path/filepath"
	"strings"
)

// zipExts are archive names checked as zip even when they start with
// something else (a zipapp's #! line, a self-extracting stub).
var zipExts = map[string]bool{".zip": true, ".jar": true, ".war": true, ".ear": true, ".whl": true, ".egg": true, ".pyz": true, ".apk": true}

func isZip(path string, head []byte) bool {
	return bytes.HasPrefix(head, []byte("PK\x03\x04")) || zipExts[strings.ToLower(filepath.Ext(path))]
}

// zipMembers reads every member of the zip archive at path, and what is
// nested in it: for each member, what inner found and the read error (a
// CRC mismatch shows as zip.ErrChecksum).
func zipMembers(path string, buf []byte) (map[string]*inner, map[string]error, error) {
	zr, err := zip.OpenReader(path)
	if err != nil {
		return nil, nil, err
	}
	defer zr.Close()
	found, errs := map[string]*inner{}, map[string]error{}
	for _, m := range zr.File {
		in := &inner{buf: buf}
		if err := in.member(m, "", 0); err != nil {
			errs[m.Name] = err
		}
		found[m.Name] = in
	}
	return found, errs, nil
}

// zip reports members whose contents name the store (in a deflated member
// the rewrite cannot reach them, nor inside what a member nests: a jar in
// a war), members the rewrite corrupted (a stored member whose bytes
// changed under its CRC), and members the check could not open.
func (fc *fileCheck) zip(rel, path string) {
	found, errs, err := zipMembers(path, fc.buf)
	if err != nil {
		if _, _, oerr := zipMembers(filepath.Join(fc.orig, rel), fc.buf); oerr == nil {
			fc.report(rel, "zip archive no longer opens after the rewrite: %v", err)
		}
		return
	}
	var origErrs map[string]error
	if len(errs) > 0 {
		_, origErrs, _ = zipMembers(filepath.Join(fc.orig, rel), fc.buf)
	}
	for name, err := range errs {
		if _, already := origErrs[name]; !already {
			fc.report(rel, "zip member %s is corrupted by the rewrite: %v", name, err)
		}
	}
	for name, in := range found {
		if _, corrupted := errs[name]; corrupted {
			continue
		}
		fc.inner(rel, in)
	}
}
