// Package nar reads and writes the Nix ARchive format: a store path's tree
// serialised as Nix hashes and ships it. It parses a NAR streamed in pieces
// with the checks Nix makes (Parser), unpacks one into a directory with the
// store's modes and times (Unpack), bounds and hashes the stream on the way
// (Tap, Bound), and packs a tree into a compressed NAR with its hashes
// (Pack). It knows nothing of narinfos, caches or the Nix database.
package nar

import (
	"encoding/binary"
	"errors"
	"fmt"
	"math"
	"strings"
)

// Entries receives the entries of a NAR as a Parser reads them, in NAR
// order. The root entry has the name ""; every other name was checked (not
// empty, ".", ".." or holding "/" or NUL, and after its previous sibling).
type Entries interface {
	Directory(name string) error // its entries follow, then EndDirectory
	EndDirectory() error
	Symlink(name, target string) error
	File(name string, executable bool, size int64) error // then Contents, then EndFile
	Contents(p []byte) error
	EndFile() error
}

// Parser parses a NAR pushed to it in pieces of any size (Write), so a
// decompressor can hand over its output without copying it first: file
// contents go to Entries.Contents straight from the pieces. It checks
// what go-nix's nar.Reader and Nix's parser check: the grammar, zero
// padding, string lengths, entry names and their order.
type Parser struct {
	out   Entries
	state narState
	err   error

	// The string field being read: its 8-byte length, body, padding.
	field     narField
	lenBuf    [8]byte
	got       int    // bytes of lenBuf read
	size      uint64 // the body's length
	left      uint64 // body bytes still to come
	pad       int    // padding bytes still to come
	body      []byte // the body so far (not for file contents)
	streaming bool   // the body is a file's contents

	name       string   // the name of the node being read
	executable bool     // the file being read is executable
	last       []string // per open directory, the last entry name read
}

type narField int

const (
	fieldLen narField = iota
	fieldBody
	fieldPad
)

// narState says what the next string of the NAR must be.
type narState int

const (
	stMagic      narState = iota // "nix-archive-1"
	stOpen                       // "(" opening a node
	stType                       // "type"
	stTypeName                   // "regular", "symlink" or "directory"
	stRegular                    // "executable" or "contents"
	stExecutable                 // "" after "executable"
	stContentsKw                 // "contents" after the executable flag
	stContents                   // a file's contents
	stTargetKw                   // "target"
	stTarget                     // a symlink's target
	stClose                      // ")" closing a node
	stEntry                      // "entry", or ")" closing a directory
	stEntryOpen                  // "(" opening an entry
	stNameKw                     // "name"
	stName                       // an entry's name
	stNodeKw                     // "node"
	stEntryClose                 // ")" closing an entry
	stEnd                        // the root node is complete
)

// Longest strings accepted, as in go-nix: keywords, names (NAME_MAX) and
// symlink targets (PATH_MAX less the NUL).
const (
	keywordMax = 32
	nameMax    = 255
	targetMax  = 4095
)

// NewParser returns a parser that hands what it reads to out.
func NewParser(out Entries) *Parser {
	return &Parser{out: out}
}

// Write parses b, the next bytes of the NAR: a Parser is the io.Writer a
// decompressor writes to. A byte after the root node
// is an error, even when the narinfo's NarSize and NarHash cover it: Nix
// reads a NAR only up to its root node's end and hashes what it read
// (restorePath under a TeeSource in LocalStore::addToStore), so it refuses
// such a NAR with a hash mismatch.
func (p *Parser) Write(b []byte) (int, error) {
	if err := p.write(b); err != nil {
		return 0, err
	}
	return len(b), nil
}

func (p *Parser) write(b []byte) error {
	for len(b) > 0 && p.err == nil && p.state != stEnd {
		switch p.field {
		case fieldLen:
			k := copy(p.lenBuf[p.got:], b)
			p.got += k
			b = b[k:]
			if p.got == len(p.lenBuf) {
				p.got = 0
				p.err = p.begin(binary.LittleEndian.Uint64(p.lenBuf[:]))
			}
		case fieldBody:
			k := int(min(uint64(len(b)), p.left))
			if p.streaming {
				p.err = p.out.Contents(b[:k])
			} else {
				p.body = append(p.body, b[:k]...)
			}
			p.left -= uint64(k)
			b = b[k:]
			if p.err == nil && p.left == 0 {
				p.err = p.endBody()
			}
		case fieldPad:
			k := min(len(b), p.pad)
			for _, c := range b[:k] {
				if c != 0 {
					return p.fail(errors.New("invalid NAR: padding is not zero"))
				}
			}
			p.pad -= k
			b = b[k:]
			if p.pad == 0 {
				p.err = p.endField()
			}
		}
	}
	if p.err == nil && p.state == stEnd && len(b) > 0 {
		return p.fail(fmt.Errorf("invalid NAR: %d more bytes after the end of its root node", len(b)))
	}
	return p.err
}

// Finish reports whether the NAR was complete.
func (p *Parser) Finish() error {
	if p.err == nil && p.state != stEnd {
		p.err = errors.New("invalid NAR: it ends early")
	}
	return p.err
}

func (p *Parser) fail(err error) error {
	p.err = err
	return err
}

// begin starts the body of a string field of length n.
func (p *Parser) begin(n uint64) error {
	p.size, p.left = n, n
	p.body = p.body[:0]
	if p.state == stContents {
		if n > math.MaxInt64 {
			return fmt.Errorf("invalid NAR: a file of %d bytes", n)
		}
		if err := p.out.File(p.name, p.executable, int64(n)); err != nil {
			return err
		}
		p.streaming = true
	} else if limit := p.limit(); n > limit {
		return fmt.Errorf("invalid NAR: a %d-byte string where at most %d bytes may come", n, limit)
	}
	if n == 0 {
		return p.endBody()
	}
	p.field = fieldBody
	return nil
}

func (p *Parser) limit() uint64 {
	switch p.state {
	case stName:
		return nameMax
	case stTarget:
		return targetMax
	}
	return keywordMax
}

func (p *Parser) endBody() error {
	if p.pad = int((8 - p.size%8) % 8); p.pad > 0 {
		p.field = fieldPad
		return nil
	}
	return p.endField()
}

// endField acts on a complete string field.
func (p *Parser) endField() error {
	p.field = fieldLen
	if p.streaming {
		p.streaming = false
		p.state = stClose
		return p.out.EndFile()
	}
	return p.token(string(p.body))
}

// token moves the grammar on by one string.
func (p *Parser) token(s string) error {
	expect := func(want string, next narState) error {
		if s != want {
			return fmt.Errorf("invalid NAR: %q where %q belongs", s, want)
		}
		p.state = next
		return nil
	}
	switch p.state {
	case stMagic:
		return expect("nix-archive-1", stOpen)
	case stOpen:
		return expect("(", stType)
	case stType:
		return expect("type", stTypeName)
	case stTypeName:
		switch s {
		case "regular":
			p.executable = false
			p.state = stRegular
		case "symlink":
			p.state = stTargetKw
		case "directory":
			p.last = append(p.last, "")
			p.state = stEntry
			return p.out.Directory(p.name)
		default:
			return fmt.Errorf("invalid NAR: unknown type %q", s)
		}
	case stRegular:
		if s == "executable" {
			p.executable = true
			p.state = stExecutable
			return nil
		}
		return expect("contents", stContents)
	case stExecutable:
		return expect("", stContentsKw)
	case stContentsKw:
		return expect("contents", stContents)
	case stTargetKw:
		return expect("target", stTarget)
	case stTarget:
		p.state = stClose
		return p.out.Symlink(p.name, s)
	case stClose:
		if err := expect(")", stClose); err != nil {
			return err
		}
		p.nodeDone()
	case stEntry:
		if s == ")" {
			p.last = p.last[:len(p.last)-1]
			p.nodeDone()
			return p.out.EndDirectory()
		}
		return expect("entry", stEntryOpen)
	case stEntryOpen:
		return expect("(", stNameKw)
	case stNameKw:
		return expect("name", stName)
	case stName:
		if s == "" || s == "." || s == ".." || strings.ContainsAny(s, "/\x00") {
			return fmt.Errorf("invalid NAR: entry name %q", s)
		}
		prev := &p.last[len(p.last)-1]
		if s == *prev {
			return fmt.Errorf("invalid NAR: entry %q exists twice in one directory", s)
		}
		if s < *prev {
			return fmt.Errorf("invalid NAR: entry %q comes after %q (entries must be sorted)", s, *prev)
		}
		*prev, p.name = s, s
		p.state = stNodeKw
	case stNodeKw:
		return expect("node", stOpen)
	case stEntryClose:
		return expect(")", stEntry)
	}
	return nil
}

// nodeDone follows a complete node: the NAR ends after the root node.
func (p *Parser) nodeDone() {
	if len(p.last) == 0 {
		p.state = stEnd
	} else {
		p.state = stEntryClose
	}
}
