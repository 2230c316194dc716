#!/usr/bin/env bash
# The whole test suite on a fresh clone: toolchain, install, lint, typecheck, build, tests.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
. scripts/toolchain.sh

echo "== install" >&2
# Native builds are noisy: keep their log, show it only when the install fails.
pnpm install --frozen-lockfile --reporter=append-only >.toolchain/install.log 2>&1 ||
  { cat .toolchain/install.log >&2; echo "install failed (log above, also in .toolchain/install.log)" >&2; exit 1; }
. scripts/browser.sh
echo "== lint (biome)" >&2
pnpm exec biome check .
echo "== typecheck (tsc)" >&2
pnpm exec tsc -p tsconfig.json
echo "== build (tsup)" >&2
pnpm -r --reporter=append-only build >/dev/null
echo "== tests (node:test)" >&2
exec node --test --test-concurrency=2 --test-timeout=120000 \
  'packages/*/src/**/*.test.ts' 'packages/*/test/**/*.test.ts' 'plugins/*/src/**/*.test.ts' 'examples/plugins/*/src/**/*.test.ts' 'test/**/*.test.ts'
