#!/usr/bin/env bash
# Make sure the mosquitto binary exists: MQTT tests start their own broker on a free port when
# MQTT_URL is unset or unreachable. Installs the Debian package when it is missing.
set -euo pipefail
if command -v mosquitto >/dev/null 2>&1 || [ -x /usr/sbin/mosquitto ]; then
  exit 0
fi
echo "mosquitto not found: installing the Debian package" >&2
if [ "$(id -u)" = 0 ]; then SUDO=""; else SUDO="sudo"; fi
$SUDO apt-get update -qq
DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq mosquitto mosquitto-clients >/dev/null
