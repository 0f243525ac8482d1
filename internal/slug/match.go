package slug

import (
	"math/bits"
	"strings"
)

// matches reports whether the pattern matches rel, a path relative to the
// transfer root ("store/abc-foo/bin"), naming a directory when isDir is set.
// It follows rsync's exclude.c:rule_matches for global rules:
//   - a pattern without '/' and without "**" matches the last component;
//   - a leading '/' anchors the pattern at the root (whole-path match);
//   - an unanchored pattern with a '/' and no "**" matches the last
//     slash-count+1 components;
//   - an unanchored pattern with an inner "**" may match at the start of the
//     path or after any '/'; one starting with "**" matches "/"+path;
//   - a pattern ending in "***" also matches a directory as "dir/".
func (p *pattern) matches(rel string, isDir bool) bool {
	if rel == "" {
		return false
	}
	if p.dirOnly && !isDir {
		return false
	}
	name := rel
	if p.slashes == 0 && !p.starStar {
		if i := strings.LastIndexByte(name, '/'); i >= 0 {
			name = name[i+1:]
		}
	}
	if !p.wild {
		switch {
		case p.anchored:
			return name == p.body
		case p.slashes == 0:
			return name == p.body
		default:
			return name == p.body || (len(name) > len(p.body) &&
				strings.HasSuffix(name, p.body) && name[len(name)-len(p.body)-1] == '/')
		}
	}
	text := name
	if p.starPrefix {
		text = "/" + text
	}
	if isDir && p.starSuffix {
		text += "/"
	}
	switch {
	case !p.anchored && p.slashes > 0 && !p.starStar:
		text, ok := lastComponents(text, p.slashes+1)
		return ok && runTokens(p.toks, text, false)
	case !p.anchored && !p.starPrefix && p.starStar:
		return runTokens(p.toks, text, true)
	default:
		return runTokens(p.toks, text, false)
	}
}

// lastComponents returns the last n '/'-separated components of s, or false
// when s has fewer.
func lastComponents(s string, n int) (string, bool) {
	for i := len(s) - 1; i >= 0; i-- {
		if s[i] == '/' {
			n--
			if n == 0 {
				return s[i+1:], true
			}
		}
	}
	return s, n == 1
}

// runTokens simulates the pattern as a nondeterministic automaton over text,
// one state per token, so matching is O(len(text)*len(toks)) whatever the
// stars. With atBoundary set, a match may also start after any '/'.
func runTokens(toks []token, text string, atBoundary bool) bool {
	n := len(toks)
	words := (n + 1 + 63) / 64
	var small [2][4]uint64
	cur, next := small[0][:0], small[1][:0]
	if words <= 4 {
		cur, next = small[0][:words], small[1][:words]
	} else {
		cur, next = make([]uint64, words), make([]uint64, words)
	}
	add := func(set []uint64, i int) {
		// Entering a star state also enters the state after it (the star
		// may match nothing).
		for {
			set[i/64] |= 1 << (i % 64)
			if i == n || (toks[i].kind != tokStar && toks[i].kind != tokStarStar) {
				return
			}
			i++
		}
	}
	has := func(set []uint64, i int) bool { return set[i/64]&(1<<(i%64)) != 0 }
	add(cur, 0)
	for j := 0; j < len(text); j++ {
		c := text[j]
		clear(next)
		any := false
		for w, word := range cur {
			for word != 0 {
				b := bits.TrailingZeros64(word)
				word &^= 1 << b
				i := w*64 + b
				if i == n {
					continue
				}
				t := &toks[i]
				switch t.kind {
				case tokLiteral:
					if c == t.b {
						add(next, i+1)
						any = true
					}
				case tokAny:
					if c != '/' {
						add(next, i+1)
						any = true
					}
				case tokClass:
					if t.set[c] {
						add(next, i+1)
						any = true
					}
				case tokStar:
					if c != '/' {
						add(next, i)
						any = true
					}
				case tokStarStar:
					add(next, i)
					any = true
				}
			}
		}
		if atBoundary && c == '/' {
			add(next, 0)
			any = true
		}
		cur, next = next, cur
		if !any {
			// Nothing is alive: only a later '/' can start a new match.
			k := strings.IndexByte(text[j+1:], '/')
			if !atBoundary || k < 0 {
				return false
			}
			j += k // the loop's j++ lands on the '/'
		}
	}
	return has(cur, n)
}
