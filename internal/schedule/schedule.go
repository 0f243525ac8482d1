// Package schedule reads a cron worker's line, Hop3's form
// "cron: */5 * * * * cmd": the schedule and the command are split here, at
// build time and again by the launcher, so the schedule text never runs as
// a command. Schedules are parsed by github.com/robfig/cron/v3.
package schedule

import (
	"fmt"
	"strings"
	"time"

	"github.com/robfig/cron/v3"
)

// ProcessType is the process type Hop3 runs on a schedule (its uWSGI
// worker kind "cron"): the line starts with the schedule.
const ProcessType = "cron"

// Cron is a cron worker: when it runs, and what.
type Cron struct {
	// Spec is the schedule as written: five fields (minute hour
	// day-of-month month day-of-week), or a descriptor such as @hourly or
	// @every 30s, optionally after CRON_TZ=<zone>.
	Spec string
	// Command is the POSIX shell command line run at each firing.
	Command string
	// Next gives the first firing after a time.
	Next func(time.Time) time.Time
}

// Split reads a cron line: the schedule, then the command.
func Split(line string) (Cron, error) {
	words := strings.Fields(line)
	n := 5
	if len(words) > 0 && (strings.HasPrefix(words[0], "CRON_TZ=") || strings.HasPrefix(words[0], "TZ=")) {
		n++
	}
	if len(words) >= n-4 && strings.HasPrefix(words[n-5], "@") {
		n -= 4 // @hourly, @daily, ...
		if words[n-1] == "@every" {
			n++
		}
	}
	if len(words) <= n {
		return Cron{}, fmt.Errorf("expected a schedule and a command, as in \"*/5 * * * * my-task\" "+
			"(minute hour day-of-month month day-of-week, then the command), got %q", line)
	}
	spec := strings.Join(words[:n], " ")
	cmd := strings.TrimSpace(line[wordEnd(line, n):])
	if first := strings.Fields(cmd)[0]; strings.HasPrefix(first, "*") || strings.HasPrefix(first, "?") {
		return Cron{}, fmt.Errorf("the command %q after the schedule %q starts with a schedule field: "+
			"a schedule has five fields (a seconds field is not Hop3's form; write \"@every 10s my-task\" for seconds)", cmd, spec)
	}
	s, err := Parse(spec)
	if err != nil {
		return Cron{}, err
	}
	return Cron{Spec: spec, Command: cmd, Next: s.Next}, nil
}

// Parse reads a schedule alone.
func Parse(spec string) (cron.Schedule, error) {
	s, err := cron.ParseStandard(spec)
	if err != nil {
		hint := "five fields: minute (0-59) hour (0-23) day-of-month (1-31) month (1-12) day-of-week (0-6, 0 is Sunday), " +
			"each *, a number, */N, a range or a list; or @hourly, @daily, @weekly, @monthly, @every <duration>"
		return nil, fmt.Errorf("schedule %q: %v\nexpected %s", spec, err, hint)
	}
	return s, nil
}

// wordEnd is the byte offset just after the n-th whitespace-separated word.
func wordEnd(s string, n int) int {
	i := 0
	for k := 0; k < n; k++ {
		for i < len(s) && isSpace(s[i]) {
			i++
		}
		for i < len(s) && !isSpace(s[i]) {
			i++
		}
	}
	return i
}

func isSpace(b byte) bool {
	return b == ' ' || b == '\t' || b == '\n' || b == '\r' || b == '\v' || b == '\f'
}
