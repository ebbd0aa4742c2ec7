#!/usr/bin/env bash
# Runs a command with the local Kafka broker up. Starts the broker if none answers and, in that
# case only, stops it afterwards, also on Ctrl-C or SIGTERM, so no JVM is left behind.
set -uo pipefail
here=$(cd "$(dirname "$0")" && pwd)
kafka="$here/../kafka/kafka.sh"

started=0
if ! "$kafka" status >/dev/null 2>&1; then
  "$kafka" up || exit 1
  started=1
fi
cleanup() { [ "$started" = 1 ] && "$kafka" down; }
trap cleanup EXIT

"$@" &
child=$!
trap 'kill -TERM "$child" 2>/dev/null' TERM INT
wait "$child"; status=$?
# wait returns early when a trapped signal arrives: wait again for the child to finish stopping.
while kill -0 "$child" 2>/dev/null; do wait "$child"; status=$?; done
exit "$status"
