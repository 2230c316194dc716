#!/usr/bin/env bash
# Runs a command with the project's Node 24 and pnpm first on PATH.
set -euo pipefail
. "$(dirname "${BASH_SOURCE[0]}")/toolchain.sh"
exec "$@"
