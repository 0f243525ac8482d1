package backend

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/google/go-containerregistry/pkg/authn"
	"github.com/google/go-containerregistry/pkg/name"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/remote"
	"github.com/google/go-containerregistry/pkg/v1/types"

	"github.com/nix-buildpack/nix-buildpack/internal/settings"
)

// ociBackend keeps a cache in one repository of an OCI registry
// (oci://host/repository): see ocikey.go for the layout.
type ociBackend struct {
	repo      name.Repository
	puller    *remote.Puller
	pusher    *remote.Pusher
	keychain  authn.Keychain
	transport http.RoundTripper
	mountMu   sync.Mutex
	mounters  map[string]http.RoundTripper
}

// blobHomes remembers, for this process, a repository where each blob was
// seen (read, found or written), so that writing it to another repository
// of the same registry mounts it from there instead of sending it again: a
// store path restored from app A's cache and pushed to app B's costs no
// bytes where the registry mounts across repositories.
var blobHomes sync.Map // registry + "@" + digest -> name.Repository

// newOCIBackend reads an oci:// URL: oci://host[:port]/repository, with
// insecure=true for a registry spoken to over plain HTTP (loopback and
// private addresses are by default, as go-containerregistry does).
func newOCIBackend(u *url.URL, redacted string, params *Params, creds *settings.Credentials) (*ociBackend, error) {
	if u.User != nil {
		return nil, fmt.Errorf("cache URL %s: registry credentials do not go in the URL; give them in a %s binding (config.json), CNB_REGISTRY_AUTH or a docker config", redacted, "nix-cache")
	}
	path := strings.Trim(u.Path, "/")
	if u.Host == "" || path == "" {
		return nil, fmt.Errorf("cache URL %s: expected oci://registry/repository", redacted)
	}
	if strings.ContainsAny(path, ":@") {
		return nil, fmt.Errorf("cache URL %s: expected a repository, without a tag or digest: the cache keeps its own tags", redacted)
	}
	var opts []name.Option
	switch v := params.Take("insecure"); v {
	case "", "false":
	case "true":
		opts = append(opts, name.Insecure)
	default:
		return nil, fmt.Errorf("cache URL %s: insecure must be true or false, got %q", redacted, v)
	}
	repo, err := name.NewRepository(u.Host+"/"+path, opts...)
	if err != nil {
		return nil, fmt.Errorf("cache URL %s: not a repository: %v", redacted, err)
	}
	t := remote.DefaultTransport.(*http.Transport).Clone()
	t.MaxIdleConnsPerHost = 64
	t.ResponseHeaderTimeout = time.Minute
	t.ReadBufferSize = 256 << 10
	kc := keychain(creds)
	ropts := []remote.Option{
		remote.WithAuthFromKeychain(kc),
		remote.WithTransport(t),
		remote.WithUserAgent("nix-buildpack"),
		// Retries are the cache's (retrier), as for the other transports.
		remote.WithRetryBackoff(remote.Backoff{Duration: time.Second, Factor: 1, Steps: 1}),
	}
	b := &ociBackend{repo: repo, keychain: kc, transport: t}
	if b.puller, err = remote.NewPuller(ropts...); err != nil {
		return nil, err
	}
	if b.pusher, err = remote.NewPusher(ropts...); err != nil {
		return nil, err
	}
	return b, nil
}

func (b *ociBackend) Get(ctx context.Context, key string) (io.ReadCloser, error) {
	k, err := parseOCIKey(key)
	if err != nil {
		return nil, err
	}
	if k.blob != "" {
		return b.blob(ctx, k.blob, key)
	}
	desc, err := b.puller.Get(ctx, b.repo.Tag(k.tag))
	if err != nil {
		return nil, b.classify("GET", key, err)
	}
	m, err := v1.ParseManifest(bytes.NewReader(desc.Manifest))
	if err != nil || string(m.Config.MediaType) != k.configType {
		got := "not an OCI image manifest"
		if err == nil {
			got = "its config is " + string(m.Config.MediaType)
		}
		return nil, Permanentf("%s: tag %s in %s is not this cache's (%s, expected %s)", key, k.tag, b.repo, got, k.configType)
	}
	if m.Config.Size > 8<<20 {
		return nil, Permanentf("%s: tag %s in %s has a config of %d bytes; a cache entry is small", key, k.tag, b.repo, m.Config.Size)
	}
	return b.blob(ctx, m.Config.Digest.String(), key)
}

// blob opens a blob; reading it checks its digest at the end, and a
// mismatch is permanent (the blob is corrupt, not the connection). A blob
// read whole with its digest checked is remembered (remember), so that only
// blobs this process verified are mounted elsewhere.
func (b *ociBackend) blob(ctx context.Context, digest, key string) (io.ReadCloser, error) {
	l, err := b.puller.Layer(ctx, b.repo.Digest(digest))
	if err != nil {
		return nil, b.classify("GET", key, err)
	}
	rc, err := l.Compressed()
	if err != nil {
		return nil, b.classify("GET", key, err)
	}
	return &verifiedBody{ReadCloser: rc, key: key, verified: func() { b.remember(digest) }}, nil
}

func (b *ociBackend) Exists(ctx context.Context, key string) (bool, error) {
	k, err := parseOCIKey(key)
	if err != nil {
		return false, err
	}
	if k.tag != "" {
		_, err = b.puller.Head(ctx, b.repo.Tag(k.tag))
	} else if err = b.blobExists(ctx, k.blob); err == ErrNotFound && b.mount(ctx, k.blob) {
		err = nil
	}
	if err == nil {
		return true, nil
	}
	if err = b.classify("HEAD", key, err); err == ErrNotFound {
		return false, nil
	}
	return false, err
}

func (b *ociBackend) blobExists(ctx context.Context, digest string) error {
	l, err := b.puller.Layer(ctx, b.repo.Digest(digest))
	if err != nil {
		return err
	}
	ok, err := l.(interface{ Exists() (bool, error) }).Exists()
	if err != nil {
		return err
	}
	if !ok {
		return ErrNotFound
	}
	return nil
}

func (b *ociBackend) Put(ctx context.Context, key string, body io.ReadSeeker, size int64, contentType string) error {
	k, err := parseOCIKey(key)
	if err != nil {
		return err
	}
	if k.blob != "" {
		return b.upload(ctx, key, &blobLayer{digest: k.blob, size: size, mediaType: contentType, body: body})
	}
	text, err := io.ReadAll(io.LimitReader(body, 8<<20))
	if err != nil {
		return Permanent(err)
	}
	return b.putEntry(ctx, key, k, text)
}

// putEntry uploads text as a config blob and tags a manifest of it: with
// the narinfo's NAR as its layer, or the empty blob.
func (b *ociBackend) putEntry(ctx context.Context, key string, k ociKey, text []byte) error {
	config := &blobLayer{size: int64(len(text)), mediaType: k.configType, body: bytes.NewReader(text)}
	config.digest = sha256Digest(text)
	if err := b.upload(ctx, key, config); err != nil {
		return err
	}
	m := ociManifest{SchemaVersion: 2, MediaType: ociManifestType,
		Config: descriptor{MediaType: k.configType, Digest: config.digest, Size: config.size}}
	if k.configType == narinfoMediaType {
		storePath, u, compression, size, err := narinfoFields(string(text))
		if err != nil {
			return err
		}
		nar, err := parseOCIKey(u)
		if err != nil || nar.blob == "" {
			return Permanentf("%s: its URL %s does not name a NAR by its SHA-256", key, u)
		}
		m.Layers = []descriptor{{MediaType: narMediaTypeOf(compression), Digest: nar.blob, Size: size}}
		if i := strings.LastIndexByte(storePath, '/'); i >= 0 {
			m.Annotations = map[string]string{"org.opencontainers.image.title": storePath[i+1:]}
		}
	} else {
		empty := &blobLayer{digest: sha256Digest(emptyBlob), size: int64(len(emptyBlob)), mediaType: emptyMediaType, body: bytes.NewReader(emptyBlob)}
		if err := b.upload(ctx, key, empty); err != nil {
			return err
		}
		m.Layers = []descriptor{{MediaType: emptyMediaType, Digest: empty.digest, Size: empty.size}}
	}
	raw, err := json.Marshal(m)
	if err != nil {
		return Permanent(err)
	}
	if err := b.pusher.Put(ctx, b.repo.Tag(k.tag), rawManifest(raw)); err != nil {
		return b.classify("PUT", key, err)
	}
	return nil
}

// upload sends a blob unless the repository has it.
func (b *ociBackend) upload(ctx context.Context, key string, l *blobLayer) error {
	if _, err := l.body.Seek(0, io.SeekStart); err != nil {
		return Permanent(err)
	}
	if err := b.pusher.Upload(ctx, b.repo, l); err != nil {
		return b.classify("PUT", key, err)
	}
	b.remember(l.digest)
	return nil
}

// remember notes that this repository holds digest (which this process
// sent, or read whole and checked), unless another repository of the same
// registry was noted first.
func (b *ociBackend) remember(digest string) {
	blobHomes.LoadOrStore(b.repo.RegistryStr()+"@"+digest, b.repo)
}

func (b *ociBackend) List(ctx context.Context, fn func(key string) error) error {
	tags, err := b.puller.List(ctx, b.repo)
	if err != nil {
		if err = b.classify("LIST", b.repo.String(), err); err == ErrNotFound {
			return nil
		}
		return err
	}
	for _, t := range tags {
		if k := keyOfTag(t); k != "" {
			if err := fn(k); err != nil {
				return err
			}
		}
	}
	return nil
}

// ociManifest is an OCI image manifest as the cache writes it: an
// artifact named by its config's media type (the OCI image spec's artifact
// guidance), without the 1.1 artifactType field, which older registries
// may not take.
type ociManifest struct {
	SchemaVersion int               `json:"schemaVersion"`
	MediaType     string            `json:"mediaType"`
	Config        descriptor        `json:"config"`
	Layers        []descriptor      `json:"layers"`
	Annotations   map[string]string `json:"annotations,omitempty"`
}

type descriptor struct {
	MediaType string `json:"mediaType"`
	Digest    string `json:"digest"`
	Size      int64  `json:"size"`
}

// rawManifest is a manifest to tag, as go-containerregistry takes it.
type rawManifest []byte

func (m rawManifest) RawManifest() ([]byte, error)        { return m, nil }
func (m rawManifest) MediaType() (types.MediaType, error) { return ociManifestType, nil }

// blobLayer is a blob to upload, as go-containerregistry takes a layer:
// its digest is known, its body read from the start.
type blobLayer struct {
	digest    string
	size      int64
	mediaType string
	body      io.ReadSeeker
}

func (l *blobLayer) Digest() (v1.Hash, error)            { return v1.NewHash(l.digest) }
func (l *blobLayer) DiffID() (v1.Hash, error)            { return v1.NewHash(l.digest) }
func (l *blobLayer) Size() (int64, error)                { return l.size, nil }
func (l *blobLayer) MediaType() (types.MediaType, error) { return types.MediaType(l.mediaType), nil }
func (l *blobLayer) Compressed() (io.ReadCloser, error)  { return io.NopCloser(l.body), nil }
func (l *blobLayer) Uncompressed() (io.ReadCloser, error) {
	return nil, errors.New("a cache blob is sent as it is")
}

func sha256Digest(data []byte) string {
	h, _, _ := v1.SHA256(bytes.NewReader(data))
	return h.String()
}

// verifiedBody turns go-containerregistry's digest check at the end of a
// blob into a permanent error (the blob is corrupt, not the connection),
// and calls verified once the whole blob was read and matched its digest.
// A reader that stops at the end of what it parses (a NAR, a gzip stream)
// may not have seen the end: Close reads on for up to 64 KiB to see it.
type verifiedBody struct {
	io.ReadCloser
	key      string
	verified func()
	eof, bad bool
}

func (v *verifiedBody) Read(p []byte) (int, error) {
	n, err := v.ReadCloser.Read(p)
	switch {
	case err == io.EOF:
		if !v.eof && !v.bad {
			v.eof = true
			v.verified()
		}
	case err != nil:
		v.bad = true
		if strings.Contains(err.Error(), "error verifying") {
			err = Permanentf("%s: the registry's blob does not match its digest: %v", v.key, err)
		}
	}
	return n, err
}

func (v *verifiedBody) Close() error {
	if !v.eof && !v.bad {
		_, _ = io.Copy(io.Discard, io.LimitReader(v, 64<<10))
	}
	return v.ReadCloser.Close()
}

// errStatus is an HTTP status a registry answered, for messages.
func errStatus(code int) string { return strconv.Itoa(code) + " " + http.StatusText(code) }
