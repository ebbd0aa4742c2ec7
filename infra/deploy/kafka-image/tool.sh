#!/bin/bash
# The stand-in's bin/*.sh: each name runs the class the official script of that name runs.
set -euo pipefail
case "$(basename "$0")" in
  kafka-broker-api-versions.sh) class=org.apache.kafka.tools.BrokerApiVersionsCommand ;;
  kafka-topics.sh) class=org.apache.kafka.tools.TopicCommand ;;
  kafka-storage.sh) class=kafka.tools.StorageTool ;;
  kafka-server-start.sh) class=kafka.Kafka ;;
  *) echo "unknown tool $0" >&2; exit 2 ;;
esac
exec java ${KAFKA_HEAP_OPTS:--Xmx256m} -Dlog4j2.configurationFile=/opt/kafka/config/log4j2.properties \
  -cp "/opt/kafka/libs/*" "$class" "$@"
