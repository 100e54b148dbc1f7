#!/usr/bin/env bash
# Make sure the nats-server binary exists: the MQTT contract tests also run against NATS
# server's MQTT listener (JetStream on), which they start themselves on a free port.
# Installs the Debian package when it is missing.
set -euo pipefail
if command -v nats-server >/dev/null 2>&1 || [ -x /usr/sbin/nats-server ]; then
  exit 0
fi
echo "nats-server not found: installing the Debian package" >&2
if [ "$(id -u)" = 0 ]; then SUDO=""; else SUDO="sudo"; fi
$SUDO apt-get update -qq
DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq nats-server >/dev/null
