package exclude

import "strings"

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
		return ok && p.run(text, false)
	case !p.anchored && !p.starPrefix && p.starStar:
		return p.run(text, true)
	default:
		return p.run(text, false)
	}
}

// run matches the tokens against text, at its start or, with atBoundary,
// also after any '/'.
func (p *pattern) run(text string, atBoundary bool) bool {
	if p.head != "" {
		// "dir/**": the literal at the start (or after a '/'), then anything.
		if strings.HasPrefix(text, p.head) {
			return true
		}
		for i := 0; atBoundary; {
			j := strings.Index(text[i:], p.head)
			if j < 0 {
				return false
			}
			if i+j > 0 && text[i+j-1] == '/' {
				return true
			}
			i += j + 1
		}
		return false
	}
	if len(p.need) > 1 && !strings.Contains(text, p.need) {
		return false
	}
	if p.bits != nil {
		return p.bits.run(text, atBoundary)
	}
	return runTokens(p.toks, text, atBoundary)
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
