package backend

import (
	"encoding/hex"
	"fmt"
	"regexp"
	"strings"

	"github.com/nix-community/go-nix/pkg/nixbase32"
)

// An OCI cache keeps the binary cache layout in one repository:
//
//	nix-cache-info               tag nix-cache-info
//	<hash>.narinfo               tag <hash>.narinfo
//	nixbp/source/<digest>.json   tag nixbp-source-<digest>
//	nar/<filehash>.<ext>         blob sha256:<filehash in hex>
//
// A tag names a manifest whose config blob is the object's text (narinfo,
// nix-cache-info, source pointer) and whose one layer is the narinfo's NAR
// (or image layer), or the empty blob: a lookup by store hash is one
// manifest GET, the blob stays referenced (no registry garbage collection
// removes it) and the NAR is a blob like any layer, which a registry can
// mount into another repository.

// OCI media types of the cache's manifests' config blobs (their artifact
// type), and of NARs.
const (
	narinfoMediaType   = "application/vnd.nix-buildpack.narinfo.v1"
	cacheInfoMediaType = "application/vnd.nix-buildpack.nix-cache-info.v1"
	pointerMediaType   = "application/vnd.nix-buildpack.source-pointer.v1+json"
	narMediaType       = "application/vnd.nix-buildpack.nar.v1"
	ociLayerMediaType  = "application/vnd.oci.image.layer.v1.tar+gzip"
	emptyMediaType     = "application/vnd.oci.empty.v1+json"
	ociManifestType    = "application/vnd.oci.image.manifest.v1+json"
)

// emptyBlob is the OCI empty descriptor's content: the layer of a manifest
// whose config is all there is (OCI image spec 1.1, "Guidance for an Empty
// Descriptor").
var emptyBlob = []byte("{}")

// ociKey is where a cache key lives in a repository: a tag (with the media
// type its manifest's config must have) or a blob.
type ociKey struct {
	tag, configType string
	blob            string // sha256:<hex>
}

var (
	narinfoKey = regexp.MustCompile(`^[0-9a-df-np-sv-z]{32}\.narinfo$`)
	pointerKey = regexp.MustCompile(`^nixbp/source/([0-9a-f]{64})\.json$`)
	narKey     = regexp.MustCompile(`^nar/([0-9a-df-np-sv-z]{52})\.[a-z0-9.]+$`)
)

// parseOCIKey maps a cache key to its tag or blob.
func parseOCIKey(key string) (ociKey, error) {
	switch {
	case key == "nix-cache-info":
		return ociKey{tag: key, configType: cacheInfoMediaType}, nil
	case narinfoKey.MatchString(key):
		return ociKey{tag: key, configType: narinfoMediaType}, nil
	}
	if m := pointerKey.FindStringSubmatch(key); m != nil {
		return ociKey{tag: "nixbp-source-" + m[1], configType: pointerMediaType}, nil
	}
	if m := narKey.FindStringSubmatch(key); m != nil {
		sum, err := nixbase32.DecodeString(m[1])
		if err == nil && len(sum) == 32 {
			return ociKey{blob: "sha256:" + hex.EncodeToString(sum)}, nil
		}
	}
	return ociKey{}, Permanentf("%s has no place in an OCI cache: NARs are named by their SHA-256 (nar/<file hash>.<extension>)", key)
}

// keyOfTag is the cache key a tag holds, "" for a tag that is not a cache
// key at the top level (pointers, the app's own tags).
func keyOfTag(tag string) string {
	if tag == "nix-cache-info" || narinfoKey.MatchString(tag) {
		return tag
	}
	return ""
}

// narMediaTypeOf is the media type a NAR blob is described with in its
// narinfo's manifest: an image layer's own when it is one (then the
// exporter's manifest and ours describe the same blob alike), else the NAR
// type with its compression.
func narMediaTypeOf(compression string) string {
	switch compression {
	case "oci-layer+gzip":
		return ociLayerMediaType
	case "", "none":
		return narMediaType
	}
	return narMediaType + "+" + compression
}

// narinfoFields reads what the manifest needs from a narinfo's text: its
// store path, NAR URL, compression and file size.
func narinfoFields(text string) (storePath, url, compression string, size int64, err error) {
	for _, line := range strings.Split(text, "\n") {
		k, v, ok := strings.Cut(line, ": ")
		if !ok {
			continue
		}
		switch k {
		case "StorePath":
			storePath = v
		case "URL":
			url = v
		case "Compression":
			compression = v
		case "FileSize":
			_, err = fmt.Sscanf(v, "%d", &size)
		}
	}
	if err != nil || url == "" || size <= 0 {
		return "", "", "", 0, Permanentf("an OCI cache needs a narinfo with URL and FileSize (got URL %q, FileSize %d)", url, size)
	}
	return storePath, url, compression, size, nil
}
