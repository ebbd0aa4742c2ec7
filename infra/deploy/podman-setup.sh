#!/usr/bin/env bash
# Sets up the podman path for `make deploy-test` on a machine with no Docker engine and no image
# registry (Debian bookworm, root): podman + runc from Debian's packages, Docker Compose v2 built
# from the Go module proxy, a python base image made with debootstrap and a local stand-in for
# apache/kafka. Idempotent: every step checks first; builds are cached under $DEPLOY_CACHE.
#   podman-setup.sh [all|engine|compose|images]    (docs/deploying.md)
# Settings (env): DEPLOY_CACHE (~/.cache/shopbox-rackbeat/deploy), COMPOSE_VERSION (pinned below),
#   GO (go >= 1.24; /usr/local/go/bin/go or go on PATH).
set -euo pipefail

here=$(cd "$(dirname "$0")" && pwd)
repo=$(cd "$here/../.." && pwd)
cache=${DEPLOY_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/shopbox-rackbeat/deploy}
compose_version=${COMPOSE_VERSION:-v2.40.3}
kafka_version=4.1.1
python_image=docker.io/library/python:3.11-slim-bookworm
kafka_image=docker.io/apache/kafka:$kafka_version

die() { echo "podman-setup: $*" >&2; exit 1; }
say() { echo "podman-setup: $*" >&2; }

# --- engine: packages and the settings this kind of machine needs -------------------------------
engine() {
  [ "$(id -u)" = 0 ] || die "the podman path needs root (it installs Debian packages); or start a Docker engine"
  local missing=()
  command -v podman >/dev/null || missing+=(podman)
  command -v runc >/dev/null || missing+=(runc)
  command -v debootstrap >/dev/null || missing+=(debootstrap)
  command -v nsenter >/dev/null || missing+=(util-linux)
  command -v ip >/dev/null || missing+=(iproute2)
  # Compose networks need container-name DNS: netavark + aardvark-dns (CNI has none without dnsname).
  [ -x /usr/lib/podman/netavark ] || missing+=(netavark)
  [ -x /usr/lib/podman/aardvark-dns ] || missing+=(aardvark-dns)
  command -v iptables >/dev/null || missing+=(iptables)
  if [ ${#missing[@]} -gt 0 ]; then
    command -v apt-get >/dev/null || die "apt-get is required to install ${missing[*]}"
    say "installing ${missing[*]} from Debian's packages"
    DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends "${missing[@]}" >/dev/null 2>&1 \
      || { apt-get update -q >/dev/null 2>&1 && DEBIAN_FRONTEND=noninteractive apt-get install -y -q \
           --no-install-recommends "${missing[@]}" >/dev/null; } || die "apt-get could not install ${missing[*]}"
  fi
  # crun cannot set rlimits here and does not support hybrid cgroups: runc, cgroupfs, fixed ulimits.
  local conf=/etc/containers/containers.conf marker="# shopbox-rackbeat deploy-test v2"
  if ! grep -qF "$marker" "$conf" 2>/dev/null; then
    mkdir -p /etc/containers
    [ -f "$conf" ] && [ ! -f "$conf.before-shopbox-rackbeat" ] && cp "$conf" "$conf.before-shopbox-rackbeat"
    cat >"$conf" <<EOF
$marker (infra/deploy/podman-setup.sh; the previous file, if any, is $conf.before-shopbox-rackbeat)
[containers]
default_ulimits = ["nofile=20000:20000", "nproc=32768:32768"]
[engine]
runtime = "runc"
cgroup_manager = "cgroupfs"
events_logger = "file"
[network]
network_backend = "netavark"
EOF
  fi
}

# --- compose: Docker Compose v2 from the Go module proxy, as a docker CLI plugin ----------------
go_tool() {
  local g
  for g in "${GO:-}" /usr/local/go/bin/go "$(command -v go || true)"; do
    [ -n "$g" ] && [ -x "$g" ] || continue
    "$g" version | grep -qE 'go1\.(2[4-9]|[3-9][0-9])' && { echo "$g"; return 0; }
  done
  return 1
}

compose_plugin() { echo "$cache/docker-config/cli-plugins/docker-compose"; }

compose() {
  local out; out=$(compose_plugin)
  [ -x "$out" ] && [ "$(cat "$out.version" 2>/dev/null)" = "$compose_version" ] && return 0
  local go; go=$(go_tool) || die "Go >= 1.24 is required to build Docker Compose $compose_version (set GO=...)"
  say "building Docker Compose $compose_version from the Go module proxy (a few minutes, once)"
  export GOMODCACHE=$cache/go/mod GOCACHE=$cache/go/build GOFLAGS=-mod=mod
  local dir
  dir=$("$go" mod download -json "github.com/docker/compose/v2@$compose_version" \
        | sed -n 's/^[[:space:]]*"Dir": "\(.*\)",*$/\1/p') || die "the Go module proxy did not serve compose $compose_version"
  [ -d "$dir" ] || die "go mod download gave no module directory for compose $compose_version"
  # The module cache is read-only and go install refuses a go.mod with exclude directives: build a copy.
  local src=$cache/go/compose-src
  rm -rf "$src" && cp -r "$dir" "$src" && chmod -R u+w "$src"
  mkdir -p "$(dirname "$out")"
  (cd "$src" && "$go" build -trimpath \
      -ldflags "-X github.com/docker/compose/v2/internal.Version=$compose_version" \
      -o "$out.tmp" ./cmd) || die "building Docker Compose failed"
  mv "$out.tmp" "$out" && echo "$compose_version" >"$out.version"
  rm -rf "$src"
}

# --- images: the official names, made locally ----------------------------------------------------
python_base() {
  podman image exists "$python_image" && return 0
  local rootfs=$cache/python-rootfs tarball=$cache/python-rootfs.tar
  if [ ! -f "$tarball" ]; then
    local mirror
    mirror=$(sed -n 's/^URIs: *\(http[^ ]*debian\)$/\1/p' /etc/apt/sources.list.d/*.sources 2>/dev/null | head -1)
    mirror=${mirror:-http://deb.debian.org/debian}
    say "making the python base image with debootstrap from $mirror (about a minute, once)"
    rm -rf "$rootfs" && mkdir -p "$rootfs"
    debootstrap --variant=minbase --include=python3.11,python3-venv,python3-pip,ca-certificates \
      bookworm "$rootfs" "$mirror" >"$cache/debootstrap.log" 2>&1 || die "debootstrap failed, see $cache/debootstrap.log"
    local b; for b in python3.11 python3 python; do ln -sf /usr/bin/python3.11 "$rootfs/usr/local/bin/$b"; done
    # This network intercepts TLS: pip inside a build trusts only the machine's CA bundle.
    cp /etc/ssl/certs/ca-certificates.crt "$rootfs/etc/ssl/certs/ca-certificates.crt"
    rm -rf "$rootfs/var/cache/apt/archives"/*.deb
    tar -C "$rootfs" -cf "$tarball.tmp" . && mv "$tarball.tmp" "$tarball" && rm -rf "$rootfs"
  fi
  podman import --change 'ENV PATH=/usr/local/bin:/usr/local/sbin:/usr/sbin:/usr/bin:/sbin:/bin' \
    --change 'ENV LANG=C.UTF-8' --change 'CMD ["python3"]' "$tarball" "$python_image" >/dev/null
}

kafka_standin() {
  podman image exists "$kafka_image" && return 0
  command -v mvn >/dev/null || die "Maven is required for the Kafka stand-in's jars: apt-get install maven"
  local ctx=$cache/kafka-image
  if [ ! -f "$ctx/libs/.complete" ]; then
    say "resolving the Kafka $kafka_version jars (broker and tools) from Maven Central"
    mkdir -p "$ctx/libs"
    mvn -B -q -f "$here/kafka-image/pom.xml" -Dkafka.version="$kafka_version" dependency:copy-dependencies \
      -DincludeScope=runtime -DoutputDirectory="$ctx/libs" || die "Maven could not resolve the Kafka jars"
    touch "$ctx/libs/.complete"
  fi
  cp "$here/kafka-image/Containerfile" "$here/kafka-image/run" "$here/kafka-image/tool.sh" \
     "$repo/infra/kafka/log4j2.properties" "$ctx/"
  say "building the local stand-in $kafka_image"
  podman build -q -t "$kafka_image" "$ctx" >/dev/null || die "building the Kafka stand-in image failed"
}

images() { python_base; kafka_standin; }

mkdir -p "$cache"
case "${1:-all}" in
  engine) engine ;;
  compose) compose ;;
  images) images ;;
  all) engine; compose; images ;;
  plugin-path) compose_plugin ;;
  *) die "usage: podman-setup.sh [all|engine|compose|images|plugin-path]" ;;
esac
