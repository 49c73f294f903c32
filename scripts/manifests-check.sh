#!/usr/bin/env bash
# Renders every Istio overlay with `kubectl kustomize` and validates it offline with
# fd-manifests --strict (schemas, then semantic checks); the canary at 10, 50 and 100 %;
# and docker-compose.yml against the Compose Specification schema. No cluster, no engine.
set -euo pipefail
BIN=${BIN:-target/debug/fd-manifests}
command -v kubectl >/dev/null || { echo "kubectl (with kustomize) is needed: https://kubernetes.io/docs/tasks/tools/" >&2; exit 1; }

check() { # name, then a command that renders manifests to stdout
    local name=$1; shift
    local out
    out=$("$@") || { echo "$name: rendering failed" >&2; exit 1; }
    if ! "$BIN" check --strict - <<<"$out"; then
        echo "$name: INVALID" >&2
        exit 1
    fi
    echo "$name: ok"
}

for overlay in stable canary ab fault; do
    check "overlay $overlay" kubectl kustomize "istio/overlays/$overlay"
done
check "data layer (NATS cluster, PostgreSQL clusters)" kubectl kustomize istio/data

scratch=$(mktemp -d)
trap 'rm -rf "$scratch"' EXIT
cp -r istio "$scratch/"
for weight in 10 50 100; do
    "$scratch/istio/canary-weight.sh" "$weight" >/dev/null
    check "overlay canary at $weight%" kubectl kustomize "$scratch/istio/overlays/canary"
done

"$BIN" schema --schema tools/manifests/schemas/compose/compose-spec.json docker-compose.yml
echo "docker-compose.yml: ok"
