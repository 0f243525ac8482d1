package settings

import (
	"fmt"
	"regexp"
	"strconv"
	"strings"
)

// nixBuildOptions are the nix-build options a user may pass (nix-build's
// own and Nix's common options, see nix-build(1) and "Common Options" in
// the Nix manual), with the number of values each takes. Any Nix setting
// not listed is reachable through --option NAME VALUE.
var nixBuildOptions = map[string]int{
	"--arg": 2, "--argstr": 2, "--option": 2,
	"-I": 1, "--include": 1,
	"--max-jobs": 1, "-j": 1, "--cores": 1,
	"--max-silent-time": 1, "--timeout": 1,
	"--log-format": 1, "--builders": 1,
	"--keep-going": 0, "-k": 0, "--keep-failed": 0, "-K": 0,
	"--fallback": 0, "--show-trace": 0, "--verbose": 0, "--quiet": 0,
	"--no-build-output": 0, "-Q": 0, "--repair": 0, "--check": 0,
	"--readonly-mode": 0, "--no-out-link": 0,
}

// refusedOptions are nix-build options the buildpack sets itself: the
// expression and what to build, and where (no) result link goes.
var refusedOptions = map[string]string{
	"-A":         "the buildpack selects the `package` attribute of the app's expression itself",
	"--attr":     "the buildpack selects the `package` attribute of the app's expression itself",
	"-E":         "the buildpack passes the app's expression itself",
	"--expr":     "the buildpack passes the app's expression itself",
	"-o":         "the buildpack copies the result into the slug; a result link would point outside it",
	"--out-link": "the buildpack copies the result into the slug; a result link would point outside it",
	"--dry-run":  "a dry run builds nothing to deploy",
	"--drv-link": "derivations are not deployed", "--add-drv-link": "derivations are not deployed",
	"--help": "it prints help instead of building", "--version": "it prints a version instead of building",
}

// numericOptions take a whole number (max-jobs also "auto").
var numericOptions = map[string]bool{"--max-jobs": true, "-j": true, "--cores": true, "--max-silent-time": true, "--timeout": true}

var verbosity = regexp.MustCompile(`^-v+$`)

// ParseBuildFlags splits value into words and checks them as nix-build
// options, naming variable in errors: the words go to nix-build after the
// buildpack's own arguments, and a stray word would otherwise surface as a
// confusing Nix error about a missing file.
func ParseBuildFlags(variable, value string) ([]string, error) {
	words := strings.Fields(value)
	if len(words) == 0 {
		return nil, nil
	}
	for i := 0; i < len(words); i++ {
		w := words[i]
		if why, ok := refusedOptions[w]; ok {
			return nil, fmt.Errorf("%s: nix-build option %s is not allowed here: %s\nremove it from %s", variable, w, why, variable)
		}
		if verbosity.MatchString(w) {
			continue
		}
		n, ok := nixBuildOptions[w]
		if !ok {
			if !strings.HasPrefix(w, "-") {
				return nil, fmt.Errorf("%s: %q is not a nix-build option (word %d of %q)\n"+
					"%s takes options only, e.g. \"--cores 2 --option max-jobs 2\"; the buildpack gives nix-build the app's expression itself",
					variable, w, i+1, value, variable)
			}
			return nil, fmt.Errorf("%s: unknown nix-build option %s\n"+
				"known options: %s; set any other Nix setting with --option NAME VALUE",
				variable, w, strings.Join(knownOptions(), " "))
		}
		if i+n >= len(words) {
			return nil, fmt.Errorf("%s: nix-build option %s needs %d value(s), got %d\nwrite e.g. %q", variable, w, n, len(words)-1-i, example(w))
		}
		for j := 1; j <= n; j++ {
			if strings.HasPrefix(words[i+j], "--") {
				return nil, fmt.Errorf("%s: nix-build option %s needs %d value(s), got the option %s\nwrite e.g. %q", variable, w, n, words[i+j], example(w))
			}
		}
		if numericOptions[w] {
			v := words[i+1]
			if _, err := strconv.ParseUint(v, 10, 32); err != nil && !(v == "auto" && (w == "--max-jobs" || w == "-j")) {
				return nil, fmt.Errorf("%s: nix-build option %s takes a whole number, got %q", variable, w, v)
			}
		}
		if (w == "--arg" || w == "--argstr") && words[i+1] == "file" {
			return nil, fmt.Errorf("%s: %s file is the buildpack's own argument (the app's expression)\nremove it from %s", variable, w, variable)
		}
		i += n
	}
	return words, nil
}

func knownOptions() []string {
	return []string{"--arg", "--argstr", "--option", "-I", "--max-jobs", "--cores", "--max-silent-time", "--timeout",
		"--log-format", "--builders", "--keep-going", "--keep-failed", "--fallback", "--show-trace", "--verbose", "--quiet",
		"--no-build-output", "--repair", "--check", "--readonly-mode"}
}

func example(option string) string {
	switch nixBuildOptions[option] {
	case 2:
		if option == "--option" {
			return "--option max-jobs 2"
		}
		return option + " name value"
	case 1:
		if numericOptions[option] {
			return option + " 2"
		}
		return option + " value"
	}
	return option
}
