#!/usr/bin/env bash
# The system packages the test suite needs: Debian's chromium (end-to-end tests), bubblewrap
# (confinement of checks and agents) and postgresql (the server binaries, initdb and pg_ctl under
# /usr/lib/postgresql/<version>/bin, that test-support/postgres.ts starts throwaway clusters
# with; Debian 12 gives version 15) and prometheus (promtool, which checks /api/metrics' output,
# and the server that server/metrics/prometheus.test.ts starts to scrape a running Hyperion; the
# package also starts a system service, which we stop: the tests start their own). Installed when we can (root with apt), otherwise we stop at
# once with the exact command to run. `npm test` and `.ci/run` both start here.
set -euo pipefail

# Debian's server binaries, of any version the distribution's `postgresql` package brings in.
has_postgres_server() {
  local bin
  for bin in /usr/lib/postgresql/*/bin; do
    [ -x "$bin/initdb" ] && [ -x "$bin/pg_ctl" ] && return 0
  done
  return 1
}

missing=()
[ -x "${CHROMIUM_PATH:-/usr/bin/chromium}" ] || missing+=(chromium)
command -v bwrap > /dev/null 2>&1 || missing+=(bubblewrap)
has_postgres_server || missing+=(postgresql)
{ [ -x /usr/bin/prometheus ] && [ -x /usr/bin/promtool ]; } || missing+=(prometheus)
[ ${#missing[@]} -eq 0 ] && exit 0

if [ "$(id -u)" = 0 ] && command -v apt-get > /dev/null 2>&1; then
  echo "Installing ${missing[*]} with apt-get…"
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq
  apt-get install -y -qq "${missing[@]}" > /dev/null
  # Debian's prometheus package starts its own service on :9090; nothing here needs it.
  if [[ " ${missing[*]} " == *" prometheus "* ]]; then
    systemctl stop prometheus > /dev/null 2>&1 || service prometheus stop > /dev/null 2>&1 || true
  fi
  exit 0
fi

echo "Missing system packages: ${missing[*]}. Install them, then run the tests again:" >&2
echo "  sudo apt-get install -y ${missing[*]}" >&2
exit 1
