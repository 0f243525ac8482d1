package check

import (
	"bytes"
	"debug/elf"
	"os"
	"path"
	"path/filepath"
	"strings"
)

// elf reports an ELF file whose interpreter or library search path still
// points into /nix, or whose interpreter is not in the relocated closure.
func (fc *fileCheck) elf(rel, path string, head []byte) {
	if !bytes.HasPrefix(head, []byte(elf.ELFMAG)) {
		return
	}
	f, err := elf.Open(path)
	if err != nil {
		return // not an ELF file after all; the original is no better
	}
	defer f.Close()
	for _, p := range f.Progs {
		if p.Type != elf.PT_INTERP {
			continue
		}
		data := make([]byte, p.Filesz)
		if _, err := p.ReadAt(data, 0); err != nil {
			fc.report(rel, "ELF interpreter unreadable: %v", err)
			continue
		}
		interp := string(bytes.TrimRight(data, "\x00"))
		fc.inPrefix(rel, "ELF interpreter", interp)
		if in, ok := strings.CutPrefix(interp, fc.prefix+"/"); ok {
			if _, err := os.Lstat(filepath.Join(fc.dir, in)); err != nil {
				fc.report(rel, "ELF interpreter %s is not in the relocated closure", interp)
			}
		}
	}
	for _, tag := range []elf.DynTag{elf.DT_RPATH, elf.DT_RUNPATH} {
		vals, _ := f.DynString(tag)
		for _, v := range vals {
			for _, dir := range strings.Split(v, ":") {
				fc.inPrefix(rel, "ELF "+tag.String(), dir)
			}
		}
	}
}

// inPrefix reports a path that is still under /nix.
func (fc *fileCheck) inPrefix(rel, what, p string) {
	if p == "/nix" || strings.HasPrefix(p, "/nix/") {
		fc.report(rel, "%s %s is outside the relocated closure (%s)", what, p, path.Clean(fc.prefix))
	}
}
