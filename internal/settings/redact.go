package settings

import (
	"net/url"
	"strings"
)

// redactedMark stands for a hidden secret, as net/url's Redacted writes it.
const redactedMark = "xxxxx"

// harmlessParams are the cache URL parameters whose values are shown:
// they locate or tune a cache and hold no secret. Every other value (token,
// secret, key, sig, password, X-Amz-*, anything unknown) is hidden.
var harmlessParams = map[string]bool{
	"region": true, "endpoint": true, "scheme": true, "profile": true, "path-style": true,
	"compression": true, "priority": true, "trusted": true, "want-mass-query": true, "insecure": true,
	"parallel-compression": true, "compression-level": true, "ls-compression": true,
	"narinfo-compression": true, "log-compression": true, "write-nar-listing": true,
	"index-debug-info": true, "multipart-upload": true, "buffer-size": true,
}

// RedactURL returns a cache URL fit for a log or an error: the password of
// its user info is hidden (and a user name given without a password, which
// is often a token), as is the value of every query parameter that is not
// known to be harmless (region, endpoint, compression, ...), and the
// fragment. Anything that does not parse as scheme://... is hidden whole
// but for its scheme, since where its secrets are cannot be told (for
// example user:PASS@host, which parses as scheme "user").
func RedactURL(raw string) string {
	u, err := url.Parse(raw)
	if err != nil || u.Opaque != "" || u.Scheme == "" || !strings.Contains(raw, "://") {
		scheme, _, found := strings.Cut(raw, ":")
		if !found || err != nil || strings.ContainsAny(scheme, "/@?#") {
			return redactedMark
		}
		return scheme + ":" + redactedMark
	}
	var b strings.Builder
	b.WriteString(u.Scheme + "://")
	if u.User != nil {
		if _, has := u.User.Password(); has {
			b.WriteString(u.User.Username() + ":" + redactedMark + "@")
		} else {
			b.WriteString(redactedMark + "@")
		}
	}
	b.WriteString(u.Host)
	b.WriteString(u.EscapedPath())
	if u.RawQuery != "" || u.ForceQuery {
		b.WriteByte('?')
		for i, kv := range strings.Split(u.RawQuery, "&") {
			if i > 0 {
				b.WriteByte('&')
			}
			k, v, hasValue := strings.Cut(kv, "=")
			name, _ := url.QueryUnescape(k)
			switch {
			case !harmlessParams[strings.ToLower(name)]:
				if hasValue {
					b.WriteString(k + "=" + redactedMark)
				} else {
					b.WriteString(redactedMark) // a bare value may be a token
				}
			case !hasValue:
				b.WriteString(k)
			default:
				if strings.EqualFold(name, "endpoint") {
					// An endpoint is a URL of its own and may carry user info.
					ev, _ := url.QueryUnescape(v)
					if strings.Contains(ev, "@") || strings.Contains(ev, "?") {
						v = RedactURL(ev) // for reading, not for parsing again
					}
				}
				b.WriteString(k + "=" + v)
			}
		}
	}
	if u.Fragment != "" {
		b.WriteString("#" + redactedMark)
	}
	return b.String()
}
