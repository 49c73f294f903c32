#!/usr/bin/env bash
# Sets the canary's share of order traffic: istio/canary-weight.sh 10|50|100 (any 0..100).
# Edits istio/overlays/canary/weights-*.yaml; apply with
#   kubectl apply -k istio/overlays/canary
set -euo pipefail
w=${1:?usage: $0 WEIGHT (0..100) for order v2}
[[ $w =~ ^[0-9]+$ ]] && (( w <= 100 )) || { echo "weight must be 0..100" >&2; exit 2; }
dir=$(dirname "$0")/overlays/canary
for f in "$dir"/weights-mesh.yaml "$dir"/weights-ingress.yaml; do
    # Each route lists v1's weight, then v2's (there is one route for WatchOrder streams and
    # one for every other call).
    awk -v v2="$w" '/weight:/ { n++; sub(/weight: *[0-9]+/, "weight: " (n % 2 == 1 ? 100 - v2 : v2)) } { print }' "$f" > "$f.tmp"
    mv "$f.tmp" "$f"
done
echo "order v2 now gets $w% (v1 $((100 - w))%): kubectl apply -k $dir"
