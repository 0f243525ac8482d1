package launch

import (
	"fmt"
	"os"
	"sort"
	"strings"

	"github.com/nix-buildpack/nix-buildpack/internal/addon"
)

// bindingRoot is where the platform mounts service bindings: the
// servicebinding.io variable, else the CNB platform spec's older one.
func bindingRoot() string {
	if r := os.Getenv("SERVICE_BINDING_ROOT"); r != "" {
		return r
	}
	return os.Getenv("CNB_BINDINGS")
}

// mapAddons sets the variables the app's addons give it (Hop3's names) from
// the platform's services, keeping any the platform set, and says where
// each came from (names only: values are secrets). A warning names an addon
// nothing provides; an error (two candidate bindings, a malformed one)
// stops the start.
func mapAddons(specs []string, quiet bool) error {
	if len(specs) == 0 {
		return nil
	}
	decl, err := addon.ParseDeclared(specs)
	if err != nil {
		return err
	}
	root := bindingRoot()
	bindings, err := addon.ReadBindings(root)
	if err != nil {
		return err
	}
	set, report, err := addon.Resolve(decl, os.LookupEnv, bindings, root)
	if err != nil {
		return err
	}
	names := make([]string, 0, len(set))
	for k := range set {
		names = append(names, k)
	}
	sort.Strings(names)
	for _, k := range names {
		if err := os.Setenv(k, set[k]); err != nil {
			return fmt.Errorf("unable to set %s\n%w", k, err)
		}
	}
	for _, line := range report {
		if !quiet || strings.Contains(line, "warning:") {
			fmt.Fprintf(os.Stderr, "nixbp-launch: %s\n", line)
		}
	}
	return nil
}
