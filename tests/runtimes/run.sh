#!/usr/bin/env bash
# One suite, every runtime (`deno task test:runtimes`): installs what the runtimes need
# from this directory's own files, then builds and runs tests/runtimes/run.ts, which runs
# scenario.ts on Deno, Node 20, Bun, Chromium and workerd. Fails loudly when a runtime
# cannot be installed or its run fails.
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
root="$(cd "$here/../.." && pwd)"
start=$SECONDS

fail() {
  echo "test:runtimes: $*" >&2
  exit 1
}

# Chromium from Debian (no browser downloads from elsewhere).
if [[ ! -x /usr/bin/chromium ]]; then
  echo "installing Debian's chromium"
  command -v apt-get >/dev/null || fail "/usr/bin/chromium is missing and apt-get is not available"
  apt-get update -q || fail "apt-get update failed"
  DEBIAN_FRONTEND=noninteractive apt-get install -y -q chromium \
    || fail "apt-get install chromium failed"
  [[ -x /usr/bin/chromium ]] || fail "chromium installed but /usr/bin/chromium is missing"
fi

# Bun, workerd and playwright-core at the exact versions of package-lock.json (binaries come
# inside their npm packages). Reinstalled only when the lock file changed.
cd "$here"
if ! cmp -s package-lock.json node_modules/.sealroute-lock 2>/dev/null; then
  echo "npm ci in tests/runtimes"
  npm ci --no-audit --no-fund --loglevel=error || fail "npm ci failed in tests/runtimes"
  cp package-lock.json node_modules/.sealroute-lock
fi
for tool in bun workerd; do
  "node_modules/.bin/$tool" --version >/dev/null || fail "$tool does not run after npm ci"
done
[[ -f node_modules/playwright-core/package.json ]] || fail "playwright-core is missing after npm ci"
echo "install: $((SECONDS - start)) s"

cd "$root"
npx -y deno@2.9.6 run --allow-all --config=deno.json tests/runtimes/run.ts
echo "test:runtimes: $((SECONDS - start)) s in all"
