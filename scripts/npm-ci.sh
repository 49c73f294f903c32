#!/usr/bin/env bash
# `npm ci` in DIR, then CHECK (a command run in DIR) to prove the install is usable; retried.
#
#   scripts/npm-ci.sh DIR CHECK...
#
# Why the check: buf's and esbuild's binaries come in optional per-platform packages
# (@bufbuild/buf-linux-x64, @esbuild/linux-x64). When the registry fails to serve one of them,
# npm skips it with a warning and exits 0, and the failure only shows later as a missing
# `downloaded-...-buf` binary (CI saw exactly that once). So each install is checked by running
# the binaries it must provide, and a failed install or check is retried before giving up with
# a message that says what is missing.
set -euo pipefail

[ $# -ge 2 ] || { echo "usage: $0 DIR CHECK..." >&2; exit 2; }
dir=$1
shift
cd "$dir"

attempts=3
for attempt in $(seq 1 $attempts); do
    if npm ci --no-audit --no-fund --silent && "$@" >/dev/null; then
        exit 0
    fi
    echo "npm-ci: $dir: install or check ($*) failed (attempt $attempt of $attempts)" >&2
    [ "$attempt" -lt $attempts ] && sleep $((attempt * 5))
done
echo "npm-ci: $dir: after $attempts attempts \`$*\` still fails:" \
    "a package this lock file names (often an optional per-platform binary) could not be" \
    "installed from the npm registry" >&2
exit 1
