package runtimejson

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"regexp"
	"strings"
	"unicode/utf8"
)

// envNameRE is what a POSIX shell and the CNB lifecycle accept as an
// environment variable name.
var envNameRE = regexp.MustCompile(`^[A-Za-z_][A-Za-z0-9_]*$`)

// checkUTF8 refuses bytes that are not UTF-8: encoding/json would replace
// them with U+FFFD silently.
func checkUTF8(data []byte, file string) error {
	for off := 0; off < len(data); {
		r, size := utf8.DecodeRune(data[off:])
		if r == utf8.RuneError && size == 1 {
			line, col := position(data, int64(off)+1)
			return fmt.Errorf("%s:%d:%d: invalid UTF-8 at byte offset %d (0x%02x)\nwrite the file as UTF-8", file, line, col, off, data[off])
		}
		off += size
	}
	return nil
}

// MaxDepth bounds how deep arrays and objects nest in runtime.json: its
// values are strings two levels down ({"workers": {"web": "..."}}), and
// encoding/json spends about 160 MB on 9,000 levels before its own limit
// of 10,000.
const MaxDepth = 64

// checkDepth refuses arrays and objects nested deeper than MaxDepth,
// naming the line and column of the first bracket too deep.
func checkDepth(data []byte, file string) error {
	depth, inString := 0, false
	for i := 0; i < len(data); i++ {
		c := data[i]
		switch {
		case inString && c == '\\':
			i++
		case c == '"':
			inString = !inString
		case inString:
		case c == '[' || c == '{':
			if depth++; depth > MaxDepth {
				line, col := position(data, int64(i)+1)
				return fmt.Errorf("%s:%d:%d: arrays and objects nested more than %d deep\n"+
					"runtime.json holds workers, env and path, whose values are strings: flatten it", file, line, col, MaxDepth)
			}
		case c == ']' || c == '}':
			depth = max(depth-1, 0)
		}
	}
	return nil
}

// frame is an array or object being read by checkStructure.
type frame struct {
	object    bool
	name      string // where it is, for messages: "workers", "the top level"
	keys      map[string]bool
	expectKey bool
	lastKey   string
}

// checkStructure refuses what encoding/json lets through: a key given twice
// in one object (the last would win silently) and anything after the
// top-level value.
func checkStructure(data []byte, file string) error {
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.UseNumber()
	var stack []*frame
	for {
		tok, err := dec.Token()
		if err != nil {
			return nil // Parse's Decode reported syntax errors already
		}
		var top *frame
		if len(stack) > 0 {
			top = stack[len(stack)-1]
		}
		if top != nil && top.object && top.expectKey {
			if d, ok := tok.(json.Delim); ok && d == '}' {
				stack = stack[:len(stack)-1]
				if len(stack) == 0 {
					return checkTrailing(data, dec, file)
				}
				continue
			}
			key := tok.(string)
			if top.keys[key] {
				off := dec.InputOffset()
				line, col := position(data, off)
				return fmt.Errorf("%s:%d:%d: key %q appears twice in %s (byte offset %d)\nkeep one of them: JSON readers disagree on which one wins",
					file, line, col, key, top.name, off)
			}
			top.keys[key], top.expectKey, top.lastKey = true, false, key
			continue
		}
		if top != nil && top.object {
			top.expectKey = true
		}
		switch d, _ := tok.(json.Delim); d {
		case '{', '[':
			name := "the top level"
			if top != nil {
				name = top.name + "." + top.lastKey
				if !top.object {
					name = top.name + "[]"
				}
				name = strings.TrimPrefix(name, "the top level.")
			}
			stack = append(stack, &frame{object: d == '{', name: name, keys: map[string]bool{}, expectKey: true})
			continue
		case ']':
			stack = stack[:len(stack)-1]
		}
		if len(stack) == 0 {
			return checkTrailing(data, dec, file)
		}
	}
}

// checkTrailing refuses anything but whitespace after the top-level value.
func checkTrailing(data []byte, dec *json.Decoder, file string) error {
	off := dec.InputOffset()
	rest := data[off:]
	trimmed := bytes.TrimLeft(rest, " \t\r\n")
	if len(trimmed) == 0 {
		return nil
	}
	if _, err := dec.Token(); errors.Is(err, io.EOF) {
		return nil
	}
	start := off + int64(len(rest)-len(trimmed))
	line, col := position(data, start+1)
	return fmt.Errorf("%s:%d:%d: unexpected data after the JSON object at byte offset %d\nthe file must hold one JSON object and nothing else", file, line, col, start)
}
