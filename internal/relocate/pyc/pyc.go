// Package pyc reads the header of CPython's compiled files (.pyc) that
// relocation has to keep true: a checked hash-based .pyc (PEP 552) holds a
// SipHash of its source, and Python recompiles when the source no longer
// matches it (in a read-only slug, on every start). relocate fixes the
// hash of those whose source it rewrote; relocate/check reports those it
// did not.
package pyc

import (
	"bytes"
	"encoding/binary"
	"math/bits"
	"os"
	"path/filepath"
	"strings"
)

// A .pyc file starts with 16 bytes: the magic number, flags, and either
// the source's mtime and size or, when flags bit 0 is set (PEP 552), a
// SipHash of the source keyed by the magic number. With bit 1 set too
// ("checked"), Python recompiles when the source's hash differs, and
// writes the result back when it can: in a read-only slug it recompiles
// on every start. Relocation changes sources that name store paths, so
// their checked .pyc files get the new source's hash.
const (
	headerSize    = 16
	hashBased     = 1
	checkedSource = 2
	// HashOffset is where the source's hash is in a hash-based .pyc.
	HashOffset = 8
)

// Source is the source a .pyc was compiled from:
// dir/__pycache__/name.<tag>.pyc comes from dir/name.py, a legacy
// dir/name.pyc from dir/name.py.
func Source(pyc string) string {
	dir, base := filepath.Split(pyc)
	if filepath.Base(dir) == "__pycache__" {
		name, _, _ := strings.Cut(base, ".")
		return filepath.Join(filepath.Dir(filepath.Clean(dir)), name+".py")
	}
	return strings.TrimSuffix(pyc, "c")
}

// hashes is the source hash under each SipHash variant CPython has
// used: SipHash-2-4 up to 3.10, SipHash-1-3 from 3.11 (pyhash.c,
// _Py_KeyedHash). Which one a .pyc used is found by trying both against
// its original source, so no table of magic numbers is needed.
func hashes(magic []byte, source []byte) [2][8]byte {
	key := uint64(binary.LittleEndian.Uint32(magic))
	var h [2][8]byte
	binary.LittleEndian.PutUint64(h[0][:], sipHash(2, 4, key, 0, source))
	binary.LittleEndian.PutUint64(h[1][:], sipHash(1, 3, key, 0, source))
	return h
}

// Read reads a .pyc's header and its source; ok is false when the file is
// not a checked hash-based .pyc or its source is missing.
func Read(pyc string) (header []byte, source []byte, ok bool) {
	f, err := os.Open(pyc)
	if err != nil {
		return nil, nil, false
	}
	defer f.Close()
	header = make([]byte, headerSize)
	if _, err := f.ReadAt(header, 0); err != nil || header[2] != '\r' || header[3] != '\n' {
		return nil, nil, false
	}
	if flags := binary.LittleEndian.Uint32(header[4:8]); flags&hashBased == 0 || flags&checkedSource == 0 {
		return nil, nil, false
	}
	source, err = os.ReadFile(Source(pyc))
	return header, source, err == nil
}

// Variant says which SipHash variant of source the header holds (0 or
// 1), or -1 when neither matches (the .pyc is stale already).
func Variant(header, source []byte) int {
	for i, h := range hashes(header[:4], source) {
		if bytes.Equal(h[:], header[HashOffset:headerSize]) {
			return i
		}
	}
	return -1
}

// Hash is the hash a .pyc with this header holds for source, under the
// variant Variant found for its original source.
func Hash(header, source []byte, variant int) [8]byte {
	return hashes(header[:4], source)[variant]
}

// sipHash is SipHash-c-d of msg with the key (k0, k1).
func sipHash(c, d int, k0, k1 uint64, msg []byte) uint64 {
	v0 := k0 ^ 0x736f6d6570736575
	v1 := k1 ^ 0x646f72616e646f6d
	v2 := k0 ^ 0x6c7967656e657261
	v3 := k1 ^ 0x7465646279746573
	round := func() {
		v0 += v1
		v1 = bits.RotateLeft64(v1, 13)
		v1 ^= v0
		v0 = bits.RotateLeft64(v0, 32)
		v2 += v3
		v3 = bits.RotateLeft64(v3, 16)
		v3 ^= v2
		v0 += v3
		v3 = bits.RotateLeft64(v3, 21)
		v3 ^= v0
		v2 += v1
		v1 = bits.RotateLeft64(v1, 17)
		v1 ^= v2
		v2 = bits.RotateLeft64(v2, 32)
	}
	n := len(msg)
	for len(msg) >= 8 {
		m := binary.LittleEndian.Uint64(msg)
		v3 ^= m
		for range c {
			round()
		}
		v0 ^= m
		msg = msg[8:]
	}
	var last [8]byte
	copy(last[:], msg)
	last[7] = byte(n)
	m := binary.LittleEndian.Uint64(last[:])
	v3 ^= m
	for range c {
		round()
	}
	v0 ^= m
	v2 ^= 0xff
	for range d {
		round()
	}
	return v0 ^ v1 ^ v2 ^ v3
}
