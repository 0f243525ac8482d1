package relocate

import (
	"archive/zip"
	"bytes"
	"io"
	"path/filepath"
	"strings"
)

// zipExts are archive names checked as zip even when they start with
// something else (a zipapp's #! line, a self-extracting stub).
var zipExts = map[string]bool{".zip": true, ".jar": true, ".war": true, ".ear": true, ".whl": true, ".egg": true, ".pyz": true, ".apk": true}

func isZip(path string, head []byte) bool {
	return bytes.HasPrefix(head, []byte("PK\x03\x04")) || zipExts[strings.ToLower(filepath.Ext(path))]
}

// zipMembers reads every member of the zip archive at path: for each, the
// first form found in its contents (decompressed) and the read error (a
// CRC mismatch shows as zip.ErrChecksum).
func zipMembers(path string, buf []byte) (map[string]string, map[string]error, error) {
	zr, err := zip.OpenReader(path)
	if err != nil {
		return nil, nil, err
	}
	defer zr.Close()
	forms, errs := map[string]string{}, map[string]error{}
	for _, m := range zr.File {
		if m.FileInfo().IsDir() {
			continue
		}
		rc, err := m.Open()
		if err != nil {
			errs[m.Name] = err
			continue
		}
		form, _, err := scanForms(io.LimitReader(rc, maxInflated), buf)
		if err == nil {
			// scanForms stops at the first form: read the rest so the
			// reader verifies the member's CRC.
			_, err = io.CopyBuffer(io.Discard, rc, buf)
		}
		rc.Close()
		if form != "" {
			forms[m.Name] = form
		}
		if err != nil {
			errs[m.Name] = err
		}
	}
	return forms, errs, nil
}

// zip reports members whose contents name the store (in a deflated member
// the rewrite cannot reach them) and members the rewrite corrupted (a
// stored member whose bytes changed under its CRC).
func (fc *fileCheck) zip(rel, path string) {
	forms, errs, err := zipMembers(path, fc.buf)
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
	for name, form := range forms {
		if _, corrupted := errs[name]; !corrupted {
			fc.report(rel, "%s inside zip member %s: the rewrite cannot reach it", form, name)
		}
	}
}
