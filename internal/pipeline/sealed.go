package pipeline

import (
	"os"
	"path/filepath"
	"sort"
	"strings"

	"github.com/nix-buildpack/nix-buildpack/internal/nixinstall"
	"github.com/nix-buildpack/nix-buildpack/internal/nixmount"
)

// Secrets are where the platform keeps what the build's Nix must not read:
// the directories and files the /nix view hides (docs/sealed-builds.md),
// and the names of the secrets there, for the warning of a build that
// cannot hide them.
type Secrets struct {
	// Places are hidden from Nix.
	Places []Place
	// Names are the secret settings and bindings the platform set (names
	// only), for the warning when the Places cannot be hidden.
	Names []string
}

// Place is a directory or file a platform keeps secrets in.
type Place struct {
	// Path is absolute.
	Path string
	// What it is, for the log ("the platform directory", "ENV_DIR").
	What string
}

// Add records a place ("" is ignored).
func (s *Secrets) Add(path, what string) {
	if path == "" {
		return
	}
	if abs, err := filepath.Abs(path); err == nil {
		s.Places = append(s.Places, Place{Path: abs, What: what})
	}
}

// AddCredentialFiles records the files the AWS SDK reads S3 credentials
// from when no setting or binding gives them: the shared credentials and
// config files (AWS_SHARED_CREDENTIALS_FILE, AWS_CONFIG_FILE, else
// ~/.aws) and a web identity token (AWS_WEB_IDENTITY_TOKEN_FILE).
func (s *Secrets) AddCredentialFiles() {
	for _, name := range []string{"AWS_SHARED_CREDENTIALS_FILE", "AWS_CONFIG_FILE", "AWS_WEB_IDENTITY_TOKEN_FILE"} {
		s.Add(os.Getenv(name), name)
	}
	if home, err := os.UserHomeDir(); err == nil {
		s.Add(filepath.Join(home, ".aws"), "the AWS credentials directory")
	}
}

// paths lists the places' paths.
func (s Secrets) paths() []string {
	var out []string
	for _, p := range s.Places {
		out = append(out, p.Path)
	}
	return out
}

// what names a hidden path by the place it is, or the place it is the
// target of.
func (s Secrets) what(path string) string {
	for _, p := range s.Places {
		if p.Path == path {
			return p.What
		}
	}
	for _, p := range s.Places {
		if real, err := filepath.EvalSymlinks(p.Path); err == nil && real == path {
			return p.What + ", the target of " + p.Path
		}
	}
	return ""
}

// logSeal says what the build's Nix cannot see, or warns that it can see
// the secrets when nothing could be hidden.
func logSeal(in Input, nix nixinstall.Nix) {
	seal := nix.View.Seal
	if len(in.Secrets.Places) == 0 {
		return
	}
	if seal.Err != nil {
		names := "none set"
		if len(in.Secrets.Names) > 0 {
			names = strings.Join(in.Secrets.Names, ", ")
		}
		var places []string
		for _, p := range in.Secrets.Places {
			if _, err := os.Lstat(p.Path); err == nil {
				places = append(places, p.Path+" ("+p.What+")")
			}
		}
		in.Log.Bodyf("warning: the app's Nix code can read the platform's secrets here: %s; nothing could be hidden from it (%v)",
			strings.Join(places, ", "), firstLine(seal.Err))
		in.Log.Bodyf("warning: exposed to the build: %s; build where user namespaces are allowed, or set BP_NIX_STRATEGY=proot (slower) to hide them, or keep secrets off this builder",
			names)
		return
	}
	if len(seal.Hidden) > 0 {
		var hidden []string
		for _, p := range seal.Hidden {
			if w := in.Secrets.what(p); w != "" {
				p += " (" + w + ")"
			}
			hidden = append(hidden, p)
		}
		sort.Strings(hidden)
		in.Log.Bodyf("Hidden from Nix (each shows as an empty directory or file): %s", strings.Join(hidden, ", "))
	}
	switch {
	case seal.PrivateProc && nix.View.Strategy == nixmount.PRoot:
		in.Log.Body("Hidden from Nix: the /proc entries of the buildpack and the platform's processes (proot bindings)")
	case seal.PrivateProc:
		in.Log.Body("Nix runs in a PID namespace with a /proc of its own: no other process shows there")
	case seal.ProcErr != nil:
		in.Log.Bodyf("Nix shares /proc with the builder (%v); the processes outside its user namespace stay unreadable to it", firstLine(seal.ProcErr))
	}
	for _, k := range seal.Kept {
		in.Log.Bodyf("warning: not hidden from Nix: %s", k)
	}
}

func firstLine(err error) string {
	first, _, _ := strings.Cut(err.Error(), "\n")
	return first
}
