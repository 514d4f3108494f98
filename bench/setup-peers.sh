#!/usr/bin/env bash
# Installs the benchmark's peer proxies from Debian (nginx, HAProxy) and wrk, when missing. Needs root.
# Debian's postinst would start a system nginx on port 80: a temporary policy-rc.d forbids service starts.
set -euo pipefail
need=()
command -v nginx >/dev/null 2>&1 || need+=(nginx-light)
command -v haproxy >/dev/null 2>&1 || need+=(haproxy)
command -v wrk >/dev/null 2>&1 || need+=(wrk)
if [ ${#need[@]} -eq 0 ]; then
  echo "peers already installed: $(nginx -v 2>&1), $(haproxy -v | head -1)"
  exit 0
fi
if [ "$(id -u)" != 0 ]; then
  echo "bench/setup-peers.sh: run as root to apt-get install ${need[*]}" >&2
  exit 1
fi
policy=/usr/sbin/policy-rc.d
created=0
if [ ! -e "$policy" ]; then
  printf '#!/bin/sh\nexit 101\n' > "$policy"
  chmod +x "$policy"
  created=1
fi
trap '[ "$created" = 1 ] && rm -f "$policy"' EXIT
export DEBIAN_FRONTEND=noninteractive
apt-get update -q
apt-get install -y -q --no-install-recommends "${need[@]}"
echo "installed: ${need[*]}"
