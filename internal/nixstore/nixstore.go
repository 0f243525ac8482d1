// Package nixstore is the one place nix-store runs: queries (closures,
// outputs, records), validity, registration, realisation, roots,
// collection and verification, against the buildpack's installed Nix (New)
// or the host's (Host, for nixbp and benchmarks). Every command gets its
// environment from nixenv, through the Nix it runs.
package nixstore

import (
	"bufio"
	"bytes"
	"fmt"
	"io"
	"os/exec"
	"path/filepath"
	"sort"
	"strings"

	"github.com/nix-buildpack/nix-buildpack/internal/nixenv"
)

// Commander starts one of Nix's tools: an installed Nix (nixinstall.Nix),
// whose commands run through its /nix view with an environment nixenv
// built.
type Commander interface {
	Command(tool string, args ...string) *exec.Cmd
}

// Store is a Nix store and the nix-store that works on it.
type Store struct {
	dir string
	// nixStore returns a nix-store command with these arguments.
	nixStore func(args ...string) *exec.Cmd
	// stderr, when set, also receives nix-store's messages.
	stderr io.Writer
}

// New is the store in dir as the installed Nix nix sees it at /nix/store.
func New(dir string, nix Commander) Store {
	return Store{dir: dir, nixStore: func(args ...string) *exec.Cmd { return nix.Command("nix-store", args...) }}
}

// Host is a store of the host's Nix, for nixbp and benchmarks: /nix/store
// with its database when root is "", else the chroot store under root
// (files under root/nix/store). nix-store's messages also go to stderr when
// it is not nil.
func Host(root string, stderr io.Writer) Store {
	return Store{dir: filepath.Join(root, "/nix/store"), stderr: stderr, nixStore: func(args ...string) *exec.Cmd { return hostCommand(root, args) }}
}

// Dir is the on-disk directory holding the store paths, which Nix sees as
// /nix/store.
func (s Store) Dir() string { return s.dir }

// hostCommand runs the host's nix-store on root's store. It gets what
// locates the host's Nix, never this process's environment (a cache's keys
// and credentials).
func hostCommand(root string, args []string) *exec.Cmd {
	if root != "" {
		args = append([]string{"--store", root}, args...)
	}
	cmd := exec.Command("nix-store", args...)
	cmd.Env = nixenv.Host()
	return cmd
}

// run runs nix-store with args and stdin (nil: none) and returns its
// standard output; its messages are in the error.
func (s Store) run(stdin io.Reader, args ...string) ([]byte, error) {
	cmd := s.nixStore(args...)
	cmd.Stdin = stdin
	var stdout, stderr bytes.Buffer
	cmd.Stdout = &stdout
	cmd.Stderr = s.messages(&stderr)
	if err := cmd.Run(); err != nil {
		return nil, fmt.Errorf("unable to run nix-store %s\n%s%w", strings.Join(args, " "), stderr.Bytes(), err)
	}
	return stdout.Bytes(), nil
}

// messages is where nix-store's messages go: buf, and the user's stderr
// when set.
func (s Store) messages(buf *bytes.Buffer) io.Writer {
	if s.stderr != nil {
		return io.MultiWriter(buf, s.stderr)
	}
	return buf
}

// lines runs nix-store and returns the lines of its output.
func (s Store) lines(args ...string) ([]string, error) {
	out, err := s.run(nil, args...)
	if err != nil {
		return nil, err
	}
	return ReadLines(out), nil
}

// Requisites is the closure of paths (nix-store --query --requisites):
// every store path they refer to, themselves included, sorted. For a
// derivation, that is its build-time closure of derivations and sources.
func (s Store) Requisites(paths ...string) ([]string, error) {
	out, err := s.lines(append([]string{"--query", "--requisites"}, paths...)...)
	sort.Strings(out)
	return out, err
}

// RequisitesWithOutputs is a derivation's closure with the outputs of every
// derivation in it (nix-store -qR --include-outputs): what rebuilding it
// uses.
func (s Store) RequisitesWithOutputs(drv string) ([]string, error) {
	return s.lines("--query", "--requisites", "--include-outputs", drv)
}

// Outputs are the output paths of derivations (nix-store --query --outputs).
func (s Store) Outputs(drvs ...string) ([]string, error) {
	return s.lines(append([]string{"--query", "--outputs"}, drvs...)...)
}

// Roots are the store's GC roots as `nix-store --gc --print-roots` prints
// them: "link -> target", one a line.
func (s Store) Roots() ([]string, error) {
	return s.lines("--gc", "--print-roots")
}

// CollectGarbage runs Nix's collector with keep-outputs and keep-derivations
// off, so that what stays is exactly what the roots hold, whatever nix.conf
// says.
func (s Store) CollectGarbage() error {
	cmd := s.nixStore("--gc", "--option", "keep-outputs", "false", "--option", "keep-derivations", "false")
	out, err := cmd.CombinedOutput()
	if err != nil {
		lines := strings.Split(strings.TrimSpace(string(out)), "\n")
		if len(lines) > 20 {
			lines = lines[len(lines)-20:]
		}
		return fmt.Errorf("nix-store --gc failed\n%s\n%w", strings.Join(lines, "\n"), err)
	}
	return nil
}

// VerifyContents runs `nix-store --verify --check-contents` and returns
// what it printed.
func (s Store) VerifyContents() ([]byte, error) {
	out, err := s.nixStore("--verify", "--check-contents").CombinedOutput()
	if err != nil {
		return out, fmt.Errorf("nix-store --verify --check-contents failed\n%w", err)
	}
	return out, nil
}

// Realise builds or substitutes paths (nix-store --realise; derivation
// outputs as drv!out) with extra arguments (time limits), its messages to
// log, and returns the realised paths. The error is nix-store's own.
func (s Store) Realise(paths, extra []string, log io.Writer) ([]string, error) {
	cmd := s.nixStore(append(append([]string{"--realise"}, paths...), extra...)...)
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, log
	if err := cmd.Run(); err != nil {
		return nil, err
	}
	return ReadLines(out.Bytes()), nil
}

// Init creates the store's database (nix-store --init), for a chroot store
// made from nothing.
func (s Store) Init() error {
	_, err := s.run(nil, "--init")
	return err
}

// ReadLines splits a command's output into its non-empty lines, trimmed:
// nix-store prints one store path a line.
func ReadLines(out []byte) []string {
	var lines []string
	sc := bufio.NewScanner(bytes.NewReader(out))
	for sc.Scan() {
		if l := strings.TrimSpace(sc.Text()); l != "" {
			lines = append(lines, l)
		}
	}
	return lines
}

// Deriver is the derivation the database records path as built from
// (nix-store --query --deriver), "" when it records none.
func (s Store) Deriver(path string) (string, error) {
	out, err := s.run(nil, "--query", "--deriver", path)
	if err != nil {
		return "", err
	}
	drv := strings.TrimSpace(string(out))
	if drv == "unknown-deriver" {
		return "", nil
	}
	return drv, nil
}
