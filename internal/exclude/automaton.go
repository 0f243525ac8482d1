package exclude

import (
	"math/bits"
	"strings"
)

// The pattern's tokens run as a nondeterministic automaton with one state
// per token (state i: tokens[:i] matched), so matching takes time linear in
// the text whatever the stars, with no backtracking.

// shiftAnd is the automaton in one machine word, for patterns of up to 63
// tokens: each byte of text costs a few word operations.
type shiftAnd struct {
	take  [256]uint64 // bit i: token i, not a star, takes the byte
	stay  [256]uint64 // bit i: token i, a star, takes the byte and stays
	stars uint64      // bit i: token i is a star
	final uint64      // bit n: the whole pattern matched
}

func newShiftAnd(toks []token) *shiftAnd {
	if len(toks) > 63 {
		return nil
	}
	a := &shiftAnd{final: 1 << len(toks)}
	for i, t := range toks {
		bit := uint64(1) << i
		for c := 0; c < 256; c++ {
			switch t.kind {
			case tokLiteral:
				if byte(c) == t.b {
					a.take[c] |= bit
				}
			case tokAny:
				if c != '/' {
					a.take[c] |= bit
				}
			case tokClass:
				if t.set[c] {
					a.take[c] |= bit
				}
			case tokStar:
				if c != '/' {
					a.stay[c] |= bit
				}
			case tokStarStar:
				a.stay[c] |= bit
			}
		}
		if t.kind == tokStar || t.kind == tokStarStar {
			a.stars |= bit
		}
	}
	return a
}

// close adds the states after the stars that are entered: a star may match
// nothing. The tokenizer never puts two stars side by side, so one step does.
func (a *shiftAnd) close(d uint64) uint64 { return d | (d&a.stars)<<1 }

func (a *shiftAnd) run(text string, atBoundary bool) bool {
	start := a.close(1)
	d := start
	for j := 0; j < len(text); j++ {
		c := text[j]
		d = a.close((d&a.take[c])<<1 | d&a.stay[c])
		if atBoundary && c == '/' {
			d |= start
		}
		if d == 0 {
			// Nothing is alive: only a later '/' can start a new match.
			k := strings.IndexByte(text[j+1:], '/')
			if !atBoundary || k < 0 {
				return false
			}
			j += k // the loop's j++ lands on the '/'
		}
	}
	return d&a.final != 0
}

// runTokens is the automaton for patterns of any length, in a bit set.
// With atBoundary set, a match may also start after any '/'.
func runTokens(toks []token, text string, atBoundary bool) bool {
	n := len(toks)
	words := (n + 1 + 63) / 64
	var small [2][4]uint64
	var cur, next []uint64
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
