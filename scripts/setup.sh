#!/bin/sh
# Installs what `npm start` / `npm test` need on a fresh machine, and nothing twice:
#   npm packages when node_modules is missing or older than package-lock.json;
#   for tests, as root on Debian/Ubuntu: dockerd, busybox-static, iproute2, iptables and
#   Alertmanager, which the integration tests run for real, and promtool (from prometheus)
#   for the shipped alert rules.
set -eu
cd "$(dirname "$0")/.."

if [ ! -f node_modules/.package-lock.json ] || [ package-lock.json -nt node_modules/.package-lock.json ]; then
  echo "setup: installing npm packages (npm ci)"
  npm ci --no-audit --no-fund
fi

if [ "${1:-}" = "test" ]; then
  missing=""
  for pair in dockerd:docker.io busybox:busybox-static prometheus-alertmanager:prometheus-alertmanager \
              ip:iproute2 iptables:iptables nsenter:util-linux promtool:prometheus; do
    command -v "${pair%%:*}" >/dev/null 2>&1 || missing="$missing ${pair#*:}"
  done
  # busybox from the busybox package is dynamic; the image we import needs the static one.
  if command -v busybox >/dev/null 2>&1 && ! dpkg -s busybox-static >/dev/null 2>&1; then missing="$missing busybox-static"; fi
  if [ -n "$missing" ]; then
    if [ "$(id -u)" = "0" ] && command -v apt-get >/dev/null 2>&1; then
      echo "setup: installing$missing"
      apt-get update -qq
      DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends $missing
    else
      echo "setup: integration tests need$missing (install them as root); they will be skipped outside CI"
    fi
  fi
fi
