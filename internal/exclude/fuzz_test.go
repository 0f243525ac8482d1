package exclude

import (
	"strings"
	"testing"
)

// FuzzRules feeds arbitrary rule files and paths to the parser and matcher:
// nothing may panic, and the automaton must agree with a plain backtracking
// matcher on every rule. Run: go test -fuzz FuzzRules ./internal/exclude/
func FuzzRules(f *testing.F) {
	f.Add(exampleRules, "store/abc-foo/lib/libfoo.so.1", false)
	f.Add("+ */\n- *[._so*\n! \n", "a/b", true)
	f.Add("- [[:alpha:]]\\*[!]a-]/***\n", "x/*]/y", true)
	f.Add("+ **/a**b?\n- /x/**/\n", "x/a/c/b/d", false)
	f.Add("-\n+\n!x\nP x\n- \r\n", "P x", false)
	f.Add("+ store/**/\n- ab/**\n+ *-nix-1*/**\n", "xab/ab/store/a-nix-1/b", true)
	f.Fuzz(func(t *testing.T, text, rel string, isDir bool) {
		rs, err := ParseRules(strings.NewReader(text), "f")
		if err != nil {
			return
		}
		rs.Decide(rel, isDir)
		if len(rel) > 48 {
			return
		}
		for _, r := range rs.List() {
			r.pat.matches(rel, isDir)
			if len(r.pat.toks) > 24 || stars(r.pat.toks) > 5 {
				continue // keep the exponential reference quick
			}
			for _, boundary := range []bool{false, true} {
				got := runTokens(r.pat.toks, rel, boundary)
				want := backtrack(r.pat.toks, rel, boundary)
				if got != want {
					t.Fatalf("pattern %q on %q (boundary %v): automaton %v, backtracking %v", r.Pattern, rel, boundary, got, want)
				}
				if a := newShiftAnd(r.pat.toks); a != nil && a.run(rel, boundary) != want {
					t.Fatalf("pattern %q on %q (boundary %v): word automaton %v, backtracking %v", r.Pattern, rel, boundary, !want, want)
				}
				if r.pat.wild && r.pat.run(rel, boundary) != want {
					t.Fatalf("pattern %q on %q (boundary %v): run (with its literal shortcuts) %v, backtracking %v", r.Pattern, rel, boundary, !want, want)
				}
			}
		}
	})
}

// backtrack is the obvious exponential matcher, the reference for runTokens.
func backtrack(toks []token, text string, atBoundary bool) bool {
	if matchFrom(toks, text) {
		return true
	}
	for i := 0; atBoundary && i < len(text); i++ {
		if text[i] == '/' && matchFrom(toks, text[i+1:]) {
			return true
		}
	}
	return false
}

func matchFrom(toks []token, text string) bool {
	if len(toks) == 0 {
		return text == ""
	}
	t := toks[0]
	switch t.kind {
	case tokStar, tokStarStar:
		for i := 0; i <= len(text); i++ {
			if matchFrom(toks[1:], text[i:]) {
				return true
			}
			if i < len(text) && t.kind == tokStar && text[i] == '/' {
				return false
			}
		}
		return false
	}
	if text == "" {
		return false
	}
	c := text[0]
	ok := (t.kind == tokLiteral && c == t.b) || (t.kind == tokAny && c != '/') || (t.kind == tokClass && t.set[c])
	return ok && matchFrom(toks[1:], text[1:])
}

func stars(toks []token) int {
	n := 0
	for _, t := range toks {
		if t.kind == tokStar || t.kind == tokStarStar {
			n++
		}
	}
	return n
}
