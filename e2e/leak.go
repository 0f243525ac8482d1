package e2e

import (
	"bytes"
	"compress/bzip2"
	"crypto/ed25519"
	"crypto/rand"
	"encoding/base64"
	"encoding/hex"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strings"

	"github.com/klauspost/compress/zstd"
)

// LeakApp writes into dir an app that tries every way an app's Nix code
// has to read a build's secrets, and serves what it read at / (the
// issue's leak app, grown): the evaluator reads the named variables
// (builtins.getEnv) and the files (builtins.readFile of the paths, as an
// author who knows the platform's layout would write them); the builder, a
// plain derivation, cats the same files, every file under places and walk
// whose name looks like a secret (find), and the environment, root and
// cwd of every process /proc shows. Nothing it reads is checked here: the
// test greps the image, slug, log and caches for the secrets' values.
func LeakApp(dir string, names, files, places, walk []string) error {
	quote := func(words []string) string {
		var q []string
		for _, w := range words {
			q = append(q, fmt.Sprintf("%q", w))
		}
		return strings.Join(q, " ")
	}
	expr := `{ pkgs ? import <nixpkgs> {} }:
let
  names = [ ` + quote(names) + ` ];
  files = [ ` + quote(files) + ` ];
  read = f: if builtins.pathExists f then builtins.readFile f else "";
  fromEnv = builtins.concatStringsSep " " (map (n: n + "=" + builtins.getEnv n) names);
  fromFiles = builtins.concatStringsSep " " (map read files);
in {
  package = pkgs.runCommand "leak" { inherit fromEnv fromFiles; } ''
    mkdir -p $out/hop3 $out/www
    page=$out/www/index.html
    echo "eval env: $fromEnv" > $page
    echo "eval files: $fromFiles" >> $page
    for f in ` + quote(files) + `; do cat "$f"; done >> $page 2>/dev/null || true
    for d in ` + quote(append(append([]string{}, places...), walk...)) + `; do
      find "$d" -type f \( -name '*SECRET*' -o -name '*_KEY*' -o -name 'secret-*' -o -name '*credentials*' -o -name 'DATABASE_URL' \) \
        -exec cat {} + >> $page 2>/dev/null || true
    done
    for p in /proc/[0-9]*; do
      cat $p/environ
      for d in ` + quote(places) + `; do find $p/root$d $p/cwd$d -type f -exec cat {} + ; done
    done >> $page 2>/dev/null || true
    echo leak-app-done >> $page
    echo '{"workers": {"static": "'$out'/www"}}' > $out/hop3/runtime.json
  '';
}
`
	return os.WriteFile(filepath.Join(dir, "hop3.nix"), []byte(expr), 0o644)
}

// FilesUnder lists the files under dirs (as the leak app is told them).
func FilesUnder(dirs ...string) []string {
	var files []string
	for _, d := range dirs {
		_ = filepath.WalkDir(d, func(path string, e os.DirEntry, err error) error {
			if err == nil && !e.IsDir() {
				files = append(files, path)
			}
			return nil
		})
	}
	return files
}

// NativeNix runs cmd (made for the build user, through setpriv) in a mount
// namespace of its own where nixDir is bound at /nix, as on a builder image
// whose /nix is the buildpack's Nix directory (the native strategy). It
// runs as root until the bind is made.
func NativeNix(cmd *exec.Cmd, nixDir string) *exec.Cmd {
	wrapped := exec.Command("unshare", append([]string{"--mount", "--propagation", "private", "--", "/bin/sh", "-c",
		`mkdir -p /nix && mount --bind "$0" /nix && exec "$@"`, nixDir, cmd.Path}, cmd.Args[1:]...)...)
	wrapped.Env, wrapped.Dir, wrapped.Stdin = cmd.Env, cmd.Dir, cmd.Stdin
	return wrapped
}

// BuildCmd is the builder's command as Build runs it (as the build user),
// for a test that runs it otherwise (NativeNix).
func (w *Workspace) BuildCmd() *exec.Cmd {
	cmd := exec.Command(filepath.Join(w.Lifecycle, "lifecycle"), append([]string{"build"}, w.buildArgs()...)...)
	cmd.Env = append(w.env(), "CNB_PLATFORM_API="+PlatformAPI)
	w.asUser(cmd)
	return cmd
}

// LeakSecrets are the secrets a platform hands a build, each a unique
// value that a test greps for afterwards.
type LeakSecrets struct {
	// Env are settings and config vars: platform/env or ENV_DIR.
	Env map[string]string
	// Bindings are CNB bindings (name -> key -> value).
	Bindings map[string]map[string]string
	// Needles are the values that must not show anywhere.
	Needles []string
}

// NewLeakSecrets makes the secrets: an AWS key, the cache's signing key
// (BP_NIX_CACHE_SECRET_KEY, a real ed25519 key, since the build signs with
// it), an app config var holding a password, and, for CNB, a nix-cache
// binding with another signing key and a database binding.
func NewLeakSecrets() (LeakSecrets, error) {
	nonce := make([]byte, 6)
	if _, err := rand.Read(nonce); err != nil {
		return LeakSecrets{}, err
	}
	tag := hex.EncodeToString(nonce)
	key := func(name string) (secret, needle string, err error) {
		_, priv, err := ed25519.GenerateKey(rand.Reader)
		b64 := base64.StdEncoding.EncodeToString(priv)
		return name + ":" + b64, b64, err
	}
	settingKey, settingNeedle, err := key("leak-setting-1")
	if err != nil {
		return LeakSecrets{}, err
	}
	bindingKey, bindingNeedle, err := key("leak-binding-1")
	if err != nil {
		return LeakSecrets{}, err
	}
	return LeakSecrets{
		Env: map[string]string{
			"AWS_SECRET_ACCESS_KEY":   "aws-secret-" + tag,
			"BP_NIX_CACHE_SECRET_KEY": settingKey,
			"DATABASE_URL":            "postgres://app:db-password-" + tag + "@db.internal/app",
		},
		Bindings: map[string]map[string]string{
			"nix-cache": {"type": "nix-cache", "secret-key": bindingKey},
			"db":        {"type": "postgresql", "password": "binding-password-" + tag},
		},
		Needles: []string{"aws-secret-" + tag, settingNeedle, "db-password-" + tag, bindingNeedle, "binding-password-" + tag},
	}, nil
}

// Names are the variables the leak app asks builtins.getEnv for.
func (s LeakSecrets) Names() []string {
	names := []string{"CNB_PLATFORM_DIR", "SERVICE_BINDING_ROOT", "ENV_DIR", "HOME", "COMPILE_SECRET"}
	for k := range s.Env {
		names = append(names, k)
	}
	sort.Strings(names)
	return names
}

// SecretsIn greps every file under dir for the needles, NARs (.zst) and
// Nix's build logs (.bz2) decompressed; it returns what it found (the
// needle's start and the file) and how many files it read.
func SecretsIn(needles []string, dir string) (found []string, files int, err error) {
	err = filepath.WalkDir(dir, func(p string, d os.DirEntry, err error) error {
		if err != nil || !d.Type().IsRegular() {
			return nil
		}
		data, err := readDecompressed(p)
		if err != nil {
			return fmt.Errorf("%s: %w", p, err)
		}
		files++
		for _, n := range needles {
			if bytes.Contains(data, []byte(n)) {
				found = append(found, fmt.Sprintf("the secret %.12s... in %s", n, p))
			}
		}
		return nil
	})
	return found, files, err
}

func readDecompressed(p string) ([]byte, error) {
	f, err := os.Open(p)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	var r io.Reader = f
	switch {
	case strings.HasSuffix(p, ".zst"):
		z, err := zstd.NewReader(f)
		if err != nil {
			return nil, err
		}
		defer z.Close()
		r = z
	case strings.HasSuffix(p, ".bz2"):
		r = bzip2.NewReader(f)
	}
	return io.ReadAll(r)
}
