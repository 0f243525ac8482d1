package prune

import (
	"fmt"
	"path"
	"strings"
)

// StoreDir is where store paths live at run time; under the rule root the
// store is the directory "store".
const StoreDir = "/nix/store"

const nixBase32 = "0123456789abcdfghijklmnpqrsvwxyz"

// StoreRel turns a store path, or a path inside one, into a path relative to
// the rule root: "/nix/store/<hash>-name/bin/web" becomes
// "store/<hash>-name/bin/web". It is how a closure becomes Options.Selected.
func StoreRel(storePath string) (string, error) {
	rest, ok := strings.CutPrefix(path.Clean(storePath), StoreDir+"/")
	if !ok {
		return "", fmt.Errorf("unable to use %q: not a path under %s", storePath, StoreDir)
	}
	top, _, _ := strings.Cut(rest, "/")
	if len(top) < 34 || top[32] != '-' || strings.Trim(top[:32], nixBase32) != "" {
		return "", fmt.Errorf("unable to use %q: %q is not a store path name (<32 nixbase32 characters>-<name>)", storePath, top)
	}
	return "store/" + rest, nil
}
