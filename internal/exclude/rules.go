// Package exclude reads the rules of a .slugexclude file exactly as
// `rsync --exclude-from` reads them (prefixes, clears, the whitespace
// quirks, rsync's wildcard patterns compiled to a shift-and automaton) and
// decides each path as rsync's exclude.c would; package prune walks and
// copies a tree with them.
package exclude

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"strings"
)

// maxPattern is the longest pattern rsync keeps (MAXPATHLEN); it discards
// longer ones with a message and goes on.
const maxPattern = 4095

// Rule is one include or exclude rule of a rule file.
type Rule struct {
	File    string // the rule file, as named to ParseRules
	Line    int    // 1-based line number in File
	Include bool   // "+ " rule; otherwise an exclude
	Pattern string // the pattern as written, after the prefix
	pat     *pattern
}

// Where is the rule's "file:line", for messages.
func (r *Rule) Where() string { return fmt.Sprintf("%s:%d", r.File, r.Line) }

// Text is the rule as written in its file: `+ store/**/`.
func (r *Rule) Text() string {
	if r.Include {
		return "+ " + r.Pattern
	}
	return "- " + r.Pattern
}

// String is the rule as written in its file, with its place: `f:3: + store/**/`.
func (r *Rule) String() string { return r.Where() + ": " + r.Text() }

// Rules is an ordered rule list: the first rule that matches a path decides
// it, and a path no rule matches is kept. The nil *Rules keeps everything.
type Rules struct {
	list     []*Rule
	warnings []Warning
}

// Warning is a problem that does not stop a build: a rule that probably does
// not say what its author meant. The caller logs it.
type Warning struct {
	File    string
	Line    int
	Message string
}

// String is the warning as a log line: "file:line: message".
func (w Warning) String() string { return fmt.Sprintf("%s:%d: %s", w.File, w.Line, w.Message) }

// ParseError is a line that cannot be read as a rule. ParseRules returns all
// of them, joined.
type ParseError struct {
	File    string
	Line    int
	Message string
}

// Error is "file:line: message".
func (e *ParseError) Error() string { return fmt.Sprintf("%s:%d: %s", e.File, e.Line, e.Message) }

// Decision is what the rules say of one path.
type Decision struct {
	Keep bool
	Rule *Rule // the deciding rule; nil when none matched and the default kept the path
}

// String says what decided: "kept by f:2: + store/**/", "kept by default (no rule matched)".
func (d Decision) String() string {
	verb := "dropped"
	if d.Keep {
		verb = "kept"
	}
	if d.Rule == nil {
		return verb + " by default (no rule matched)"
	}
	return verb + " by " + d.Rule.String()
}

// ParseRules reads a rule file in the syntax of `rsync --exclude-from`: one
// rule per line; "+ " includes, "- " or no prefix excludes; "!" alone clears
// the rules read so far; blank lines and lines starting with '#' or ';' are
// skipped. Lines that rsync would silently read as odd exclude patterns
// (filter-rule prefixes such as "+foo", "P foo", "!foo"), and patterns that can
// never match, are errors naming file and line.
func ParseRules(r io.Reader, file string) (*Rules, error) {
	data, err := io.ReadAll(r)
	if err != nil {
		return nil, fmt.Errorf("unable to read %s\n%w", file, err)
	}
	rs := &Rules{}
	var errs []error
	for i, line := range bytes.Split(data, []byte("\n")) {
		// rsync ends a rule at '\r' as well as at '\n'.
		for _, seg := range bytes.Split(line, []byte("\r")) {
			if err := rs.parseLine(string(seg), file, i+1); err != nil {
				errs = append(errs, err)
			}
		}
	}
	if len(errs) > 0 {
		return nil, errors.Join(errs...)
	}
	return rs, nil
}

func (rs *Rules) parseLine(s, file string, line int) error {
	fail := func(format string, args ...any) error {
		return &ParseError{File: file, Line: line, Message: fmt.Sprintf(format, args...)}
	}
	warn := func(format string, args ...any) {
		rs.warnings = append(rs.warnings, Warning{File: file, Line: line, Message: fmt.Sprintf(format, args...)})
	}
	if s == "" || s[0] == '#' || s[0] == ';' {
		return nil
	}
	if strings.IndexByte(s, 0) >= 0 {
		return fail("line holds a NUL byte, which rsync reads as the end of the rule")
	}
	include, pat := false, s
	switch {
	case s == "!":
		if len(rs.list) > 0 {
			warn("\"!\" clears the %d rules above it", len(rs.list))
		}
		rs.list = nil
		return nil
	case strings.HasPrefix(s, "+ "):
		include, pat = true, s[2:]
	case strings.HasPrefix(s, "- "):
		pat = s[2:]
	case s == "+" || s == "-":
		return fail("%q has no pattern: write \"+ PATTERN\" to include or \"- PATTERN\" to exclude (rsync would exclude a file named %q)", s, s)
	case s[0] == '+' || s[0] == '-':
		return fail("%q is not a rule: the prefix is %q followed by one space, with no modifiers (rsync would exclude a file literally named %q; write \"- %s\" if that is meant)", s, s[:1]+" ", s, s)
	case s[0] == '!':
		return fail("%q is not a rule: \"!\" clears the rules only on a line by itself, and there is no negation (rsync would exclude a file literally named %q; write \"- %s\" if that is meant)", s, s, s)
	case isFilterPrefix(s):
		return fail("%q uses a filter-rule prefix that --exclude-from does not read: only \"+ \" and \"- \" are prefixes (rsync would exclude a file literally named %q; write \"- %s\" if that is meant)", s, s, s)
	}
	if pat == "" {
		return fail("%q has no pattern after the prefix", s)
	}
	if len(pat) > maxPattern {
		return fail("pattern is %d bytes long; rsync discards patterns over %d bytes", len(pat), maxPattern)
	}
	p, err := compilePattern(pat)
	if err != nil {
		return fail("%s", err.Error())
	}
	if strings.TrimLeft(pat, " \t") != pat {
		warn("pattern %q starts with whitespace, which rsync matches literally", pat)
	}
	if strings.TrimRight(pat, " \t") != pat {
		warn("pattern %q ends with whitespace, which rsync matches literally", pat)
	}
	rs.list = append(rs.list, &Rule{File: file, Line: line, Include: include, Pattern: pat, pat: p})
	return nil
}

// isFilterPrefix reports whether s starts like a rule of rsync's --filter
// syntax ("P foo", "hide,s foo", "merge file"), which --exclude-from reads as
// a plain exclude pattern.
func isFilterPrefix(s string) bool {
	end := strings.IndexAny(s, " ,")
	if end < 0 {
		return false
	}
	switch s[:end] {
	case "H", "S", "P", "R", ".", ":", "hide", "show", "protect", "risk",
		"merge", "dir-merge", "include", "exclude", "clear":
		return true
	}
	return false
}

// Warnings are the problems found while parsing that do not stop a build.
func (rs *Rules) Warnings() []Warning {
	if rs == nil {
		return nil
	}
	return append([]Warning(nil), rs.warnings...)
}

// List is the rules in order.
func (rs *Rules) List() []*Rule {
	if rs == nil {
		return nil
	}
	return append([]*Rule(nil), rs.list...)
}

// Decide applies the rules to one path, relative to the rule root and
// '/'-separated ("store/abc-foo/lib"), naming a directory when isDir is set.
// A leading "/" or "./" is ignored, as rsync ignores it. It judges the path
// alone: that an excluded parent hides it is the walker's business (see Plan
// and Explain).
func (rs *Rules) Decide(rel string, isDir bool) Decision {
	rel = strings.TrimLeft(strings.TrimPrefix(rel, "./"), "/")
	if i := rs.Match(rel, isDir); i >= 0 {
		return Decision{Keep: rs.list[i].Include, Rule: rs.list[i]}
	}
	return Decision{Keep: true}
}

// Match is the position in List of the first rule that matches rel (a
// '/'-separated path below the rule root, as given: not cleaned), or -1:
// the walker decides each entry with it, keeping per-rule counts.
func (rs *Rules) Match(rel string, isDir bool) int {
	if rs == nil {
		return -1
	}
	for i, r := range rs.list {
		if r.pat.matches(rel, isDir) {
			return i
		}
	}
	return -1
}

// MaxWarnings is how many warnings Summarize shows one by one.
const MaxWarnings = 10

// Summarize renders warnings as log lines: the first MaxWarnings in full,
// then one line counting the rest, so that a rule file of thousands of
// unused rules does not flood the build log.
func Summarize(ws []Warning) []string {
	lines := make([]string, 0, min(len(ws), MaxWarnings+1))
	for i, w := range ws {
		if i == MaxWarnings {
			lines = append(lines, fmt.Sprintf("... and %d more warnings (%s:%d to %s:%d); run nixbp prune --dry-run to see them all",
				len(ws)-i, w.File, w.Line, ws[len(ws)-1].File, ws[len(ws)-1].Line))
			break
		}
		lines = append(lines, w.String())
	}
	return lines
}
