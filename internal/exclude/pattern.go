package exclude

import (
	"fmt"
	"strings"
)

// tokenKind is one element of a compiled wildcard pattern.
type tokenKind uint8

const (
	tokLiteral  tokenKind = iota // one byte, exactly
	tokAny                       // '?': one byte other than '/'
	tokClass                     // '[...]': one byte of a set, never '/'
	tokStar                      // '*': any run of bytes other than '/'
	tokStarStar                  // '**' (or more stars): any run of bytes
)

type token struct {
	kind tokenKind
	b    byte
	set  *[256]bool
}

// pattern is one compiled rsync include/exclude pattern.
//
// rsync decides most behaviour by looking at the raw pattern text (whether it
// holds one of "*?[", whether "**" occurs anywhere, even escaped), so these
// flags are computed from the text, not from the tokens.
type pattern struct {
	body       string // the pattern without its trailing '/' and leading '/'
	dirOnly    bool   // written with a trailing '/'
	anchored   bool   // written with a leading '/'
	wild       bool   // holds one of "*?[": escapes are live, tokens are used
	starStar   bool   // "**" occurs: match against the full path
	starPrefix bool   // starts with "**": "/" is put before the path
	starSuffix bool   // ends with "***": a directory also matches as "dir/"
	slashes    int    // '/' count, leading slash included, trailing excluded
	toks       []token
	bits       *shiftAnd // the tokens' automaton, when they fit in a word
	need       string    // the longest run of literal tokens: a text without it cannot match
	head       string    // set when the tokens are this literal then "**", as in "dir/**"
}

// compilePattern compiles the pattern part of a rule. It returns an error for
// patterns that rsync accepts but that can never match any path, so that a
// user learns of the mistake instead of shipping an unpruned slug.
func compilePattern(raw string) (*pattern, error) {
	p := &pattern{}
	s := raw
	if len(s) > 1 && s[len(s)-1] == '/' {
		s = s[:len(s)-1]
		p.dirOnly = true
	}
	p.slashes = strings.Count(s, "/")
	if strings.ContainsAny(s, "*?[") {
		p.wild = true
		if i := strings.Index(s, "**"); i >= 0 {
			p.starStar = true
			p.starPrefix = i == 0
			p.starSuffix = strings.HasSuffix(s, "***")
		}
	}
	if strings.HasPrefix(s, "/") {
		p.anchored = true
		s = s[1:]
	}
	p.body = s
	if s == "" {
		return nil, fmt.Errorf("pattern %q names the transfer root, which rules never match; name an entry below it, such as \"/store/\"", raw)
	}
	if p.wild {
		toks, err := tokenize(s, raw)
		if err != nil {
			return nil, err
		}
		p.toks = toks
	} else {
		p.toks = make([]token, len(s))
		for i := 0; i < len(s); i++ {
			p.toks[i] = token{kind: tokLiteral, b: s[i]}
		}
	}
	if why := neverMatches(p.toks); why != "" {
		return nil, fmt.Errorf("pattern %q can never match: %s", raw, why)
	}
	if p.wild {
		p.bits = newShiftAnd(p.toks)
		p.need = longestLiteral(p.toks)
		if n := len(p.toks) - 1; n > 0 && p.toks[n].kind == tokStarStar && len(p.need) == n {
			p.head = p.need
		}
	}
	return p, nil
}

// longestLiteral is the longest run of consecutive literal tokens, which
// every match holds as is.
func longestLiteral(toks []token) string {
	best, start := "", 0
	for i := 0; i <= len(toks); i++ {
		if i < len(toks) && toks[i].kind == tokLiteral {
			continue
		}
		if i-start > len(best) {
			best = literalText(toks[start:i])
		}
		start = i + 1
	}
	return best
}

// neverMatches reports why a token list cannot match any path rsync builds
// (paths have no empty, "." or ".." components and no trailing '/'), or "".
func neverMatches(toks []token) string {
	isSlash := func(i int) bool { return toks[i].kind == tokLiteral && toks[i].b == '/' }
	start := 0
	for i := 0; i <= len(toks); i++ {
		if i < len(toks) && !isSlash(i) {
			continue
		}
		comp := toks[start:i]
		switch {
		case len(comp) == 0 && i == len(toks):
			return "it ends with \"//\" (paths have no empty components)"
		case len(comp) == 0:
			return "it holds \"//\" (paths have no empty components)"
		case literalText(comp) == "." || literalText(comp) == "..":
			return fmt.Sprintf("it holds the component %q (rsync matches names, it does not resolve paths)", literalText(comp))
		}
		start = i + 1
	}
	return ""
}

func literalText(toks []token) string {
	var b strings.Builder
	for _, t := range toks {
		if t.kind != tokLiteral {
			return ""
		}
		b.WriteByte(t.b)
	}
	return b.String()
}

// tokenize parses a wildcard pattern in rsync's wildmatch dialect: '\' escapes
// the next byte, '?', '*', '**', and bracket classes with '!' or '^' negation,
// ranges, and the POSIX [:name:] classes (ASCII only, as in the C locale).
func tokenize(s, raw string) ([]token, error) {
	var toks []token
	for i := 0; i < len(s); i++ {
		switch c := s[i]; c {
		case '\\':
			if i+1 == len(s) {
				return nil, fmt.Errorf("trailing '\\' in pattern %q escapes nothing, so the pattern never matches; write \\\\ for a literal backslash", raw)
			}
			i++
			toks = append(toks, token{kind: tokLiteral, b: s[i]})
		case '?':
			toks = append(toks, token{kind: tokAny})
		case '*':
			if i+1 < len(s) && s[i+1] == '*' {
				for i+1 < len(s) && s[i+1] == '*' {
					i++
				}
				toks = append(toks, token{kind: tokStarStar})
			} else {
				toks = append(toks, token{kind: tokStar})
			}
		case '[':
			set, next, err := parseClass(s, i, raw)
			if err != nil {
				return nil, err
			}
			toks = append(toks, token{kind: tokClass, set: set})
			i = next
		default:
			toks = append(toks, token{kind: tokLiteral, b: c})
		}
	}
	return toks, nil
}

// parseClass parses the bracket expression opening at s[open] and returns its
// byte set and the index of its closing ']'. A ']' right after the '[' (or
// after the negation) is a member; a '-' between two members is a range.
func parseClass(s string, open int, raw string) (*[256]bool, int, error) {
	unbalanced := unbalancedClass(raw)
	var set [256]bool
	i := open + 1
	negate := i < len(s) && (s[i] == '!' || s[i] == '^')
	if negate {
		i++
	}
	prev, hasPrev := byte(0), false
	for first := true; ; first = false {
		if i >= len(s) {
			return nil, 0, unbalanced
		}
		c := s[i]
		if c == ']' && !first {
			break
		}
		switch {
		case c == '-' && hasPrev && prev != 0 && i+1 < len(s) && s[i+1] != ']':
			hi, end, ok := classByte(s, i+1)
			if !ok {
				return nil, 0, unbalanced
			}
			for b := int(prev); b <= int(hi); b++ {
				set[b] = true
			}
			i, prev, hasPrev = end, 0, false
		case strings.HasPrefix(s[i:], "[:"):
			end, err := namedClass(s, i, raw, &set)
			if err != nil {
				return nil, 0, err
			}
			if end < 0 { // not a [:name:] class: the '[' is a plain member
				set['['] = true
				prev, hasPrev = '[', true
			} else {
				i, prev, hasPrev = end, 0, false
			}
		default:
			b, end, ok := classByte(s, i)
			if !ok {
				return nil, 0, unbalanced
			}
			set[b] = true
			i, prev, hasPrev = end, b, true
		}
		i++
	}
	if negate {
		for b := range set {
			set[b] = !set[b]
		}
	}
	set['/'] = false
	return &set, i, nil
}

// unbalancedClass is the error for a '[' that no ']' closes.
func unbalancedClass(raw string) error {
	return fmt.Errorf("unbalanced '[' in pattern %q; close the bracket or escape it as \\[", raw)
}

// classByte reads the member at s[i] of a bracket expression: a byte, or
// a '\' and the byte it escapes. It returns the byte and the index of its
// last character; ok is false when a '\' ends s.
func classByte(s string, i int) (b byte, end int, ok bool) {
	if s[i] != '\\' {
		return s[i], i, true
	}
	if i+1 >= len(s) {
		return 0, 0, false
	}
	return s[i+1], i + 1, true
}

// namedClass adds to set the members of the [:name:] class at s[i] and
// returns the index of its closing ']', or -1 when s[i:] is not one (no
// ':' before the next ']': the '[' is then a plain member).
func namedClass(s string, i int, raw string, set *[256]bool) (int, error) {
	end := strings.IndexByte(s[i+2:], ']')
	if end < 0 {
		return 0, unbalancedClass(raw)
	}
	name, ok := strings.CutSuffix(s[i+2:i+2+end], ":")
	if !ok {
		return -1, nil
	}
	in, ok := posixClasses[name]
	if !ok {
		return 0, fmt.Errorf("unknown character class [:%s:] in pattern %q, so the pattern never matches; use one of alnum, alpha, blank, cntrl, digit, graph, lower, print, punct, space, upper, xdigit", name, raw)
	}
	for b := 0; b < 128; b++ {
		if in(byte(b)) {
			set[b] = true
		}
	}
	return i + 2 + end, nil
}

var posixClasses = map[string]func(byte) bool{
	"alnum":  func(c byte) bool { return isAlpha(c) || isDigit(c) },
	"alpha":  isAlpha,
	"blank":  func(c byte) bool { return c == ' ' || c == '\t' },
	"cntrl":  func(c byte) bool { return c < 0x20 || c == 0x7f },
	"digit":  isDigit,
	"graph":  func(c byte) bool { return c > 0x20 && c < 0x7f },
	"lower":  func(c byte) bool { return c >= 'a' && c <= 'z' },
	"print":  func(c byte) bool { return c >= 0x20 && c < 0x7f },
	"punct":  func(c byte) bool { return c > 0x20 && c < 0x7f && !isAlpha(c) && !isDigit(c) },
	"space":  func(c byte) bool { return c == ' ' || (c >= '\t' && c <= '\r') },
	"upper":  func(c byte) bool { return c >= 'A' && c <= 'Z' },
	"xdigit": func(c byte) bool { return isDigit(c) || (c|0x20 >= 'a' && c|0x20 <= 'f') },
}

func isAlpha(c byte) bool { return c|0x20 >= 'a' && c|0x20 <= 'z' }
func isDigit(c byte) bool { return c >= '0' && c <= '9' }
