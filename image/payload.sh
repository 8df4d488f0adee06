#!/usr/bin/env bash
# Prepares what Packer installs into the image, in image/out/payload-<flavour>/:
#   forwarder.tar.gz    self-contained `dotnet publish` of src/Appliance.Forwarder (appliance-forwarder)
#   mockbroker.tar.gz   test flavour: self-contained publish of tests/Appliance.MockKafka (TEST ONLY)
#   kafka.tgz           production: the Apache Kafka archive, checked against KAFKA_SHA512
#   templates           forwarder.json.in, kafka.env.in
# Usage: payload.sh test|production      build the payload
#        payload.sh --check FLAVOUR      only verify an existing payload (run by Packer before installing)
# Environment (production): KAFKA_VERSION, KAFKA_SCALA_VERSION, KAFKA_SHA512 (required),
#   KAFKA_ARCHIVE (local path; else downloaded from KAFKA_MIRROR into image/cache/kafka).
# Environment (test): APPLIANCE_MOCKBROKER_PUBLISH_DIR to use an already published mock broker.
set -euo pipefail
# shellcheck source=lib/common.sh
. "$(dirname "$0")/lib/common.sh"

check_only=no
if [[ ${1-} == --check ]]; then
  check_only=yes
  shift
fi
flavour=${1:?usage: payload.sh [--check] test|production}
[[ $flavour == test || $flavour == production ]] || die "flavour must be test or production"
payload=$OUT_DIR/payload-$flavour
kafka_version=${KAFKA_VERSION:-3.9.1}
kafka_scala=${KAFKA_SCALA_VERSION:-2.13}
kafka_file=kafka_${kafka_scala}-${kafka_version}.tgz

verify_kafka() { # FILE
  [[ ${KAFKA_SHA512:-} =~ ^[0-9a-fA-F]{128}$ ]] ||
    die "the production flavour needs KAFKA_SHA512 (packer -var kafka_sha512=...) for $kafka_file: the Kafka archive is pinned by SHA-512"
  local got
  got=$(sha512sum "$1" | cut -d' ' -f1)
  [[ ${got,,} == "${KAFKA_SHA512,,}" ]] || die "SHA-512 mismatch for $1: expected $KAFKA_SHA512, got $got"
}

if [[ $check_only == yes ]]; then
  [[ -f $payload/FLAVOUR && $(cat "$payload/FLAVOUR") == "$flavour" ]] || die "no $flavour payload in $payload (run image/payload.sh $flavour)"
  [[ -s $payload/forwarder.tar.gz ]] || die "payload has no forwarder"
  if [[ $flavour == production ]]; then
    verify_kafka "$payload/kafka.tgz"
  else
    [[ -s $payload/mockbroker.tar.gz ]] || die "test payload has no mock broker"
  fi
  log "payload: $flavour payload in $payload verified"
  exit 0
fi

rm -rf "$payload"
install -d "$payload" "$OUT_DIR/publish"
export DOTNET_CLI_TELEMETRY_OPTOUT=1 DOTNET_NOLOGO=1

publish() { # PROJECT NAME
  local dir=$OUT_DIR/publish/$2
  rm -rf "$dir"
  log "payload: dotnet publish $1"
  dotnet publish "$REPO_DIR/$1" -c Release -r linux-x64 --self-contained -o "$dir" -nologo -v quiet >&2
  tar -C "$dir" -czf "$payload/$2.tar.gz" .
}

if [[ -n ${APPLIANCE_FORWARDER_PUBLISH_DIR:-} ]]; then
  tar -C "$APPLIANCE_FORWARDER_PUBLISH_DIR" -czf "$payload/forwarder.tar.gz" .
else
  publish src/Appliance.Forwarder forwarder
fi
tar -xzf "$payload/forwarder.tar.gz" -O ./appliance-forwarder >/dev/null 2>&1 ||
  die "the forwarder publish has no ./appliance-forwarder executable"

if [[ $flavour == test ]]; then
  if [[ -n ${APPLIANCE_MOCKBROKER_PUBLISH_DIR:-} ]]; then
    tar -C "$APPLIANCE_MOCKBROKER_PUBLISH_DIR" -czf "$payload/mockbroker.tar.gz" .
  elif [[ -d $REPO_DIR/tests/Appliance.MockKafka ]]; then
    publish tests/Appliance.MockKafka mockbroker
  else
    die "test flavour: tests/Appliance.MockKafka does not exist (set APPLIANCE_MOCKBROKER_PUBLISH_DIR to a published appliance-mockkafka)"
  fi
  tar -xzf "$payload/mockbroker.tar.gz" -O ./appliance-mockkafka >/dev/null 2>&1 ||
    die "the mock broker publish has no ./appliance-mockkafka executable"
else
  if [[ -n ${KAFKA_ARCHIVE:-} ]]; then
    [[ -s $KAFKA_ARCHIVE ]] || die "KAFKA_ARCHIVE=$KAFKA_ARCHIVE does not exist"
    src=$KAFKA_ARCHIVE
  else
    install -d "$CACHE_DIR/kafka"
    src=$CACHE_DIR/kafka/$kafka_file
    if [[ ! -s $src ]]; then
      url=${KAFKA_MIRROR:-https://archive.apache.org/dist/kafka}/$kafka_version/$kafka_file
      log "payload: downloading $url"
      curl -fsSL --retry 3 -o "$src.part" "$url" || die "cannot download $url (offline? pass KAFKA_ARCHIVE=<local path>)"
      mv "$src.part" "$src"
    fi
  fi
  verify_kafka "$src"
  cp "$src" "$payload/kafka.tgz"
fi

cp "$APPLIANCE_DIR/forwarder/forwarder.json.in" "$APPLIANCE_DIR/kafka/kafka.env.in" "$payload/"
echo "$flavour" >"$payload/FLAVOUR"
log "payload: $(du -sh "$payload" | cut -f1) in $payload"
