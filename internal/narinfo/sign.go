package narinfo

import (
	"fmt"
	"strings"

	"github.com/nix-community/go-nix/pkg/narinfo/signature"
)

// SecretKey is an ed25519 signing key in Nix's "name:base64" format, as
// `nix-store --generate-binary-cache-key` writes it. Its String never shows
// the key material.
type SecretKey struct{ key signature.SecretKey }

// ParseSecretKey parses a "name:base64" secret key. The error never contains
// the key.
func ParseSecretKey(s string) (*SecretKey, error) {
	k, err := signature.LoadSecretKey(strings.TrimSpace(s))
	if err != nil {
		return nil, fmt.Errorf("secret key is not in Nix's name:base64 ed25519 format (make one with nix-store --generate-binary-cache-key)")
	}
	return &SecretKey{key: k}, nil
}

// PublicKey returns the "name:base64" public key that verifies this key's
// signatures, for trusted-public-keys.
func (k *SecretKey) PublicKey() string { return k.key.ToPublicKey().String() }

// String names the key without showing it.
func (k *SecretKey) String() string { return "secret key for " + k.PublicKey() }

// GoString keeps %#v from printing the key material.
func (k *SecretKey) GoString() string { return k.String() }

// Sign signs a fingerprint (PathInfo.Fingerprint, or another record's) and
// returns the signature as "name:base64".
func (k *SecretKey) Sign(fingerprint string) (string, error) {
	sig, err := k.key.Sign(nil, fingerprint)
	if err != nil {
		return "", fmt.Errorf("unable to sign with %s\n%w", k, err)
	}
	return sig.String(), nil
}

// PublicKeys are the keys whose signatures are trusted.
type PublicKeys []signature.PublicKey

// ParsePublicKeys parses trusted public keys ("name:base64", Nix's
// trusted-public-keys format); several may share one string separated by
// spaces.
func ParsePublicKeys(keys []string) (PublicKeys, error) {
	var out PublicKeys
	for _, s := range keys {
		for _, f := range strings.Fields(s) {
			k, err := signature.ParsePublicKey(f)
			if err != nil {
				return nil, fmt.Errorf("trusted public key %q is not in Nix's name:base64 ed25519 format\n%w", f, err)
			}
			out = append(out, k)
		}
	}
	return out, nil
}

// Signed reports whether one of sigs ("name:base64") is a signature by one
// of the keys over fingerprint: narinfos and other records are checked alike.
func (keys PublicKeys) Signed(fingerprint string, sigs []string) bool {
	for _, s := range sigs {
		sig, err := signature.ParseSignature(s)
		if err != nil {
			continue
		}
		for _, k := range keys {
			if k.Verify(fingerprint, sig) {
				return true
			}
		}
	}
	return false
}

// SignerNames are the key names of signatures ("name:base64"), for messages.
func SignerNames(sigs []string) []string {
	var names []string
	for _, s := range sigs {
		name, _, _ := strings.Cut(s, ":")
		names = append(names, name)
	}
	return names
}
