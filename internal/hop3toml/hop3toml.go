// Package hop3toml decodes hop3.toml for every reader of it (detection, the
// run settings, the Nix templates), bounded first: the TOML decoder
// (BurntSushi/toml) descends recursively into nested arrays and inline
// tables, so three million of them overflow the Go stack and a million
// take a gigabyte. A configuration file needs neither.
package hop3toml

import (
	"errors"
	"fmt"

	"github.com/BurntSushi/toml"
)

// MaxBytes bounds hop3.toml's size; Hop3's own files are a few KiB.
const MaxBytes = 1 << 20

// MaxDepth bounds how deep arrays and inline tables nest in it.
const MaxDepth = 64

// Decode checks data, the contents of file (named so in messages, e.g.
// "hop3.toml" or "hop3/hop3.toml"), against MaxBytes and MaxDepth, then
// decodes it. An error names the file and, when it can, the line.
func Decode(data []byte, file string) (map[string]any, toml.MetaData, error) {
	if len(data) > MaxBytes {
		return nil, toml.MetaData{}, fmt.Errorf("%s: %d bytes, over the %d a hop3.toml may take\n"+
			"hop3.toml holds settings; keep data in other files", file, len(data), MaxBytes)
	}
	if line, err := checkDepth(data); err != nil {
		return nil, toml.MetaData{}, fmt.Errorf("%s:%d: %v", file, line, err)
	}
	var doc map[string]any
	md, err := toml.Decode(string(data), &doc)
	if err != nil {
		var pe toml.ParseError
		if errors.As(err, &pe) {
			return nil, md, fmt.Errorf("%s:%d: invalid TOML: %s\nfix the syntax at that line (see https://toml.io)", file, pe.Position.Line, pe.Message)
		}
		return nil, md, fmt.Errorf("%s: invalid TOML\n%w", file, err)
	}
	return doc, md, nil
}

// checkDepth scans TOML for arrays and inline tables nested deeper than
// MaxDepth (brackets outside strings and comments; a table header's
// brackets count too, at most two). It returns the line of the first
// bracket too deep. What is not valid TOML is left to the decoder.
func checkDepth(data []byte) (int, error) {
	line, depth := 1, 0
	for i := 0; i < len(data); i++ {
		switch c := data[i]; c {
		case '\n':
			line++
		case '#':
			for i+1 < len(data) && data[i+1] != '\n' {
				i++
			}
		case '"', '\'':
			multi := i+2 < len(data) && data[i+1] == c && data[i+2] == c
			if multi {
				i += 2
			}
			i, line = skipString(data, i+1, c, multi, line)
		case '[', '{':
			depth++
			if depth > MaxDepth {
				return line, fmt.Errorf("arrays and inline tables nested more than %d deep\n"+
					"hop3.toml holds settings: flatten the value, or keep data in another file", MaxDepth)
			}
		case ']', '}':
			depth = max(depth-1, 0)
		}
	}
	return line, nil
}

// skipString returns the index of the quote that closes a string opened
// before i (with quote q; multi for a triple-quoted one) and the line it
// is on.
// Basic strings (") take backslash escapes; literal ones (') do not.
func skipString(data []byte, i int, q byte, multi bool, line int) (int, int) {
	for ; i < len(data); i++ {
		switch c := data[i]; {
		case c == '\\' && q == '"':
			if i+1 < len(data) && data[i+1] == '\n' {
				line++
			}
			i++
		case c == '\n':
			line++
			if !multi {
				return i, line // unterminated: the decoder says so
			}
		case c == q && (!multi || i+2 < len(data) && data[i+1] == q && data[i+2] == q):
			if multi {
				i += 2
			}
			return i, line
		}
	}
	return i, line
}
