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
			move, stay := t.accepts(byte(c))
			if move {
				a.take[c] |= bit
			}
			if stay {
				a.stay[c] |= bit
			}
		}
		if t.kind == tokStar || t.kind == tokStarStar {
			a.stars |= bit
		}
	}
	return a
}

// accepts says what token t does with the byte c: take it and move on to
// the next token (a literal, ?, a class), or take it and stay (a star).
func (t *token) accepts(c byte) (move, stay bool) {
	switch t.kind {
	case tokLiteral:
		return c == t.b, false
	case tokAny:
		return c != '/', false
	case tokClass:
		return t.set[c], false
	case tokStar:
		return false, c != '/'
	case tokStarStar:
		return false, true
	}
	return false, false
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
	words := (len(toks) + 1 + 63) / 64
	var small [2][4]uint64
	cur, next := states(small[0][:]), states(small[1][:])
	if words <= 4 {
		cur, next = cur[:words], next[:words]
	} else {
		cur, next = make(states, words), make(states, words)
	}
	cur.enter(toks, 0)
	for j := 0; j < len(text); j++ {
		c := text[j]
		alive := cur.step(toks, c, next)
		if atBoundary && c == '/' {
			next.enter(toks, 0)
			alive = true
		}
		cur, next = next, cur
		if !alive {
			// Nothing is alive: only a later '/' can start a new match.
			k := strings.IndexByte(text[j+1:], '/')
			if !atBoundary || k < 0 {
				return false
			}
			j += k // the loop's j++ lands on the '/'
		}
	}
	return cur.has(len(toks))
}

// states is a set of the automaton's states, a bit each: state i is
// tokens[:i] matched, state len(tokens) the whole pattern.
type states []uint64

func (s states) has(i int) bool { return s[i/64]&(1<<(i%64)) != 0 }

// enter adds state i, and the states after the stars that follow it (a
// star may match nothing).
func (s states) enter(toks []token, i int) {
	for {
		s[i/64] |= 1 << (i % 64)
		if i == len(toks) || (toks[i].kind != tokStar && toks[i].kind != tokStarStar) {
			return
		}
		i++
	}
}

// step sets next to the states that s leads to on the byte c, and reports
// whether there are any.
func (s states) step(toks []token, c byte, next states) bool {
	clear(next)
	alive := false
	for w, word := range s {
		for word != 0 {
			b := bits.TrailingZeros64(word)
			word &^= 1 << b
			i := w*64 + b
			if i == len(toks) {
				continue
			}
			move, stay := toks[i].accepts(c)
			if move {
				next.enter(toks, i+1)
			}
			if stay {
				next.enter(toks, i)
			}
			alive = alive || move || stay
		}
	}
	return alive
}
