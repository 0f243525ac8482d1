package launch

import (
	"fmt"
	"os"
	"os/signal"
	"syscall"
	"time"

	"github.com/nix-buildpack/nix-buildpack/internal/schedule"
)

// runCron runs line at each firing of spec until a signal that ends a shell
// (TERM, INT, HUP, QUIT) arrives; a run still going when the next firing is
// due makes the launcher skip that firing (uWSGI, which runs Hop3's cron
// workers, would start a second copy). A failing run is logged and the
// schedule goes on, as with cron and uWSGI. The status is 128+n for the
// signal that stopped it.
func runCron(spec, line string, underProot bool) int {
	s, err := schedule.Parse(spec)
	if err != nil {
		fmt.Fprintf(os.Stderr, "nixbp-launch: --cron: %v\n", err)
		return 2
	}
	stop := make(chan os.Signal, 4)
	signal.Notify(stop, syscall.SIGTERM, syscall.SIGINT, syscall.SIGHUP, syscall.SIGQUIT)
	defer signal.Stop(stop)
	// Wall clock times (Round(0) drops the monotonic reading): a schedule
	// names wall clock times.
	next := s.Next(time.Now().Round(0))
	fmt.Fprintf(os.Stderr, "nixbp-launch: cron: schedule %q, command: %s; first run at %s\n", spec, line, next.Format(time.RFC3339))
	for {
		timer := time.NewTimer(time.Until(next))
		select {
		case sig := <-stop:
			timer.Stop()
			fmt.Fprintf(os.Stderr, "nixbp-launch: cron: stopped by %v\n", sig)
			return 128 + int(sig.(syscall.Signal))
		case <-timer.C:
		}
		fmt.Fprintf(os.Stderr, "nixbp-launch: cron: running (due %s): %s\n", next.Format(time.RFC3339), line)
		status := interpret(line, underProot)
		now := time.Now().Round(0)
		if missed := s.Next(next); !missed.After(now) {
			fmt.Fprintf(os.Stderr, "nixbp-launch: cron: the run lasted until %s: skipped the run(s) due from %s\n",
				now.Format(time.RFC3339), missed.Format(time.RFC3339))
		}
		next = s.Next(now)
		fmt.Fprintf(os.Stderr, "nixbp-launch: cron: run ended with status %d; next run at %s\n", status, next.Format(time.RFC3339))
		select {
		case sig := <-stop:
			fmt.Fprintf(os.Stderr, "nixbp-launch: cron: stopped by %v\n", sig)
			return 128 + int(sig.(syscall.Signal))
		default:
		}
	}
}
