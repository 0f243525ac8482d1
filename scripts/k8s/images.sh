#!/usr/bin/env bash
# Makes every image the test cluster pulls, as a registry storage directory
# (distribution's filesystem layout) that scripts/k8s/node.sh copies into the
# cluster's registry, and the Tekton and kpack release manifests pointing at
# them. No registry outside this machine is reachable, so each image is made
# here with crane from files of this machine or binaries of
# scripts/k8s/tools.sh:
#   pause:3.10                    the pod sandbox
#   busybox:latest                Tekton's shell image (its place-scripts step)
#   bash:5                        the catalog buildpacks task's prepare and results steps
#   tekton/<cmd>:v<version>       controller, webhook and the TaskRun pods' helpers (as ko lays them out)
#   kpack/<cmd>:v<version>        controller, webhook and the build pods' steps (as kpack's release does)
#   kpack/lifecycle:<version>     the CNB lifecycle for kpack's ClusterLifecycle
#   nixbp/build:busybox           CNB build image: busybox, proot, user cnb (1000:1000)
#   nixbp/run:busybox             CNB run image: the same without the Nix build hook
# The result is keyed by a digest of its inputs and made once.
# Usage: scripts/k8s/images.sh   (prints the directory)
set -euo pipefail
root="$(cd "$(dirname "$0")/../.." && pwd)"
tools="${NIXBP_TOOLS_DIR:-$root/.tools}"
. "$root/scripts/k8s/env.sh"
if [ "${1:-}" != --in-netns ]; then
  for t in crane pause tekton kpack; do "$root/scripts/k8s/tools.sh" "$t"; done
  "$root/scripts/tools.sh" registry
  "$root/scripts/tools.sh" lifecycle
fi

crane="$tools/bin/crane-$CRANE_VERSION"
lifecycle="$tools/lifecycle-0.21.14"
libs() { ldd "$1" | awk '/=> \//{print $3} /^\t\/.*ld-linux/{print $1}'; }
proot_files=("$(command -v proot)" $(libs "$(command -v proot)"))
bash_files=(/bin/bash $(libs /bin/bash))
recipe="$(cat "$0" "$root/scripts/k8s/env.sh" /bin/busybox "${bash_files[@]}" "${proot_files[@]}" \
  "$tools/bin/pause-$PAUSE_VERSION" "$lifecycle/lifecycle" | sha256sum | cut -c1-16)"
out="$tools/k8s-images-$recipe"
work="$out.tmp/img"

# busybox_root DIR: busybox with its applets as links, /tmp, root in passwd.
busybox_root() {
  mkdir -p "$1"/{bin,etc,tmp}
  cp /bin/busybox "$1/bin/busybox"
  local a
  for a in $(/bin/busybox --list); do [ "$a" = busybox ] || ln -sf busybox "$1/bin/$a"; done
  chmod 1777 "$1/tmp"
  printf 'root:x:0:0:root:/root:/bin/sh\n' > "$1/etc/passwd"
  printf 'root:x:0:\n' > "$1/etc/group"
}

# copy_files DIR FILE...: files of this machine at their own paths under DIR.
copy_files() {
  local d="$1" f; shift
  for f in "$@"; do mkdir -p "$d$(dirname "$f")" && cp -L "$f" "$d$f"; done
}

# layer DIR: DIR as a tarball beside it, owned by root unless DIR says otherwise.
layer() { tar -C "$1" --numeric-owner -cf "$1.tar" . && echo "$1.tar"; }

# image NAME TAR... [-- crane mutate flags]: an image of those layers, pushed.
image() {
  local name="$1" files=(); shift
  while [ $# -gt 0 ] && [ "$1" != -- ]; do files+=(-f "$1"); shift; done
  [ "${1:-}" = -- ] && shift
  { "$crane" append --insecure "${files[@]}" -t "$reg/$name" &&
    "$crane" mutate --insecure "$reg/$name" --set-platform linux/amd64 "$@" -t "$reg/$name"; } >/dev/null 2>>"$out.tmp/crane.log" ||
    { tail -5 "$out.tmp/crane.log" >&2; echo "k8s/images.sh: making $name failed" >&2; exit 1; }
}

# A base as ko's default (distroless static): passwd with nonroot 65532, CA
# certificates, /tmp.
static_base() {
  local d="$work/static"
  mkdir -p "$d/etc/ssl/certs" "$d/tmp" "$d/home/nonroot"
  printf 'root:x:0:0:root:/root:/sbin/nologin\nnonroot:x:65532:65532:nonroot:/home/nonroot:/sbin/nologin\n' > "$d/etc/passwd"
  printf 'root:x:0:\nnonroot:x:65532:\n' > "$d/etc/group"
  cp /etc/ssl/certs/ca-certificates.crt "$d/etc/ssl/certs/"
  chmod 1777 "$d/tmp" && chown 65532:65532 "$d/home/nonroot"
  layer "$d" >/dev/null
}

# cnb_root DIR [build-hook]: the busybox CNB base, as scripts/docker/images.sh
# makes it for Docker: user cnb 1000:1000, proot on PATH. The Nix tarball
# fixture's build hook is /usr/libexec/nix/build-remote (see there).
cnb_root() {
  local d="$1"
  busybox_root "$d"
  mkdir -p "$d/home/cnb" && chown 1000:1000 "$d/home/cnb"
  printf 'root:x:0:0:root:/root:/bin/sh\ncnb:x:1000:1000:cnb:/home/cnb:/bin/sh\n' > "$d/etc/passwd"
  printf 'root:x:0:\ncnb:x:1000:\n' > "$d/etc/group"
  copy_files "$d" "${proot_files[@]}"
  if [ "${2:-}" = build-hook ]; then mkdir -p "$d/usr/libexec/nix" && ln -s /proc/self/exe "$d/usr/libexec/nix/build-remote"; fi
  layer "$d"
}

push_all() {
  local d c
  d="$work/pause"; mkdir -p "$d" && cp "$tools/bin/pause-$PAUSE_VERSION" "$d/pause"
  image "pause:$PAUSE_VERSION" "$(layer "$d")" -- --entrypoint /pause --user 65535:65535

  d="$work/busybox"; busybox_root "$d"
  image busybox:latest "$(layer "$d")" -- --entrypoint /bin/sh -e PATH=/bin

  # The catalog task's steps run `#!/usr/bin/env bash` scripts.
  d="$work/bash"; busybox_root "$d"; copy_files "$d" "${bash_files[@]}"
  mkdir -p "$d/usr/bin" && ln -sf /bin/busybox "$d/usr/bin/env"
  image bash:5 "$(layer "$d")" -- --entrypoint /bin/bash -e PATH=/usr/bin:/bin

  static_base
  local tekton="$tools/tekton-$TEKTON_VERSION"
  for c in $(ls "$tekton/bin"); do
    d="$work/tekton-$c"; mkdir -p "$d/ko-app" "$d/var/run/ko"
    cp "$tekton/bin/$c" "$d/ko-app/$c"
    [ -d "$tekton/kodata/$c" ] && cp -r "$tekton/kodata/$c/." "$d/var/run/ko/"
    image "tekton/$c:v$TEKTON_VERSION" "$work/static.tar" "$(layer "$d")" -- --entrypoint "/ko-app/$c" --user 65532 \
      -e KO_DATA_PATH=/var/run/ko -e PATH=/usr/local/bin:/usr/bin:/bin:/ko-app -e SSL_CERT_FILE=/etc/ssl/certs/ca-certificates.crt
  done
  local kpack="$tools/kpack-$KPACK_VERSION"
  for c in $(ls "$kpack/bin"); do
    d="$work/kpack-$c"; mkdir -p "$d/cnb/process"
    cp "$kpack/bin/$c" "$d/cnb/process/$c"
    image "kpack/$c:v$KPACK_VERSION" "$work/static.tar" "$(layer "$d")" -- --entrypoint "/cnb/process/$c" --user 1000:1000 \
      -e PATH=/cnb/process:/usr/bin:/bin -e SSL_CERT_FILE=/etc/ssl/certs/ca-certificates.crt
  done
  # kpack reads the lifecycle's version and APIs from these two labels.
  d="$work/lifecycle"; mkdir -p "$d/cnb" && cp -a "$lifecycle" "$d/cnb/lifecycle"
  image kpack/lifecycle:0.21.14 "$(layer "$d")" -- \
    -l 'io.buildpacks.builder.metadata={"lifecycle":{"version":"0.21.14"},"api":{"buildpack":"0.7","platform":"0.7"}}' \
    -l 'io.buildpacks.lifecycle.apis={"buildpack":{"deprecated":[],"supported":["0.7","0.8","0.9","0.10","0.11","0.12"]},"platform":{"deprecated":[],"supported":["0.7","0.8","0.9","0.10","0.11","0.12","0.13","0.14","0.15"]}}'

  local cnb=(-e PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin -e CNB_USER_ID=1000 -e CNB_GROUP_ID=1000
    -e CNB_STACK_ID=io.nixbp.busybox -l io.buildpacks.stack.id=io.nixbp.busybox -l io.buildpacks.base.distro.name=busybox --user 1000:1000)
  image nixbp/build:busybox "$(cnb_root "$work/build" build-hook)" -- "${cnb[@]}"
  image nixbp/run:busybox "$(cnb_root "$work/run")" -- "${cnb[@]}"
}

# The release manifests, as `ko resolve` and kpack's ytt values make them.
manifests() {
  local tekton="$tools/tekton-$TEKTON_VERSION/config" kpack="$tools/kpack-$KPACK_VERSION/config" f
  mkdir -p "$out.tmp/tekton" "$out.tmp/kpack"
  (cd "$tekton" && find . -maxdepth 2 -name '*.yaml' ! -path './resolvers/*' ! -name events.yaml) | while read -r f; do
    mkdir -p "$out.tmp/tekton/$(dirname "$f")"
    sed -e "s#ko://github.com/tektoncd/pipeline/cmd/\([a-z]*\)#$REGISTRY/tekton/\1:v$TEKTON_VERSION#g" \
        -e "s#cgr.dev/chainguard/busybox@sha256:[0-9a-f]*#$REGISTRY/busybox:latest#" "$tekton/$f" > "$out.tmp/tekton/$f"
  done
  if grep -rn 'ko://\|cgr.dev' "$out.tmp/tekton" | grep -v '^[^:]*:[0-9]*: *#' >&2; then
    echo "k8s/images.sh: an image of Tekton's config is not ours" >&2; exit 1
  fi
  for f in "$kpack"/*.yaml; do
    [ "$(basename "$f")" = schema.yaml ] && continue
    sed -E -e "s%#@ data.values.kpack_version%v$KPACK_VERSION%" \
      -e "s%#@ data.values.lifecycle.image%$REGISTRY/kpack/lifecycle:0.21.14%" \
      -e "s%#@ data.values.([a-z_]+).image%$REGISTRY/kpack/\1:v$KPACK_VERSION%" \
      -e 's%kpack/build_init:%kpack/build-init:%; s%kpack/build_waiter:%kpack/build-waiter:%' "$f" > "$out.tmp/kpack/$(basename "$f")"
  done
  if grep -n 'data.values' "$out.tmp/kpack"/*.yaml | grep -v '@ load' >&2; then
    echo "k8s/images.sh: a ytt value of kpack's config is left" >&2; exit 1
  fi
}

# A registry of our own on loopback in a network namespace of its own, for
# the time of the pushes: its storage is the result.
if [ "${1:-}" != --in-netns ]; then
  if [ ! -f "$out/.done" ]; then
    rm -rf "$out.tmp" && mkdir -p "$work"
    unshare --net "$0" --in-netns
    touch "$out.tmp/.done"
    rm -rf "$out" && mv "$out.tmp" "$out"
  fi
  echo "$out"
  exit 0
fi
ip link set lo up
reg=127.0.0.1:5000
cat > "$out.tmp/registry.yml" <<EOF
version: 0.1
log: {level: warn, accesslog: {disabled: true}}
storage: {filesystem: {rootdirectory: $out.tmp/storage}}
http: {addr: $reg}
EOF
"$tools/bin/registry" serve "$out.tmp/registry.yml" > "$out.tmp/registry.log" 2>&1 &
regpid=$!
trap 'kill $regpid 2>/dev/null || true' EXIT
for _ in $(seq 100); do "$crane" catalog --insecure "$reg" >/dev/null 2>&1 && break; sleep 0.1; done
push_all
manifests
kill $regpid; wait $regpid 2>/dev/null || true
rm -rf "$work" "$out.tmp/registry.yml" "$out.tmp/registry.log" "$out.tmp/crane.log"
