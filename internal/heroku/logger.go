package heroku

import (
	"fmt"
	"io"
	"os"
	"regexp"
	"strings"
	"sync"

	"github.com/paketo-buildpacks/libpak/v2/log"
)

// The line prefixes of Heroku's build output: a step, the text under it,
// and an error.
const (
	headerPrefix = "-----> "
	bodyPrefix   = "       "
	errorPrefix  = " !     "
)

// Logger is a libpak log.Logger that writes Heroku's build output format:
// headers as "-----> step", everything under them indented by seven spaces,
// errors as " !     message". Colour is left out: build logs are read in
// dashboards and CI logs more than on terminals.
type Logger struct {
	header, body, errs, debug io.Writer
}

var _ log.Logger = Logger{}

// NewLogger returns a Logger writing to out. Debug lines are written when
// BP_DEBUG is set or BP_LOG_LEVEL is debug, as for the CNB front-end.
func NewLogger(out io.Writer) Logger {
	mu := &sync.Mutex{}
	l := Logger{
		header: &prefixWriter{out: out, prefix: headerPrefix, mu: mu, atStart: true},
		body:   &prefixWriter{out: out, prefix: bodyPrefix, mu: mu, atStart: true},
		errs:   &prefixWriter{out: out, prefix: errorPrefix, mu: mu, atStart: true},
	}
	if strings.EqualFold(os.Getenv("BP_LOG_LEVEL"), "debug") || os.Getenv("BP_DEBUG") != "" {
		l.debug = &prefixWriter{out: out, prefix: bodyPrefix + "[debug] ", mu: mu, atStart: true}
	}
	return l
}

// Debug logs a debug line when debug logging is on.
func (l Logger) Debug(a ...interface{}) {
	if l.debug != nil {
		line(l.debug, fmt.Sprint(a...))
	}
}

// Debugf logs a formatted debug line when debug logging is on.
func (l Logger) Debugf(format string, a ...interface{}) {
	if l.debug != nil {
		line(l.debug, fmt.Sprintf(format, a...))
	}
}

// DebugWriter is the debug writer, or io.Discard.
func (l Logger) DebugWriter() io.Writer {
	if l.debug == nil {
		return io.Discard
	}
	return l.debug
}

// IsDebugEnabled says whether debug lines are written.
func (l Logger) IsDebugEnabled() bool { return l.debug != nil }

// Body logs text under the current step.
func (l Logger) Body(a ...interface{}) { line(l.body, fmt.Sprint(a...)) }

// Bodyf logs formatted text under the current step.
func (l Logger) Bodyf(format string, a ...interface{}) { line(l.body, fmt.Sprintf(format, a...)) }

// BodyWriter indents everything written to it (Nix's own output goes here).
func (l Logger) BodyWriter() io.Writer { return l.body }

// IsBodyEnabled is always true.
func (l Logger) IsBodyEnabled() bool { return true }

// Header logs a step.
func (l Logger) Header(a ...interface{}) { line(l.header, fmt.Sprint(a...)) }

// Headerf logs a formatted step.
func (l Logger) Headerf(format string, a ...interface{}) { line(l.header, fmt.Sprintf(format, a...)) }

// HeaderWriter prefixes every line written to it as a step.
func (l Logger) HeaderWriter() io.Writer { return l.header }

// IsHeaderEnabled is always true.
func (l Logger) IsHeaderEnabled() bool { return true }

// TerminalError logs a failure in Heroku's " !     " format.
func (l Logger) TerminalError(err log.IdentifiableError) {
	if err.Name != "" {
		line(l.errs, strings.TrimSpace(err.Name+" "+err.Description))
	}
	line(l.errs, err.Err.Error())
}

// TerminalErrorWriter prefixes every line written to it as an error.
func (l Logger) TerminalErrorWriter() io.Writer { return l.errs }

// IsTerminalErrorEnabled is always true.
func (l Logger) IsTerminalErrorEnabled() bool { return true }

// Title logs the buildpack's name and version as the first step.
func (l Logger) Title(name, version, homepage string) {
	line(l.header, strings.TrimSpace(name+" "+version))
	if homepage != "" {
		line(l.body, homepage)
	}
}

// Titlef logs a formatted title as a step.
func (l Logger) Titlef(format string, a ...interface{}) { line(l.header, fmt.Sprintf(format, a...)) }

// TitleWriter is the header writer.
func (l Logger) TitleWriter() io.Writer { return l.header }

// IsTitleEnabled is always true.
func (l Logger) IsTitleEnabled() bool { return true }

func line(w io.Writer, s string) {
	if !strings.HasSuffix(s, "\n") {
		s += "\n"
	}
	_, _ = io.WriteString(w, s)
}

// sgr matches the colour codes libpak's helpers put in their messages.
var sgr = regexp.MustCompile("\x1b\\[[0-9;]*m")

// prefixWriter starts every line with prefix, also across writes that end
// mid-line (Nix writes its progress in pieces), and drops colour codes.
// The writers of one Logger share a lock so that their lines do not
// interleave.
type prefixWriter struct {
	out     io.Writer
	prefix  string
	mu      *sync.Mutex
	atStart bool
}

func (w *prefixWriter) Write(p []byte) (int, error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	var b []byte
	for _, c := range sgr.ReplaceAll(p, nil) {
		if w.atStart {
			b = append(b, w.prefix...)
			w.atStart = false
		}
		b = append(b, c)
		if c == '\n' {
			w.atStart = true
		}
	}
	if _, err := w.out.Write(b); err != nil {
		return 0, err
	}
	return len(p), nil
}
