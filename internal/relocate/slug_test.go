package relocate

import (
	"bytes"
	"compress/gzip"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/paketo-buildpacks/libpak/v2/log"
)

// errNoStrategy stands for nixmount's error on a platform that refuses
// user namespaces and ptrace.
var errNoStrategy = errors.New("no way to show /nix: userns refused, proot: ptrace refused")

// storeRuns is an Options.StoreRuns that answers err.
func storeRuns(err error) func() error { return func() error { return err } }

// TestSlug runs the slug step on a real store directory for each mode and
// checks what it leaves on disk and what it says.
func TestSlug(t *testing.T) {
	tests := []struct {
		name      string
		o         Options
		broken    bool
		relocated bool   // dst holds the closure and store is gone
		link      bool   // the prefix is a /tmp link
		skipped   string // in Outcome.Skipped
		err       string // in the error
		log       string // in the log
	}{
		{name: "never", o: Options{Mode: Never, AppDir: "/app"}},
		{name: "auto, run directory unknown", o: Options{Mode: Auto},
			skipped: "the app's directory at run time is unknown; set BP_NIX_RELOCATE_APP_DIR"},
		{name: "auto, clean", o: Options{Mode: Auto, AppDir: "/app"}, relocated: true, log: "Relocating the runtime closure to /app/.nixs"},
		{name: "auto, broken", o: Options{Mode: Auto, AppDir: "/app"}, broken: true,
			skipped: "relocating to /app/.nixs would break these files:\n  /nix/store/"},
		{name: "auto, run directory too long", o: Options{Mode: Auto, AppDir: "/home/vcap/app"}, relocated: true, link: true,
			log: "The launcher links /tmp/"},
		{name: "auto, broken, store runs here", o: Options{Mode: Auto, AppDir: "/app", StoreRuns: storeRuns(nil)}, broken: true,
			skipped: "relocating to /app/.nixs would break these files:\n  /nix/store/"},
		{name: "auto, broken, store cannot run here", o: Options{Mode: Auto, AppDir: "/app", StoreRuns: storeRuns(errNoStrategy)}, broken: true,
			relocated: true, log: "because the store could not be shown at /nix on this platform either"},
		{name: "auto, run directory unknown, store cannot run here", o: Options{Mode: Auto, StoreRuns: storeRuns(errNoStrategy)},
			relocated: true, link: true, log: "relocating to a /tmp link anyway"},
		{name: "always, broken", o: Options{Mode: Always, AppDir: "/app"}, broken: true,
			err: "BP_NIX_RELOCATE=always, but relocating the closure to /app/.nixs breaks these files:"},
		{name: "always, broken, warn", o: Options{Mode: Always, AppDir: "/app", Warn: true}, broken: true, relocated: true,
			log: "warning (BP_NIX_RELOCATE_CHECK=warn): relocated although these files break:"},
		{name: "always, run directory unknown", o: Options{Mode: Always}, relocated: true, link: true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			dir := t.TempDir()
			store, dst := filepath.Join(dir, "store"), filepath.Join(dir, SlugDir)
			name := storeName(t, "app")
			write(t, filepath.Join(store, name, "bin", "app"), "#!/nix/store/"+name+"/bin/sh\n", 0o755)
			if tt.broken {
				var b bytes.Buffer
				w := gzip.NewWriter(&b)
				w.Write([]byte("/nix/store/" + name + "/share\n"))
				w.Close()
				write(t, filepath.Join(store, name, "share", "paths.gz"), b.String(), 0o644)
			}
			var out bytes.Buffer
			got, err := Slug(store, dst, tt.o, "closure-id", log.NewPaketoLogger(&out))
			if tt.err != "" {
				if err == nil || !strings.Contains(err.Error(), tt.err) {
					t.Fatalf("error = %v, want %q", err, tt.err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if !strings.Contains(got.Skipped, tt.skipped) || (tt.skipped == "") != (got.Skipped == "") {
				t.Errorf("Skipped = %q, want %q", got.Skipped, tt.skipped)
			}
			if !strings.Contains(out.String(), tt.log) {
				t.Errorf("log lacks %q:\n%s", tt.log, out.String())
			}
			_, storeErr := os.Stat(store)
			data, dstErr := os.ReadFile(filepath.Join(dst, name, "bin", "app"))
			if !tt.relocated {
				if got.Prefix != "" || storeErr != nil || dstErr == nil {
					t.Fatalf("not relocated: prefix %q, store %v, dst %v", got.Prefix, storeErr, dstErr)
				}
				return
			}
			if storeErr == nil || dstErr != nil {
				t.Fatalf("relocated: store %v (want gone), dst %v", storeErr, dstErr)
			}
			want := Prefix("/app/.nixs") // as long as /nix/store: no padding
			if tt.link {
				want = LinkPrefix("closure-id")
			}
			if got.Prefix != want || got.Link != tt.link {
				t.Errorf("Outcome = %+v, want prefix %q, link %t", got, want, tt.link)
			}
			if string(data) != "#!"+string(want)+"/"+name+"/bin/sh\n" {
				t.Errorf("relocated file = %q", data)
			}
		})
	}
}
