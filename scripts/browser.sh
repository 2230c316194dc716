#!/usr/bin/env bash
# Sourced by scripts/test.sh: makes sure Debian's Chromium is there for the status page test
# (test/e2e/status-page.test.ts). Playwright's own browser download cannot work here, so the test
# drives /usr/bin/chromium through playwright-core. Installs it with apt when running as root.
if [ -x /usr/bin/chromium ]; then
  return 0
fi
if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null; then
  echo "== install chromium (apt, for the status page test)" >&2
  { apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium; } \
    >.toolchain/apt.log 2>&1 ||
    { cat .toolchain/apt.log >&2; echo "chromium install failed (log above)" >&2; return 1; }
else
  echo "note: /usr/bin/chromium is missing and cannot be installed without root; the status page test will skip" >&2
fi
