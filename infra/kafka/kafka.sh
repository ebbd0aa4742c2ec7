#!/usr/bin/env bash
# Local Apache Kafka (KRaft, one combined broker+controller) from Maven Central jars, no Docker.
#   kafka.sh up      resolve jars once, format storage on first start, start, wait until it answers
#   kafka.sh down    SIGTERM (graceful shutdown hook), wait for exit
#   kafka.sh status  exit 0 when the broker answers
# Settings (env): KAFKA_PORT (9092), KAFKA_CONTROLLER_PORT (9093), KAFKA_HOME_DIR (.kafka in the repo),
#   KAFKA_VERSION (4.1.1, must match pom.xml), KAFKA_JARS_CACHE (~/.cache/shopbox-rackbeat/kafka-<version>),
#   PYTHON (the venv's python, used for the readiness probe).
set -euo pipefail

here=$(cd "$(dirname "$0")" && pwd)
repo=$(cd "$here/../.." && pwd)
port=${KAFKA_PORT:-9092}
cport=${KAFKA_CONTROLLER_PORT:-9093}
home=${KAFKA_HOME_DIR:-$repo/.kafka}
version=${KAFKA_VERSION:-4.1.1}
jars=${KAFKA_JARS_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/shopbox-rackbeat/kafka-$version}
python=${PYTHON:-$repo/.venv/bin/python}
# Any base64 UUID; fixed so a re-format of an existing data dir is refused rather than silently forked.
cluster_id=${KAFKA_CLUSTER_ID:-4L6g3nShT-eMCtK--X86sw}
pidfile=$home/broker.pid
logfile=$home/broker.log

die() { echo "kafka.sh: $*" >&2; exit 1; }

require_tools() {
  command -v java >/dev/null || die "Java 17+ is required. Install it: apt-get install openjdk-17-jre-headless"
  command -v mvn >/dev/null || die "Maven is required to fetch the Kafka jars. Install it: apt-get install maven"
  local major
  major=$(java -version 2>&1 | sed -n 's/.*version "\([0-9]*\).*/\1/p' | head -1)
  [ "${major:-0}" -ge 17 ] || die "Kafka 4.x needs Java 17+, found Java ${major:-unknown}"
}

resolve_jars() {
  [ -f "$jars/.complete" ] && return 0
  echo "kafka.sh: resolving Kafka $version jars from Maven Central into $jars"
  mkdir -p "$jars"
  mvn -B -q -f "$here/pom.xml" -Dkafka.version="$version" dependency:copy-dependencies \
      -DincludeScope=runtime -DoutputDirectory="$jars/lib" || die "Maven could not resolve the Kafka jars"
  touch "$jars/.complete"
}

answers() {
  "$python" - "$port" <<'PY' >/dev/null 2>&1
import asyncio, sys
from aiokafka.admin import AIOKafkaAdminClient
async def main() -> None:
    admin = AIOKafkaAdminClient(bootstrap_servers=f"127.0.0.1:{sys.argv[1]}", request_timeout_ms=3000)
    await admin.start()
    try:
        await admin.list_topics()
    finally:
        await admin.close()
asyncio.run(asyncio.wait_for(main(), 5))
PY
}

running_pid() {
  [ -f "$pidfile" ] || return 1
  local pid; pid=$(cat "$pidfile")
  kill -0 "$pid" 2>/dev/null && echo "$pid"
}

up() {
  if answers; then echo "kafka.sh: a broker already answers on 127.0.0.1:$port"; return 0; fi
  require_tools
  resolve_jars
  mkdir -p "$home/data"
  sed -e "s|@KAFKA_PORT@|$port|g" -e "s|@KAFKA_CONTROLLER_PORT@|$cport|g" -e "s|@KAFKA_DATA_DIR@|$home/data|g" \
      "$here/server.properties.in" > "$home/server.properties"
  local logcfg="-Dlog4j2.configurationFile=$here/log4j2.properties"
  if [ ! -f "$home/data/meta.properties" ]; then
    java "$logcfg" -cp "$jars/lib/*" kafka.tools.StorageTool format -t "$cluster_id" \
        -c "$home/server.properties" >>"$logfile" 2>&1 || die "formatting storage failed, see $logfile"
  fi
  # setsid: the broker gets its own process group, so Ctrl-C in a terminal reaches it only through `down`.
  setsid java -Xms256m -Xmx768m -XX:+UseG1GC -Djava.awt.headless=true "$logcfg" -cp "$jars/lib/*" \
      kafka.Kafka "$home/server.properties" >>"$logfile" 2>&1 < /dev/null &
  echo $! > "$pidfile"
  local deadline=$((SECONDS + 90))
  until answers; do
    kill -0 "$(cat "$pidfile")" 2>/dev/null || die "the broker exited during start-up, see $logfile"
    [ $SECONDS -lt $deadline ] || die "the broker did not answer on 127.0.0.1:$port within 90 s, see $logfile"
    sleep 1
  done
  echo "kafka.sh: Kafka $version answers on 127.0.0.1:$port (data in $home/data, pid $(cat "$pidfile"))"
}

down() {
  local pid
  if ! pid=$(running_pid); then echo "kafka.sh: no broker started from $home is running"; rm -f "$pidfile"; return 0; fi
  kill -TERM "$pid"
  for _ in $(seq 1 60); do kill -0 "$pid" 2>/dev/null || break; sleep 0.5; done
  if kill -0 "$pid" 2>/dev/null; then echo "kafka.sh: broker $pid ignored SIGTERM for 30 s, killing" >&2; kill -KILL "$pid"; fi
  rm -f "$pidfile"
  echo "kafka.sh: broker stopped"
}

case "${1:-}" in
  up) up ;;
  down) down ;;
  status) answers && echo "kafka.sh: broker answers on 127.0.0.1:$port" || { echo "kafka.sh: no broker on 127.0.0.1:$port"; exit 1; } ;;
  jars) require_tools; resolve_jars ;;
  *) echo "usage: kafka.sh up|down|status|jars" >&2; exit 2 ;;
esac
