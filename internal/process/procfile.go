package process

import (
	"fmt"
	"strings"
	"unicode/utf8"
)

// A Procfile line is read two ways: Heroku (and herokuish) take the text
// after "type:" as a shell command line (bash -c), and Cloud Foundry's
// builder (buildpackapplifecycle, also behind Kf) parses the whole Procfile
// as YAML and runs the value it finds with bash -c. Both read the same
// command only when the text is a YAML plain scalar, whose value is the
// text itself: it must not start with an indicator (" ' - ? : [ { # & * ! |
// > % @ `), hold ": " or " #", end with ":", or hold a character YAML cannot
// hold as is (a line break, a control character).
//
// ProcfileCommand writes the process that way, with the same words as
// ShellJoin of its arguments. The launcher is its first word, unquoted (a
// leading '"' would be a YAML quoted scalar with text after it); herokuish
// splits that word on spaces anyway, so the launcher's directory must hold
// none.
func ProcfileCommand(p Process) string {
	words := []string{p.Launcher, "--nix-dir", procfileVar(p.NixDir)}
	for _, w := range p.WorkerArgs() {
		words = append(words, ProcfileQuote(w))
	}
	return strings.Join(words, " ")
}

// procfileVar writes a word that is a variable reference ("$VAR") in
// double quotes, anything else as ProcfileQuote does.
func procfileVar(s string) string {
	if strings.HasPrefix(s, "$") && nameRE(s[1:]) {
		return `"` + s + `"`
	}
	return ProcfileQuote(s)
}

func nameRE(s string) bool {
	if s == "" || s[0] >= '0' && s[0] <= '9' {
		return false
	}
	return strings.Trim(s, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789_") == ""
}

// ProcfileQuote quotes s as one shell word (bash) that can stand inside a
// YAML plain scalar after a space: ShellQuote's single quotes, closed and
// reopened (a pair of single quotes) between a colon and a blank and
// between a blank and '#', and a character YAML cannot hold as is written
// as bash's $'\ooo' bytes.
func ProcfileQuote(s string) string {
	if s != "" && !strings.ContainsAny(s, ":#") && ShellQuote(s) == s {
		return s
	}
	var b strings.Builder
	b.WriteByte('\'')
	for i := 0; i < len(s); {
		r, size := utf8.DecodeRuneInString(s[i:])
		switch {
		case r == '\'':
			b.WriteString(`'\''`)
		case r == utf8.RuneError && size <= 1 || !yamlPrintable(r):
			b.WriteString(`'$'`)
			for _, c := range []byte(s[i : i+size]) {
				fmt.Fprintf(&b, `\%03o`, c)
			}
			b.WriteString(`''`)
		case r == ':' && i+1 < len(s) && isBlank(s[i+1]):
			b.WriteString(`:''`)
		case r < utf8.RuneSelf && isBlank(byte(r)) && i+1 < len(s) && s[i+1] == '#':
			b.WriteString(string(r) + `''`)
		default:
			b.WriteString(s[i : i+size])
		}
		i += size
	}
	b.WriteByte('\'')
	return b.String()
}

func isBlank(c byte) bool { return c == ' ' || c == '\t' }

// yamlPrintable reports whether YAML holds r as is inside a plain scalar:
// its printable set (YAML 1.2 5.1) less the line breaks YAML 1.1 parsers
// also break on (NEL, LS, PS) and the byte order mark.
func yamlPrintable(r rune) bool {
	switch {
	case r == '\t':
		return true
	case r < 0x20 || r == 0x7f || r >= 0x80 && r < 0xa0:
		return false
	case r == 0x2028 || r == 0x2029 || r == 0xfeff || r == 0xfffe || r == 0xffff:
		return false
	case r >= 0xd800 && r < 0xe000:
		return false
	}
	return true
}
