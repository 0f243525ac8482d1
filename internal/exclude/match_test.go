package exclude

import (
	"strings"
	"testing"
)

// TestPatternMatches pins the matching rules of rsync's man page (PATTERN
// MATCHING RULES) and the quirks of its exclude.c; every case was also run
// through real rsync by the differential tests' generator or by hand.
func TestPatternMatches(t *testing.T) {
	tests := []struct {
		pat   string
		rel   string
		isDir bool
		want  bool
	}{
		// No '/' and no "**": the last component.
		{"foo", "foo", false, true},
		{"foo", "a/foo", false, true},
		{"foo", "foo/a", false, false},
		{"foo", "afoo", false, false},
		{"*.o", "a/b.o", false, true},
		{"*", "a/b", false, true},
		{"?", "a/b", false, true},
		{"a*b", "a/b", false, false},
		{"a?b", "a/b", false, false},
		{".*", "a/.hidden", false, true},
		// Trailing '/': directories only; a symlink to a directory is not one.
		{"foo/", "foo", false, false},
		{"foo/", "foo", true, true},
		{"*/", "a/b", true, true},
		// Leading '/': anchored at the root.
		{"/foo", "foo", false, true},
		{"/foo", "a/foo", false, false},
		{"/*", "a", true, true},
		{"/*", "a/b", false, false},
		{"/a/b", "a/b", false, true},
		{"/a/b", "x/a/b", false, false},
		// An inner '/' without "**": the last slash-count+1 components.
		{"a/b", "a/b", false, true},
		{"a/b", "x/a/b", false, true},
		{"a/b", "xa/b", false, false},
		{"foo/*/bar", "foo/x/bar", false, true},
		{"foo/*/bar", "a/foo/x/bar", false, true},
		{"foo/*/bar", "foo/x/y/bar", false, false},
		{"*/*", "x/a/b", false, true},
		{"*/*", "a", false, false},
		// "**": the full path, at the start or after any '/'.
		{"/foo/**/bar", "foo/bar", false, false},
		{"/foo/**/bar", "foo/x/bar", false, true},
		{"/foo/**/bar", "foo/x/y/bar", false, true},
		{"a**b", "a/b", true, true},
		{"a**b", "x/a/b", false, true},
		{"a**b", "xa/b", false, false},
		{"b/**", "a/b/c", false, true},
		{"b/**", "b", true, false},
		{"store/**", "store/x", false, true},
		{"store/**", "nix/store/x", false, true},
		{"store/**/", "store/a", true, true},
		{"store/**/", "store/a", false, false},
		{"store/**/", "store", true, false},
		{"store/*-user-environment/**", "store/abc-user-environment/bin", true, true},
		{"store/*-user-environment/**", "store/abc-user-environment", true, false},
		// Leading "**": "/" goes before the path, so it matches at the top too.
		{"**/foo", "foo", false, true},
		{"**/foo", "a/b/foo", false, true},
		{"**/foo", "afoo", false, false},
		// Trailing "***": the directory itself and everything in it.
		{"dir/***", "dir", true, true},
		{"dir/***", "dir", false, false},
		{"dir/***", "dir/x", false, true},
		{"dir/***", "a/dir/x/y", false, true},
		{"***", "a", false, true},
		// Classes: ']' first is a member, '!' and '^' negate, never '/'.
		{"*[._]so*", "lib/libfoo.so.1", false, true},
		{"*[._]so*", "lib/libfoo_so", false, true},
		{"*[._]so*", "lib/libfooso", false, false},
		{"[]a]", "]", false, true},
		{"[]a]", "a", false, true},
		{"[]a]", "b", false, false},
		{"[!a]", "b", false, true},
		{"[^a]", "a", false, false},
		{"[a-c]x", "bx", false, true},
		{"[a-]", "-", false, true},
		{"a[/]b", "a/b", false, false},
		{"a[!x]b", "a/b", false, false},
		{"[[:digit:]]*", "1a", false, true},
		{"[[:digit:]]*", "a1", false, false},
		{"[[:]x", ":x", false, true},
		// Backslash escapes only when the pattern has a wildcard.
		{`\*`, "*", false, true},
		{`\*`, "a", false, false},
		{`foo\bar`, `foo\bar`, false, true},
		{`foo\bar`, "foobar", false, false},
		{`foo\bar*`, "foobarx", false, true},
		{`foo\bar*`, `foo\barx`, false, false},
		// rsync looks for "**" in the raw text, so an escaped star still
		// makes the pattern match against the full path.
		{`\**`, "*foo", false, true},
		{`\**`, "x/*foo", false, true},
		{`\**`, "foo", false, false},
	}
	for _, tt := range tests {
		rs, err := ParseRules(strings.NewReader("- "+tt.pat), "t")
		if err != nil {
			t.Fatalf("%q: %v", tt.pat, err)
		}
		if got := !rs.Decide(tt.rel, tt.isDir).Keep; got != tt.want {
			t.Errorf("pattern %q on %q (dir %v): match = %v, want %v", tt.pat, tt.rel, tt.isDir, got, tt.want)
		}
	}
}

func TestPatternMatchesLongPatterns(t *testing.T) {
	// More than 256 tokens takes the automaton's heap path.
	pat := strings.Repeat("a*", 200) + "b"
	rs, err := ParseRules(strings.NewReader("- "+pat), "t")
	if err != nil {
		t.Fatal(err)
	}
	if rs.Decide(strings.Repeat("a", 200)+"b", false).Keep {
		t.Error("long pattern does not match")
	}
	if !rs.Decide(strings.Repeat("a", 199)+"b", false).Keep {
		t.Error("long pattern matches too little text")
	}
	// Many stars on a long text stay fast (no backtracking).
	rs, _ = ParseRules(strings.NewReader("- "+strings.Repeat("*a", 30)+"*b"), "t")
	if !rs.Decide(strings.Repeat("a", 3000), false).Keep {
		t.Error("star pattern matched a text without b")
	}
}
