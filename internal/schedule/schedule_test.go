package schedule_test

import (
	"strings"
	"testing"
	"time"

	"github.com/nix-buildpack/nix-buildpack/internal/schedule"
)

func TestSplit(t *testing.T) {
	at := time.Date(2026, 3, 2, 10, 7, 30, 0, time.UTC) // a Monday
	tests := []struct {
		line, spec, cmd string
		next            time.Time
		err             string
	}{
		{line: "*/5 * * * * python manage.py clearsessions", spec: "*/5 * * * *", cmd: "python manage.py clearsessions",
			next: time.Date(2026, 3, 2, 10, 10, 0, 0, time.UTC)},
		{line: "0 3 * * 1   backup --all  ", spec: "0 3 * * 1", cmd: "backup --all", next: time.Date(2026, 3, 9, 3, 0, 0, 0, time.UTC)},
		{line: "30 */2 1,15 * *\tsh -c 'echo *'", spec: "30 */2 1,15 * *", cmd: "sh -c 'echo *'", next: time.Date(2026, 3, 15, 0, 30, 0, 0, time.UTC)},
		{line: "@hourly tick", spec: "@hourly", cmd: "tick", next: time.Date(2026, 3, 2, 11, 0, 0, 0, time.UTC)},
		{line: "@every 2s echo tick", spec: "@every 2s", cmd: "echo tick", next: at.Add(2 * time.Second)},
		{line: "CRON_TZ=UTC 0 6 * * * report", spec: "CRON_TZ=UTC 0 6 * * *", cmd: "report", next: time.Date(2026, 3, 3, 6, 0, 0, 0, time.UTC)},
		// Malformed lines: never a command made of schedule text.
		{line: "*/5 * * * *", err: "expected a schedule and a command"},
		{line: "*/5 * * *", err: "expected a schedule and a command"},
		{line: "", err: "expected a schedule and a command"},
		{line: "@every", err: "expected a schedule and a command"},
		{line: "*/10 * * * * * tick", err: "starts with a schedule field"},
		{line: "61 * * * * tick", err: `schedule "61 * * * *"`},
		{line: "0 0 * * 7 tick", err: "day-of-week (0-6, 0 is Sunday)"},
		{line: "every 5 minutes do run it", err: "expected five fields"},
		{line: "@fortnightly tick", err: `schedule "@fortnightly"`},
	}
	for _, tt := range tests {
		t.Run(tt.line, func(t *testing.T) {
			c, err := schedule.Split(tt.line)
			if tt.err != "" {
				if err == nil || !strings.Contains(err.Error(), tt.err) {
					t.Fatalf("Split(%q) = %+v, %v; want error containing %q", tt.line, c, err, tt.err)
				}
				return
			}
			if err != nil || c.Spec != tt.spec || c.Command != tt.cmd {
				t.Fatalf("Split(%q) = %q, %q, %v; want %q, %q", tt.line, c.Spec, c.Command, err, tt.spec, tt.cmd)
			}
			if got := c.Next(at); !got.Equal(tt.next) {
				t.Errorf("Next(%s) = %s, want %s", at, got, tt.next)
			}
		})
	}
}
