package backend

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"net/url"
	"os"
	"strings"

	"github.com/google/go-containerregistry/pkg/authn"
	"github.com/google/go-containerregistry/pkg/v1/remote/transport"

	"github.com/nix-buildpack/nix-buildpack/internal/settings"
)

// RegistryAuthEnv is the CNB platform's registry credentials variable
// (JSON: registry -> "Basic <base64 user:password>" or "Bearer <token>").
// The lifecycle does not pass it to buildpacks; the nixbp CLI and a
// platform that puts it in the build's environment do.
const RegistryAuthEnv = "CNB_REGISTRY_AUTH"

// keychain is where an OCI cache finds its registry credentials, first
// match wins: a nix-cache binding's docker config, CNB_REGISTRY_AUTH, the
// docker config ($DOCKER_CONFIG, ~/.docker/config.json, credential
// helpers, as docker and the lifecycle read it), else anonymous.
func keychain(creds *settings.Credentials) authn.Keychain {
	var kcs []authn.Keychain
	if creds != nil && creds.DockerConfig != "" {
		kcs = append(kcs, dockerConfigKeychain(creds.DockerConfig))
	}
	if v := os.Getenv(RegistryAuthEnv); v != "" {
		kcs = append(kcs, registryAuthKeychain(v))
	}
	return authn.NewMultiKeychain(append(kcs, authn.DefaultKeychain)...)
}

// dockerConfigKeychain answers from a docker config.json's "auths" (a
// Kubernetes kubernetes.io/dockerconfigjson Secret's .dockerconfigjson is
// the same), keyed by registry host with or without a scheme or path.
type dockerConfigKeychain string

func (k dockerConfigKeychain) Resolve(r authn.Resource) (authn.Authenticator, error) {
	var cfg struct {
		Auths map[string]authn.AuthConfig `json:"auths"`
	}
	if err := json.Unmarshal([]byte(k), &cfg); err != nil {
		return nil, errors.New("the nix-cache binding's docker config is not JSON; expected {\"auths\": {\"registry\": {\"auth\": \"base64(user:password)\"}}}")
	}
	for host, a := range cfg.Auths {
		if registryHost(host) == r.RegistryStr() {
			return authn.FromConfig(a), nil
		}
	}
	return authn.Anonymous, nil
}

// registryAuthKeychain answers from CNB_REGISTRY_AUTH's JSON.
type registryAuthKeychain string

func (k registryAuthKeychain) Resolve(r authn.Resource) (authn.Authenticator, error) {
	var m map[string]string
	if err := json.Unmarshal([]byte(k), &m); err != nil {
		return nil, fmt.Errorf("%s is not JSON; expected {\"registry\": \"Basic base64(user:password)\"}", RegistryAuthEnv)
	}
	for host, h := range m {
		if registryHost(host) != r.RegistryStr() {
			continue
		}
		scheme, value, _ := strings.Cut(strings.TrimSpace(h), " ")
		switch strings.ToLower(scheme) {
		case "basic":
			if _, err := base64.StdEncoding.DecodeString(value); err != nil {
				return nil, fmt.Errorf("%s: the value for %s is not Basic base64(user:password)", RegistryAuthEnv, host)
			}
			return authn.FromConfig(authn.AuthConfig{Auth: value}), nil
		case "bearer":
			return authn.FromConfig(authn.AuthConfig{RegistryToken: value}), nil
		}
		return nil, fmt.Errorf("%s: the value for %s must start with Basic or Bearer", RegistryAuthEnv, host)
	}
	return authn.Anonymous, nil
}

// registryHost is the host[:port] of a docker config key ("ghcr.io",
// "https://ghcr.io", "https://index.docker.io/v1/").
func registryHost(key string) string {
	if u, err := url.Parse(key); err == nil && u.Host != "" {
		key = u.Host
	}
	key, _, _ = strings.Cut(key, "/")
	if key == "docker.io" || key == "registry-1.docker.io" {
		return "index.docker.io"
	}
	return key
}

// classify turns a registry error into the backend error kinds. The
// messages go-containerregistry makes carry the method, the URL (without
// credentials, which never go in it) and the registry's error codes.
func (b *ociBackend) classify(op, key string, err error) error {
	if errors.Is(err, context.Canceled) || errors.Is(err, context.DeadlineExceeded) || errors.Is(err, ErrNotFound) {
		return err
	}
	var p *PermanentError
	if errors.As(err, &p) {
		return err
	}
	where := fmt.Sprintf("%s %s in %s", op, key, b.repo)
	var te *transport.Error
	if !errors.As(err, &te) {
		var ne net.Error
		if errors.As(err, &ne) || errors.Is(err, net.ErrClosed) {
			return fmt.Errorf("%s: %w", where, err)
		}
		if strings.Contains(err.Error(), "error verifying") {
			return Permanentf("%s: the registry's blob does not match its digest: %v", where, err)
		}
		return fmt.Errorf("%s: %w", where, err)
	}
	codes := map[transport.ErrorCode]bool{}
	for _, d := range te.Errors {
		codes[d.Code] = true
	}
	switch {
	case codes[transport.ManifestUnknownErrorCode] || codes[transport.BlobUnknownErrorCode] ||
		codes[transport.NameUnknownErrorCode] || te.StatusCode == 404:
		return ErrNotFound
	case codes[transport.UnauthorizedErrorCode] || codes[transport.DeniedErrorCode] || te.StatusCode == 401 || te.StatusCode == 403:
		return Permanentf("%s: access denied (%s); check the registry credentials (a nix-cache binding's config.json, %s or the docker config) and their permissions on %s",
			where, errStatus(te.StatusCode), RegistryAuthEnv, b.repo)
	case te.StatusCode == 429 || te.StatusCode == 408 || te.StatusCode >= 500 || te.Temporary():
		return fmt.Errorf("%s: %w", where, err)
	}
	return Permanentf("%s: %v", where, err)
}
