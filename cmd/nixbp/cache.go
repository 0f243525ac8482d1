package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"

	"github.com/nix-buildpack/nix-buildpack/internal/cache"
	"github.com/nix-buildpack/nix-buildpack/internal/caching"
	"github.com/nix-buildpack/nix-buildpack/internal/narinfo"
	"github.com/nix-buildpack/nix-buildpack/internal/nixstore"
	"github.com/nix-buildpack/nix-buildpack/internal/settings"
	"github.com/nix-buildpack/nix-buildpack/internal/storelock"
)

const cacheUsage = `usage: nixbp cache [flags] push <store-path|result-link>...
       nixbp cache [flags] pull <store-path>...
       nixbp cache [flags] ls
       nixbp cache [flags] verify

Works with a Nix binary cache (the layout nix copy and substituters use).
  push    upload the closures of the paths, what the cache lacks, signed with the secret key if given
  pull    fetch the closures into the Nix store and register them
  ls      list the cache's store paths: path, NAR size, stored size, compression, signers
  verify  download every NAR and check it against its narinfo, its references and signatures

flags (anywhere on the line):
  --cache URL                 s3://bucket/prefix?region=R&endpoint=E, oci://registry/repository,
                              http(s)://host/path (read-only) or file:///dir;
                              compression=zstd|xz|none for push. Default: the build's
                              cache, $BP_NIX_CACHE, else s3://$NIX_S3_BUCKET/$NIX_APP_NAME
  --store ROOT                use the chroot store ROOT (files under ROOT/nix/store), not /nix/store
  --secret-key-file FILE      push signs with this key (nix-store --generate-binary-cache-key);
                              default the key in $BP_NIX_CACHE_SECRET_KEY
  --trusted-public-key KEY    pull and verify refuse paths no such key signed (repeatable);
                              default the space-separated keys in $BP_NIX_TRUSTED_PUBLIC_KEYS
  --jobs N                    NARs transferred at once (default 8)
  --app DIR                   push (one path): also write the source pointer of the app in DIR, so that
                              a deploy of the same source restores the path without Nix (no result link
                              in DIR: build with --no-out-link)
S3 credentials come from NIX_S3_KEY and NIX_S3_SECRET, else AWS_ACCESS_KEY_ID and
AWS_SECRET_ACCESS_KEY, else the AWS chain (profiles, roles). Registry credentials (oci://) come
from CNB_REGISTRY_AUTH, else the docker config (docker login). The variables are the build's
(see the README's settings).
`

// runCache is `nixbp cache`: push, pull, list and verify store paths in a
// binary cache, for operators and for debugging the build's cache.
func runCache(args []string, stdout, stderr io.Writer) error {
	cs, err := settings.ParseCaches(os.LookupEnv)
	if err != nil {
		return err
	}
	a, err := parseCacheArgs(args, cs)
	if errors.Is(err, flag.ErrHelp) {
		fmt.Fprint(stdout, cacheUsage)
		return nil
	}
	if err != nil {
		return err
	}
	opts := cache.Options{Name: settings.RedactURL(a.url), Credentials: cs.Credentials, TrustedKeys: a.trusted, Log: stderr, Jobs: a.jobs}
	if a.cmd == "push" {
		if opts.SecretKey, err = secretKey(a.keyFile, cs.SecretKey); err != nil {
			return err
		}
	}
	ctx := context.Background()
	c, err := cache.Open(ctx, a.url, opts)
	if err != nil {
		return err
	}
	st := nixstore.Host(a.root, stderr)
	switch a.cmd {
	case "push":
		if err := cachePush(ctx, c, st, a.paths, stdout); err != nil || a.appDir == "" {
			return err
		}
		return pushPointer(ctx, c, a.appDir, a.paths, stdout)
	case "pull":
		return cachePull(ctx, c, st, a.paths, stdout)
	case "ls":
		return cacheList(ctx, c, stdout)
	default:
		return cacheVerify(ctx, c, stdout)
	}
}

// cacheArgs is a `nixbp cache` command line.
type cacheArgs struct {
	cmd, url, root, keyFile, appDir string
	jobs                            int
	trusted                         []string
	paths                           []string
}

// parseCacheArgs reads the flags (anywhere on the line), the command and
// its store paths, with the build's settings as defaults; flag.ErrHelp asks
// for the usage.
func parseCacheArgs(args []string, cs settings.Caches) (cacheArgs, error) {
	fs := flag.NewFlagSet("nixbp cache", flag.ContinueOnError)
	fs.SetOutput(io.Discard)
	var a cacheArgs
	fs.StringVar(&a.url, "cache", cs.Write, "")
	fs.StringVar(&a.root, "store", "", "")
	fs.StringVar(&a.keyFile, "secret-key-file", "", "")
	fs.IntVar(&a.jobs, "jobs", 0, "")
	fs.StringVar(&a.appDir, "app", "", "")
	var trusted stringList
	fs.Var(&trusted, "trusted-public-key", "")
	words, err := parseArgs(fs, args, cacheUsage)
	if err != nil {
		return a, err
	}
	if len(words) == 0 {
		return a, fmt.Errorf("nixbp cache needs a command: push, pull, ls or verify\n%s", cacheUsage)
	}
	a.cmd, a.paths = words[0], words[1:]
	if a.trusted = trusted; len(a.trusted) == 0 {
		a.trusted = cs.TrustedKeys
	}
	switch {
	case a.cmd != "push" && a.cmd != "pull" && a.cmd != "ls" && a.cmd != "verify":
		return a, fmt.Errorf("nixbp cache: unknown command %q; expected push, pull, ls or verify\n%s", a.cmd, cacheUsage)
	case a.url == "":
		return a, fmt.Errorf("nixbp cache %s: no cache; pass --cache URL or set %s (or the old %s and %s)",
			a.cmd, settings.CacheName, settings.S3BucketName, settings.AppNameName)
	case (a.cmd == "push" || a.cmd == "pull") && len(a.paths) == 0:
		return a, fmt.Errorf("nixbp cache %s needs store paths\n%s", a.cmd, cacheUsage)
	case (a.cmd == "ls" || a.cmd == "verify") && len(a.paths) != 0:
		return a, fmt.Errorf("nixbp cache %s takes no arguments, got %q\n%s", a.cmd, a.paths, cacheUsage)
	}
	return a, nil
}

func cachePush(ctx context.Context, c *cache.Cache, st nixstore.Store, paths []string, stdout io.Writer) error {
	closure, err := st.Requisites(paths...)
	if err != nil {
		return err
	}
	infos, err := st.Infos(closure)
	if err != nil {
		return err
	}
	res, err := c.Push(ctx, infos, st.Dir())
	if err != nil {
		return err
	}
	fmt.Fprintf(stdout, "pushed %d store paths (%.1f MiB compressed, %.1f MiB unpacked) to %s in %.2f s; %d already there\n",
		res.Uploaded, float64(res.UploadedBytes)/(1<<20), float64(res.NarBytes)/(1<<20), c, res.Elapsed.Seconds(), res.Skipped)
	if len(res.Failed) > 0 {
		return fmt.Errorf("%d store paths were not pushed (see the warnings above): %s", len(res.Failed), strings.Join(res.Failed, " "))
	}
	return nil
}

func cachePull(ctx context.Context, c *cache.Cache, st nixstore.Store, paths []string, stdout io.Writer) error {
	var storePaths []string
	for _, p := range paths {
		// A result link names its store path; the store path itself may
		// not exist yet here.
		if target, err := os.Readlink(p); err == nil && strings.HasPrefix(target, narinfo.StoreDir+"/") {
			p = target
		}
		storePaths = append(storePaths, p)
	}
	// A collection of this store waits until what is renamed into it is
	// registered (see internal/storelock).
	release, err := storelock.HoldGC(filepath.Dir(st.Dir()), os.Stderr)
	if err != nil {
		return err
	}
	defer release()
	res, err := c.Fetch(ctx, storePaths, st)
	if err != nil {
		return err
	}
	// Fetch gave every file the store's modes and mtime already, so
	// --register-validity's second pass over each tree would change nothing
	// (and Nix 2.8's canonicalises a chroot store's paths by their logical
	// /nix/store name, which is not where it keeps them): --load-db.
	if err := st.Register(res.Installed); err != nil {
		return err
	}
	fmt.Fprintf(stdout, "pulled %d store paths (%.1f MiB) from %s in %.2f s\n",
		len(res.Installed), float64(res.DownloadedBytes)/(1<<20), c, res.Elapsed.Seconds())
	if len(res.Missing) > 0 {
		return fmt.Errorf("%d store paths are not in the cache or could not be fetched: %s", len(res.Missing), strings.Join(res.Missing, " "))
	}
	return nil
}

func cacheList(ctx context.Context, c *cache.Cache, stdout io.Writer) error {
	entries, err := c.List(ctx)
	if err != nil {
		return err
	}
	for _, e := range entries {
		var signers []string
		for _, s := range e.Signatures {
			name, _, _ := strings.Cut(s, ":")
			signers = append(signers, name)
		}
		fmt.Fprintf(stdout, "%s\t%d\t%d\t%s\t%s\n", e.StorePath, e.NarSize, e.FileSize, e.Compression, strings.Join(signers, ","))
	}
	return nil
}

func cacheVerify(ctx context.Context, c *cache.Cache, stdout io.Writer) error {
	res, err := c.Verify(ctx)
	if err != nil {
		return err
	}
	for _, p := range res.Bad {
		fmt.Fprintf(stdout, "bad\t%s\t%s\t%s\n", p.Key, p.StorePath, p.Reason)
	}
	fmt.Fprintf(stdout, "checked %d store paths (%.1f MiB) in %.2f s: %d problems\n",
		res.Checked, float64(res.Bytes)/(1<<20), res.Elapsed.Seconds(), len(res.Bad))
	if len(res.Bad) > 0 {
		return fmt.Errorf("%s has %d bad entries", c, len(res.Bad))
	}
	return nil
}

// secretKey reads the signing key from file, or takes the one of
// BP_NIX_CACHE_SECRET_KEY; none is fine (unsigned pushes).
func secretKey(file, text string) (*narinfo.SecretKey, error) {
	if file != "" {
		data, err := os.ReadFile(file)
		if err != nil {
			return nil, fmt.Errorf("unable to read the secret key file %s\n%w", file, err)
		}
		text = string(data)
	}
	if text == "" {
		return nil, nil
	}
	key, err := narinfo.ParseSecretKey(text)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", orEnv(file, settings.SecretKeyName), err)
	}
	return key, nil
}

func orEnv(file, env string) string {
	if file != "" {
		return file
	}
	return "$" + env
}

// pushPointer writes the source pointer of the app in appDir to the one
// pushed path, as a build does after pushing.
func pushPointer(ctx context.Context, c *cache.Cache, appDir string, paths []string, stdout io.Writer) error {
	if len(paths) != 1 {
		return fmt.Errorf("nixbp cache push --app needs exactly one store path (the app's build output), got %d", len(paths))
	}
	out := paths[0]
	if target, err := os.Readlink(out); err == nil && strings.HasPrefix(target, narinfo.StoreDir+"/") {
		out = target
	}
	if !strings.HasPrefix(out, narinfo.StoreDir+"/") {
		return fmt.Errorf("nixbp cache push --app: %s is not a store path or a link to one", paths[0])
	}
	digest, err := caching.SourceDigest(appDir)
	if err != nil {
		return err
	}
	if err := c.WritePointer(ctx, digest, out); err != nil {
		return err
	}
	fmt.Fprintf(stdout, "source pointer of %s (digest %s) -> %s\n", appDir, digest[:16], out)
	return nil
}
