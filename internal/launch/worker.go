package launch

import (
	"errors"
	"fmt"
	"net"
	"os"
	"strings"
	"syscall"

	"github.com/nix-buildpack/nix-buildpack/internal/fileserver"
	"mvdan.cc/sh/v3/shell"
	"mvdan.cc/sh/v3/syntax"
)

// runWorker runs the worker in this process's view of /nix (underProot:
// the view is proot's).
func runWorker(inv Invocation, underProot bool) int {
	if len(inv.Release) > 0 {
		if status := runRelease(inv.Release, underProot); status != 0 || inv.Static == "" && inv.Command == "" {
			return status
		}
	}
	if inv.Static != "" {
		return serveStatic(inv.Static)
	}
	if inv.Cron != "" {
		return runCron(inv.Cron, inv.Command, underProot)
	}
	argv, simple, err := SimpleCommand(inv.Command)
	if err != nil {
		fmt.Fprintf(os.Stderr, "nixbp-launch: worker command %q: %v\n", inv.Command, err)
		return 2
	}
	if simple {
		path, err := lookPath(argv[0])
		if err != nil {
			fmt.Fprintf(os.Stderr, "nixbp-launch: %s: not found on PATH (%s)\n", argv[0], os.Getenv("PATH"))
			return 127
		}
		err = syscall.Exec(path, argv, os.Environ())
		fmt.Fprintf(os.Stderr, "nixbp-launch: unable to run %s: %v\n", path, err)
		return 126
	}
	return interpret(inv.Command, underProot)
}

// SimpleCommand expands a command line that is one simple command (words,
// parameter expansions, quotes; no pipes, lists or redirections) into argv,
// so it can be exec'd directly. simple is false for anything else.
func SimpleCommand(line string) (argv []string, simple bool, err error) {
	f, err := syntax.NewParser().Parse(strings.NewReader(line), "")
	if err != nil {
		return nil, false, err
	}
	if len(f.Stmts) != 1 {
		return nil, false, nil
	}
	st := f.Stmts[0]
	call, ok := st.Cmd.(*syntax.CallExpr)
	if !ok || len(st.Redirs) > 0 || st.Background || st.Negated || len(call.Assigns) > 0 || len(call.Args) == 0 {
		return nil, false, nil
	}
	complex := false
	syntax.Walk(call, func(n syntax.Node) bool {
		switch n.(type) {
		case *syntax.CmdSubst, *syntax.ProcSubst, *syntax.ArithmExp:
			complex = true
		}
		return !complex
	})
	if complex {
		return nil, false, nil
	}
	argv, err = shell.Fields(line, nil)
	if err != nil {
		return nil, false, err
	}
	if len(argv) == 0 {
		return nil, false, errors.New("expands to nothing")
	}
	return argv, true, nil
}

// serveStatic serves dir over HTTP on $BIND_ADDRESS:$PORT
// (internal/fileserver).
func serveStatic(dir string) int {
	addr := net.JoinHostPort(os.Getenv("BIND_ADDRESS"), os.Getenv("PORT"))
	err := fileserver.Serve(dir, addr, os.Stderr)
	fmt.Fprintf(os.Stderr, "nixbp-launch: %v\n", err)
	return 1
}
