#!/usr/bin/env bash
# `make deploy-test`: builds the image of infra/Dockerfile and runs tests/deploy/ against the real
# compose deployment (infra/compose.yaml, demo profile). Uses a running Docker engine when there
# is one; otherwise sets up the podman path (infra/deploy/podman-setup.sh) and runs the engine in
# a private network namespace, so the stack's published ports (9092, 8001, ...) collide with
# nothing on the machine. Always removes what it started (containers, volume, network, the podman
# service, the health-check ticker, the namespace), also on Ctrl-C. docs/deploying.md.
# Settings (env): DEPLOY_ENGINE (auto | docker | podman), PYTEST_ARGS, PYTHON (the venv's python).
set -euo pipefail

here=$(cd "$(dirname "$0")" && pwd)
repo=$(cd "$here/../.." && pwd)
cd "$repo"
python=${PYTHON:-$repo/.venv/bin/python}
engine=${DEPLOY_ENGINE:-auto}
project=shopbox-rackbeat-deploytest
image=shopbox-rackbeat-sync:deploy-test
netns="" service_pid="" ticker_pid="" started=""

die() { echo "deploy-test: $*" >&2; exit 1; }
say() { echo "deploy-test: $*" >&2; }

# Everything the tests' `docker compose` needs: the project's files plus the test override
# (demo settings from compose.env.example, never a merchant's infra/compose.env).
export COMPOSE_PROJECT_NAME=$project
export COMPOSE_FILE=infra/compose.yaml:tests/deploy/compose.deploy-test.yaml
export COMPOSE_PROFILES=demo
export SYNC_IMAGE=$image
export DEPLOY_TEST=1

cleanup() {
  local rc=$?
  trap - EXIT INT TERM
  set +e
  if [ -n "$started" ]; then
    say "removing the stack (containers, network, volume)"
    docker compose down --volumes --remove-orphans --timeout 10 >/dev/null 2>&1
  fi
  if [ -n "$ticker_pid" ]; then kill "$ticker_pid" 2>/dev/null; wait "$ticker_pid" 2>/dev/null; fi
  if [ "$engine" = podman ] && command -v podman >/dev/null; then
    # Whatever compose could not remove (service already gone, Ctrl-C mid-way).
    local ids; ids=$(podman ps -aq --filter "label=com.docker.compose.project=$project")
    [ -n "$ids" ] && podman rm -f -t 5 $ids >/dev/null 2>&1
    podman volume ls -q --filter "label=com.docker.compose.project=$project" | xargs -r podman volume rm -f >/dev/null 2>&1
    podman network ls -q --filter "label=com.docker.compose.project=$project" | xargs -r podman network rm -f >/dev/null 2>&1
  fi
  if [ -n "$service_pid" ]; then kill "$service_pid" 2>/dev/null; wait "$service_pid" 2>/dev/null; fi
  [ -n "$netns" ] && ip netns del "$netns" 2>/dev/null
  [ -n "${sock_dir:-}" ] && rm -rf "$sock_dir"
  exit "$rc"
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

[ -x "$python" ] || die "the venv's python is missing ($python): run through make deploy-test"
command -v docker >/dev/null || die "the docker CLI is required (Debian: apt-get install docker.io, or docker-ce-cli)"

if [ "$engine" = auto ]; then
  if docker info >/dev/null 2>&1; then engine=docker; else engine=podman; fi
fi

start_podman() {
  "$here/podman-setup.sh" all
  DOCKER_CONFIG=$(dirname "$(dirname "$("$here/podman-setup.sh" plugin-path)")")
  export DOCKER_CONFIG
  # Built outside the namespace: inside it there is no network to reach PyPI.
  say "building $image from infra/Dockerfile"
  podman build -q -f infra/Dockerfile -t "$image" . >/dev/null || die "building infra/Dockerfile failed"
  netns=shopbox-deploytest-$$
  ip netns add "$netns" || die "cannot create a network namespace (ip netns add needs root)"
  ip netns exec "$netns" ip link set lo up
  sock_dir=$(mktemp -d /tmp/shopbox-deploytest.XXXXXX)
  export DOCKER_HOST=unix://$sock_dir/podman.sock
  # nsenter --net, not ip netns exec: the latter remounts /sys and runc then finds no cgroups.
  nsenter --net="/run/netns/$netns" podman system service --time=0 "$DOCKER_HOST" \
    >"$sock_dir/service.log" 2>&1 &
  service_pid=$!
  local deadline=$((SECONDS + 30))
  until docker info >/dev/null 2>&1; do
    [ $SECONDS -lt $deadline ] || die "the podman service did not answer (see $sock_dir/service.log)"
    kill -0 "$service_pid" 2>/dev/null || die "the podman service exited: $(tail -1 "$sock_dir/service.log")"
    sleep 0.5
  done
  # Podman runs health checks from systemd timers; with no systemd, this loop runs them.
  (while sleep 3; do
     for id in $(podman ps -q --filter "label=com.docker.compose.project=$project"); do
       podman healthcheck run "$id" >/dev/null 2>&1 || true
     done
   done) &
  ticker_pid=$!
}

case "$engine" in
  docker)
    say "using the running Docker engine"
    docker compose version >/dev/null 2>&1 || die "the Docker Compose v2 plugin is missing (docker compose version fails)"
    say "building $image from infra/Dockerfile"
    docker build -q -f infra/Dockerfile -t "$image" . >/dev/null || die "building infra/Dockerfile failed"
    # No namespace here: the published ports are the host's, so they must be free (Kafka's is
    # a variable of the compose file, the others are fixed there).
    export KAFKA_HOST_PORT=${KAFKA_HOST_PORT:-29092}
    for port in "$KAFKA_HOST_PORT" 8001 8003 8004 8080 8101 8102; do
      (exec 3<>"/dev/tcp/127.0.0.1/$port") 2>/dev/null && die "port 127.0.0.1:$port is taken; the stack publishes it"
    done
    ;;
  podman) start_podman ;;
  *) die "DEPLOY_ENGINE must be auto, docker or podman (got $engine)" ;;
esac

started=1
say "running tests/deploy/ against the compose stack ($engine)"
run_tests=("$python" -m pytest -p no:cacheprovider tests/deploy ${PYTEST_ARGS:-})
if [ -n "$netns" ]; then
  # The tests reach the published ports, which exist inside the namespace only.
  nsenter --net="/run/netns/$netns" "${run_tests[@]}"
else
  "${run_tests[@]}"
fi
