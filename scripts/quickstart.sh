#!/usr/bin/env bash
# README's first command: set everything up, then run a collector and an agent on this machine.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
. scripts/toolchain.sh
if ! pnpm install --frozen-lockfile --reporter=append-only >.toolchain/install.log 2>&1; then
  cat .toolchain/install.log >&2
  echo "quickstart: install failed (log above, also in .toolchain/install.log)" >&2
  exit 1
fi
exec node scripts/quickstart.ts "$@"
