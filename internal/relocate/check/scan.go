package check

import (
	"bytes"
	"encoding/base64"
	"io"
	"slices"
)

// form is an encoding of the store directory that the byte rewrite of
// "/nix/store/" leaves alone.
type form struct {
	name    string
	pattern []byte
}

func utf16(s string, bigEndian bool) []byte {
	var b []byte
	for _, c := range []byte(s) {
		if bigEndian {
			b = append(b, 0, c)
		} else {
			b = append(b, c, 0)
		}
	}
	return b
}

func utf32(s string, bigEndian bool) []byte {
	var b []byte
	for _, c := range []byte(s) {
		if bigEndian {
			b = append(b, 0, 0, 0, c)
		} else {
			b = append(b, c, 0, 0, 0)
		}
	}
	return b
}

// base64Forms are the base64 texts (standard and URL alphabets) that
// encode s whatever its offset modulo 3 in the encoded data: the
// characters whose six bits all come from s.
func base64Forms(s string) [][]byte {
	var out [][]byte
	for _, enc := range []*base64.Encoding{base64.StdEncoding, base64.URLEncoding} {
		for k := range 3 {
			text := enc.EncodeToString(append(make([]byte, k), s...))
			from, to := (8*k+5)/6, (8*k+8*len(s))/6
			form := []byte(text[from:to])
			if !slices.ContainsFunc(out, func(b []byte) bool { return bytes.Equal(b, form) }) {
				out = append(out, form)
			}
		}
	}
	return out
}

// forms are searched in every relocated file (and every decompressed
// stream): after the rewrite, any of them still points into /nix.
var forms = func() []form {
	fs := []form{
		{"the store directory " + storeDir + " (without a trailing slash, or not rewritten)", []byte(storeDir)},
		{"the store directory spelled /nix//store", []byte("/nix//store")},
		{"the store directory spelled /nix/./store", []byte("/nix/./store")},
		{`a JSON-escaped store path (\/nix\/store)`, []byte(`\/nix\/store`)},
		{"a UTF-16LE store path", utf16(storeDir, false)},
		{"a UTF-16BE store path", utf16(storeDir, true)},
		{"a UTF-32LE store path", utf32(storeDir, false)},
		{"a UTF-32BE store path", utf32(storeDir, true)},
	}
	for _, a := range []string{"%2F", "%2f"} {
		for _, b := range []string{"%2F", "%2f"} {
			u := a + "nix" + b + "store"
			fs = append(fs, form{"a URL-encoded store path (" + u + ")", []byte(u)})
		}
	}
	for _, b := range base64Forms(storeDir + "/") {
		fs = append(fs, form{"a base64-encoded store path (" + string(b) + ", as in a data: URL or a source map)", b})
	}
	return fs
}()

// formOverlap is what each read keeps of the previous one, so that a form
// across the boundary is found.
var formOverlap = func() int {
	n := 0
	for _, f := range forms {
		n = max(n, len(f.pattern))
	}
	return n - 1
}()

// anchorGroup is the forms found by searching for one needle (anchor) at
// a known offset in each: one pass over the data for the ASCII spellings
// (all hold "nix"), one for the UTF-16 and UTF-32 ones (all hold "\0x"),
// one per base64 text, instead of one per form.
type anchorGroup struct {
	anchor   []byte
	forms    []form
	offs     []int // offs[i]: where anchor is in forms[i].pattern
	maxOff   int
	textOnly bool // base64: searched in text only (no NUL in the first 8 KiB)
}

var anchorGroups = func() []anchorGroup {
	ascii := anchorGroup{anchor: []byte("nix")}
	wide := anchorGroup{anchor: []byte("\x00x")}
	var gs []anchorGroup
	for _, f := range forms {
		switch {
		case bytes.Contains(f.pattern, ascii.anchor):
			ascii.add(f)
		case bytes.Contains(f.pattern, wide.anchor):
			wide.add(f)
		default:
			g := anchorGroup{anchor: f.pattern, textOnly: true}
			g.add(f)
			gs = append(gs, g)
		}
	}
	return append([]anchorGroup{ascii, wide}, gs...)
}()

func (g *anchorGroup) add(f form) {
	off := bytes.Index(f.pattern, g.anchor)
	g.forms, g.offs, g.maxOff = append(g.forms, f), append(g.offs, off), max(g.maxOff, off)
}

// firstForm returns the form that starts first in b, and where.
func firstForm(b []byte, text bool) (string, int) {
	best, at := "", -1
	for _, g := range anchorGroups {
		if g.textOnly && !text {
			continue
		}
		for from := 0; ; {
			i := bytes.Index(b[from:], g.anchor)
			if i < 0 {
				break
			}
			i += from
			if at >= 0 && i-g.maxOff > at {
				break // every form starting here starts after the best
			}
			for k, f := range g.forms {
				if s := i - g.offs[k]; s >= 0 && (at < 0 || s < at) && bytes.HasPrefix(b[s:], f.pattern) {
					best, at = f.name, s
				}
			}
			from = i + 1
		}
	}
	return best, at
}

// scanForms returns the first form found in r and its offset, or "".
// base64 forms are searched only in text (no NUL in the first 8 KiB).
func scanForms(r io.Reader, buf []byte) (string, int64, error) {
	var base int64 // offset of buf[0] in the stream
	carry := 0
	text := -1
	for {
		n, err := io.ReadFull(r, buf[carry:])
		end := carry + n
		if text < 0 {
			text = 1
			if bytes.IndexByte(buf[:min(end, 8<<10)], 0) >= 0 {
				text = 0
			}
		}
		if best, at := firstForm(buf[:end], text == 1); at >= 0 {
			return best, base + int64(at), nil
		}
		if err == io.EOF || err == io.ErrUnexpectedEOF {
			return "", 0, nil
		}
		if err != nil {
			return "", 0, err
		}
		keep := min(formOverlap, end)
		copy(buf, buf[end-keep:end])
		base += int64(end - keep)
		carry = keep
	}
}
