package settings

import (
	"net/url"
	"strconv"
	"strings"
	"time"
)

// CacheNixOSOrg is the binary cache Nix substitutes from unless told
// otherwise (Nix's compiled-in default), the value of an empty
// BP_NIX_SUBSTITUTERS.
const CacheNixOSOrg = "https://cache.nixos.org"

// NoSubstituters is BP_NIX_SUBSTITUTERS's value for none.
const NoSubstituters = "none"

// substituters reads a list of store URLs replacing the default: empty is
// cache.nixos.org, "none" no substituter at all.
func (r *reader) substituters(name string) []string {
	v := r.value(name)
	words := strings.Fields(v.text)
	switch {
	case len(words) == 0:
		return []string{CacheNixOSOrg}
	case len(words) == 1 && strings.EqualFold(words[0], NoSubstituters):
		return nil
	}
	return r.checkURLs(name, v, words)
}

// storeURLs reads a space-separated list of store URLs.
func (r *reader) storeURLs(name string) []string {
	v := r.value(name)
	return r.checkURLs(name, v, strings.Fields(v.text))
}

func (r *reader) checkURLs(name string, v value, words []string) []string {
	if len(words) == 0 {
		return nil
	}
	for _, w := range words {
		if u, err := url.Parse(w); err != nil || u.Scheme == "" || !strings.Contains(w, "://") {
			r.fail(name, v, strconv.Quote(w)+" is not a store URL",
				"give URLs such as https://cache.example.org or file:///srv/cache, space separated (or none)")
			return nil
		}
	}
	return words
}

// keys reads public keys, name:base64, space separated.
func (r *reader) keys(name string) []string {
	v := r.value(name)
	words := strings.Fields(v.text)
	for _, k := range words {
		if n, key, ok := strings.Cut(k, ":"); !ok || n == "" || key == "" {
			r.fail(name, v, strconv.Quote(k)+" is not a public key",
				"give name:base64 keys as nix-store --generate-binary-cache-key writes them, e.g. cache.nixos.org-1:6NCHdD59X431o0gWypbMrAURkbJ16ZPMQFGspcDShjY=")
			return nil
		}
	}
	return words
}

// limit reads a time limit: seconds ("1800") or a duration ("30m"); 0 or
// empty is no limit.
func (r *reader) limit(name string) time.Duration {
	v := r.value(name)
	d, err := ParseLimit(v.text)
	if err != nil {
		r.fail(name, v, "expected seconds (1800) or a duration (30m, 1h), 0 for no limit", "")
	}
	return d
}

// ParseLimit reads a time limit: seconds ("1800"), or a duration ("30m",
// "1h30m"); 0 or empty is no limit.
func ParseLimit(text string) (time.Duration, error) {
	text = strings.TrimSpace(text)
	if text == "" {
		return 0, nil
	}
	if n, err := strconv.ParseInt(text, 10, 64); err == nil && n >= 0 {
		return time.Duration(n) * time.Second, nil
	}
	d, err := time.ParseDuration(text)
	if err != nil || d < 0 {
		return 0, &Error{Value: text, Problem: "expected seconds (1800) or a duration (30m, 1h), 0 for no limit"}
	}
	return d, nil
}
