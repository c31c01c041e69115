#!/usr/bin/env bash
# Installs what the tests need when it is missing, builds the project and the fixture images.
# Run by `npm test` (pretest); safe to run again: every step is skipped when already done.
set -euo pipefail
cd "$(dirname "$0")/.."

say() { printf 'test-setup: %s\n' "$*"; }

# 1. npm dependencies (a fresh clone has none).
if [ ! -x node_modules/.bin/vitest ] || [ ! -x node_modules/.bin/tsc ]; then
  say "installing npm dependencies"
  npm ci --no-audit --no-fund --ignore-scripts
fi
# better-sqlite3 is a native addon: --ignore-scripts skipped its build (about a minute from source).
if ! node -e "new (require('better-sqlite3'))(':memory:').close()" >/dev/null 2>&1; then
  say "building better-sqlite3 (native addon, about a minute)"
  npm rebuild better-sqlite3 --no-audit --no-fund >/dev/null
fi

# 2. System tools the tests use as real peers.
need_pkgs=()
want() { command -v "$1" >/dev/null 2>&1 || need_pkgs+=("$2"); }
want ch-run charliecloud-runtime
want ch-image charliecloud-builders
want docker-registry docker-registry
want skopeo skopeo
want umoci umoci
want git git
want zstd zstd
want readelf binutils
want dpkg-deb dpkg
want gcc gcc
want openssl openssl      # test certificates for the TLS registry
want python3 python3      # bcrypt hashes for the registry's htpasswd file
want script bsdutils      # a terminal for the progress test
want slurmctld slurmctld  # a real Slurm cluster (controller, nodes, munge) for the scheduler tests
want slurmd slurmd
want munged munge
want sbatch slurm-client
[ -x /usr/lib/postgresql/15/bin/initdb ] || need_pkgs+=(postgresql)  # a throwaway PostgreSQL server for the store tests
if [ ${#need_pkgs[@]} -gt 0 ]; then
  if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then
    say "installing ${need_pkgs[*]}"
    export DEBIAN_FRONTEND=noninteractive
    apt-get update -qq
    apt-get install -y -qq --no-install-recommends "${need_pkgs[@]}" >/dev/null
  else
    say "missing ${need_pkgs[*]} and cannot install them (not root or no apt-get): tests that need them will skip and say so"
  fi
fi

# 3. Build (the CLI tests run the compiled bins).
say "building and type-checking (src and tests)"
node_modules/.bin/tsc -p tsconfig.json
node_modules/.bin/tsc -p tsconfig.test.json

# 4. Fixture images from real Debian packages (cached by a stamp; first run downloads and builds).
say "fixture images"
node fixtures/build.mjs
