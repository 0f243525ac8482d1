package exclude

import (
	"errors"
	"fmt"
	"reflect"
	"strings"
	"testing"
)

func TestParseRules(t *testing.T) {
	tests := []struct {
		name  string
		in    string
		want  []string // rules as "+ pattern" / "- pattern", with their line
		warns []string
		err   string
	}{
		{name: "empty", in: "", want: nil},
		{name: "prefixes", in: "+ store/**/\n- store/**\nplain\n", want: []string{"1:+ store/**/", "2:- store/**", "3:- plain"}},
		{name: "comments and blanks", in: "# c\n; c\n\n- a\n", want: []string{"4:- a"}},
		{name: "hash inside a pattern", in: "- a#b\n- #c\n", want: []string{"1:- a#b", "2:- #c"}},
		{name: "no final newline", in: "- a", want: []string{"1:- a"}},
		{name: "CRLF", in: "- a\r\n+ b\r\n", want: []string{"1:- a", "2:+ b"}},
		{name: "lone CR splits like rsync", in: "- a\r+ b\n", want: []string{"1:- a", "1:+ b"}},
		{name: "clear", in: "- a\n- b\n!\n+ c\n", want: []string{"4:+ c"}, warns: []string{"f:3: \"!\" clears the 2 rules above it"}},
		{name: "second space is part of the pattern", in: "-  a\n", want: []string{"1:-  a"}, warns: []string{`f:1: pattern " a" starts with whitespace, which rsync matches literally`}},
		{name: "trailing space", in: "- a \n", want: []string{"1:- a "}, warns: []string{`f:1: pattern "a " ends with whitespace, which rsync matches literally`}},
		{name: "prefix-like plain names", in: "Pfoo\nhidden x\n_foo\n", want: []string{"1:- Pfoo", "2:- hidden x", "3:- _foo"}},
		{name: "example from the old buildpacks", in: "+ store/**/\n+ store/*-user-environment/**\n+ store/*-nix-1*/**\n+ *[._]so*\n+ store/*my-awesome-app*/**\n- store/**\n",
			want: []string{"1:+ store/**/", "2:+ store/*-user-environment/**", "3:+ store/*-nix-1*/**", "4:+ *[._]so*", "5:+ store/*my-awesome-app*/**", "6:- store/**"}},

		{name: "unbalanced bracket", in: "- a\n- b\n+ *[._so*\n", err: `f:3: unbalanced '[' in pattern "*[._so*"; close the bracket or escape it as \[`},
		{name: "unbalanced after class", in: "- [[:alpha:]\n", err: `unbalanced '['`},
		{name: "unknown class", in: "- [[:alfa:]]\n", err: `f:1: unknown character class [:alfa:]`},
		{name: "trailing backslash", in: "- *\\\n", err: `f:1: trailing '\' in pattern`},
		{name: "plus alone", in: "+\n", err: `f:1: "+" has no pattern`},
		{name: "minus alone", in: "-\n", err: `f:1: "-" has no pattern`},
		{name: "prefix without space", in: "+foo\n", err: `f:1: "+foo" is not a rule: the prefix is "+ " followed by one space`},
		{name: "underscore separator", in: "-_foo\n", err: `"-_foo" is not a rule`},
		{name: "modifier", in: "-/ /etc\n", err: `"-/ /etc" is not a rule`},
		{name: "tab separator", in: "-\tfoo\n", err: `is not a rule`},
		{name: "negation", in: "!foo\n", err: `f:1: "!foo" is not a rule: "!" clears the rules only on a line by itself`},
		{name: "protect", in: "P foo\n", err: `f:1: "P foo" uses a filter-rule prefix that --exclude-from does not read`},
		{name: "hide", in: "H foo\n", err: `uses a filter-rule prefix`},
		{name: "long name", in: "include foo\n", err: `uses a filter-rule prefix`},
		{name: "merge", in: ". /etc/rules\n", err: `uses a filter-rule prefix`},
		{name: "dir-merge", in: ": .rules\n", err: `uses a filter-rule prefix`},
		{name: "modifier after name", in: "hide,s foo\n", err: `uses a filter-rule prefix`},
		{name: "empty after prefix", in: "- \n", err: `f:1: "- " has no pattern after the prefix`},
		{name: "root", in: "- /\n", err: `names the transfer root`},
		{name: "root dir", in: "- //\n", err: `names the transfer root`},
		{name: "double slash", in: "- a//b\n", err: `can never match: it holds "//"`},
		{name: "ends with double slash", in: "- a//\n", err: `can never match: it ends with "//"`},
		{name: "dot component", in: "- ./a\n", err: `can never match: it holds the component "."`},
		{name: "dotdot component", in: "+ store/../x\n", err: `the component ".."`},
		{name: "NUL", in: "- a\x00b\n", err: `NUL byte`},
		{name: "too long", in: "- " + strings.Repeat("a", 4096) + "\n", err: `rsync discards patterns over 4095 bytes`},
		{name: "all errors reported", in: "+foo\n- ok\n- [\n", err: "f:1: \"+foo\" is not a rule"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			rs, err := ParseRules(strings.NewReader(tt.in), "f")
			if tt.err != "" {
				if err == nil || !strings.Contains(err.Error(), tt.err) {
					t.Fatalf("err = %v, want it to contain %q", err, tt.err)
				}
				var pe *ParseError
				if !errors.As(err, &pe) || pe.File != "f" || pe.Line < 1 {
					t.Fatalf("err = %#v, want a *ParseError with file and line", err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			var got []string
			for _, r := range rs.List() {
				got = append(got, fmt.Sprintf("%d:%s", r.Line, r.Text()))
			}
			if !reflect.DeepEqual(got, tt.want) {
				t.Errorf("rules = %q, want %q", got, tt.want)
			}
			var warns []string
			for _, w := range rs.Warnings() {
				warns = append(warns, w.String())
			}
			if !reflect.DeepEqual(warns, tt.warns) {
				t.Errorf("warnings = %q, want %q", warns, tt.warns)
			}
		})
	}
}

func TestParseRulesReportsEveryBadLine(t *testing.T) {
	_, err := ParseRules(strings.NewReader("+foo\n- ok\n- [\n"), ".slugexclude")
	if err == nil {
		t.Fatal("no error")
	}
	for _, want := range []string{".slugexclude:1:", ".slugexclude:3:"} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("error %q does not name %s", err, want)
		}
	}
}

func TestDecisionString(t *testing.T) {
	rs, err := ParseRules(strings.NewReader("+ store/**/\n- store/**\n"), ".slugexclude")
	if err != nil {
		t.Fatal(err)
	}
	for _, tt := range []struct {
		rel   string
		isDir bool
		want  string
	}{
		{"store", true, "kept by default (no rule matched)"},
		{"store/abc-foo", true, "kept by .slugexclude:1: + store/**/"},
		{"store/abc-foo/bin/x", false, "dropped by .slugexclude:2: - store/**"},
		{"other", false, "kept by default (no rule matched)"},
		{"/store/abc-foo/bin/x", false, "dropped by .slugexclude:2: - store/**"},
		{"./store/abc-foo", true, "kept by .slugexclude:1: + store/**/"},
	} {
		if got := rs.Decide(tt.rel, tt.isDir).String(); got != tt.want {
			t.Errorf("Decide(%q, %v) = %q, want %q", tt.rel, tt.isDir, got, tt.want)
		}
	}
	var none *Rules
	if d := none.Decide("x", false); !d.Keep || d.Rule != nil {
		t.Errorf("nil rules: %v", d)
	}
}
