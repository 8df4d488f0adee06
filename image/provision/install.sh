#!/bin/bash
# Runs INSIDE the build VM (Packer shell provisioner, as root): installs the payload uploaded to
# PAYLOAD_DIR, writes the flavour markers and enables the services.
# Environment: FLAVOUR, PAYLOAD_DIR, IMAGE_VERSION, IMAGE_NAME, KAFKA_VERSION, KAFKA_HEAP_MB.
set -euo pipefail
: "${FLAVOUR:?}" "${PAYLOAD_DIR:?}" "${IMAGE_VERSION:?}" "${IMAGE_NAME:?}"
payload=$PAYLOAD_DIR
[[ $(cat "$payload/FLAVOUR") == "$FLAVOUR" ]] || {
  echo "install: payload flavour $(cat "$payload/FLAVOUR") != $FLAVOUR" >&2
  exit 1
}

echo "install: forwarder"
rm -rf /opt/appliance/forwarder
install -d -m 0755 /opt/appliance/forwarder
tar -C /opt/appliance/forwarder --no-same-owner -xzf "$payload/forwarder.tar.gz"
chown -R root:root /opt/appliance/forwarder
chmod -R go-w /opt/appliance/forwarder
chmod 0755 /opt/appliance/forwarder/appliance-forwarder

if [[ $FLAVOUR == test ]]; then
  echo "install: TEST ONLY mock broker"
  rm -rf /opt/appliance/mockbroker
  install -d -m 0755 /opt/appliance/mockbroker
  tar -C /opt/appliance/mockbroker --no-same-owner -xzf "$payload/mockbroker.tar.gz"
  chown -R root:root /opt/appliance/mockbroker
  chmod -R go-w /opt/appliance/mockbroker
  chmod 0755 /opt/appliance/mockbroker/appliance-mockkafka
  edge_bootstrap=127.0.0.1:9092
  broker_unit=appliance-mockbroker.service
  flavour_line="mock-librdkafka (TEST ONLY, not a production broker)"
  banner="*** TEST FLAVOUR IMAGE ${IMAGE_NAME}: the broker is the in-memory mock-librdkafka cluster (TEST ONLY, not a production broker). Do not deploy. ***"
else
  echo "install: Apache Kafka ${KAFKA_VERSION}"
  rm -rf /opt/kafka
  install -d -m 0755 /opt/kafka
  tar -C /opt/kafka --strip-components=1 --no-same-owner -xzf "$payload/kafka.tgz"
  chown -R root:root /opt/kafka
  chmod -R go-w /opt/kafka
  rm -rf /opt/kafka/site-docs /opt/kafka/bin/windows
  sed "s/@HEAP_MB@/${KAFKA_HEAP_MB:-512}/g" "$payload/kafka.env.in" >/etc/kafka/kafka.env
  edge_bootstrap=127.0.0.1:9094
  broker_unit=kafka.service
  flavour_line="apache-kafka ${KAFKA_VERSION} (KRaft)"
  banner="Edge appliance ${IMAGE_NAME} (Apache Kafka ${KAFKA_VERSION}, KRaft)"
fi

install -d -m 0755 /etc/appliance
sed "s/@EDGE_BOOTSTRAP@/${edge_bootstrap}/g" "$payload/forwarder.json.in" >/etc/appliance/forwarder.json
chmod 0644 /etc/appliance/forwarder.json
printf '%s\n' "$flavour_line" >/etc/appliance/broker-flavour
printf 'IMAGE_NAME=%s\nIMAGE_VERSION=%s\nFLAVOUR=%s\n' "$IMAGE_NAME" "$IMAGE_VERSION" "$FLAVOUR" >/etc/appliance/image-release
printf '%s\n\n' "$banner" >/etc/motd
printf '%s\n\\n \\l\n\n' "$banner" >/etc/issue
printf '%s\nAuthorized use only.\n' "$banner" >/etc/issue.net

systemctl enable "$broker_unit" appliance-forwarder.service
echo "install: done ($FLAVOUR, broker unit $broker_unit)"
