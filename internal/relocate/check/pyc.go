package check

import (
	"path/filepath"

	"github.com/nix-buildpack/nix-buildpack/internal/relocate/pyc"
)

// checkedPyc reports a checked hash-based .pyc that matched its source in
// the original and no longer does (relocate.Copy fixes those; a copy made
// otherwise would make Python recompile on every start in a read-only
// slug).
func (fc *fileCheck) checkedPyc(rel string) {
	if filepath.Ext(rel) != ".pyc" {
		return
	}
	oh, osrc, ok := pyc.Read(filepath.Join(fc.orig, rel))
	if !ok {
		return
	}
	v := pyc.Variant(oh, osrc)
	nh, nsrc, ok := pyc.Read(filepath.Join(fc.dir, rel))
	if v >= 0 && (!ok || pyc.Variant(nh, nsrc) != v) {
		fc.report(rel, "hash-checked .pyc no longer matches its source %s", filepath.Base(pyc.Source(rel)))
	}
}
