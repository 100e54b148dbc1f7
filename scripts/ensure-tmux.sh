#!/usr/bin/env bash
# Install Debian's tmux for the terminal acceptance tests (-m terminal) when it is missing.
set -euo pipefail
if command -v tmux >/dev/null 2>&1; then
  exit 0
fi
if [ "$(id -u)" -ne 0 ]; then
  echo "tmux is missing: run 'sudo apt-get install -y tmux'" >&2
  exit 1
fi
apt-get update -qq
DEBIAN_FRONTEND=noninteractive apt-get install -y -qq tmux >/dev/null
