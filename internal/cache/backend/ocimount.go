package backend

import (
	"context"
	"net/http"
	"net/url"

	"github.com/google/go-containerregistry/pkg/authn"
	"github.com/google/go-containerregistry/pkg/name"
	"github.com/google/go-containerregistry/pkg/v1/remote/transport"
)

// mount links a blob this process saw in another repository of the same
// registry into this one (the distribution API's cross-repository blob
// mount: POST .../blobs/uploads/?mount=<digest>&from=<repository>), and
// reports whether the registry did. Exists answers true for a mounted
// blob, so the cache protocol sends nothing: a store path app B restored
// from app A's cache costs B's cache no bytes. A registry that does not
// mount (or a repository the credentials cannot read) answers with an
// upload session instead, which is cancelled; the blob is then uploaded.
func (b *ociBackend) mount(ctx context.Context, digest string) bool {
	home, ok := blobHomes.Load(b.repo.RegistryStr() + "@" + digest)
	if !ok {
		return false
	}
	from := home.(name.Repository)
	if from.RepositoryStr() == b.repo.RepositoryStr() {
		return false
	}
	rt, err := b.mounter(ctx, from)
	if err != nil {
		return false
	}
	u := url.URL{Scheme: b.repo.Scheme(), Host: b.repo.RegistryStr(), Path: "/v2/" + b.repo.RepositoryStr() + "/blobs/uploads/",
		RawQuery: url.Values{"mount": {digest}, "from": {from.RepositoryStr()}}.Encode()}
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, u.String(), nil)
	if err != nil {
		return false
	}
	client := &http.Client{Transport: rt}
	resp, err := client.Do(req)
	if err != nil {
		return false
	}
	resp.Body.Close()
	if resp.StatusCode == http.StatusCreated {
		b.remember(digest)
		return true
	}
	if loc, err := resp.Location(); err == nil && resp.StatusCode == http.StatusAccepted {
		if del, err := http.NewRequestWithContext(ctx, http.MethodDelete, loc.String(), nil); err == nil {
			if r, err := client.Do(del); err == nil {
				r.Body.Close()
			}
		}
	}
	return false
}

// mounter is an authenticated transport allowed to push to this repository
// and pull from from, made once per source repository (a bearer token
// each).
func (b *ociBackend) mounter(ctx context.Context, from name.Repository) (http.RoundTripper, error) {
	b.mountMu.Lock()
	defer b.mountMu.Unlock()
	if rt, ok := b.mounters[from.String()]; ok {
		return rt, nil
	}
	auth, err := authn.Resolve(ctx, b.keychain, b.repo)
	if err != nil {
		return nil, err
	}
	rt, err := transport.NewWithContext(ctx, b.repo.Registry, auth, b.transport,
		[]string{b.repo.Scope(transport.PushScope), from.Scope(transport.PullScope)})
	if err != nil {
		return nil, err
	}
	if b.mounters == nil {
		b.mounters = map[string]http.RoundTripper{}
	}
	b.mounters[from.String()] = rt
	return rt, nil
}
