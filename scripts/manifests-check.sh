#!/usr/bin/env bash
# Renders every Istio overlay with `kubectl kustomize` and validates it offline with
# fd-manifests --strict (schemas, then semantic checks) and fd-manifests analyze (what
# istioctl analyze reports); the canary at 10, 50 and 100 %;
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
    # What istioctl analyze would say (its codes and levels): nothing, not even Info.
    if ! "$BIN" analyze --fail-on info - <<<"$out" >&2; then
        echo "$name: istioctl-analyze messages" >&2
        exit 1
    fi
    echo "$name: ok"
}

for overlay in stable canary ab fault; do
    check "overlay $overlay" kubectl kustomize "istio/overlays/$overlay"
done
check "data layer (NATS cluster, PostgreSQL clusters)" kubectl kustomize istio/data
check "progressive delivery (Flagger canary of order)" kubectl kustomize istio/progressive
check "observability (PodMonitor, PrometheusRule, dashboard)" kubectl kustomize istio/observability

scratch=$(mktemp -d)
trap 'rm -rf "$scratch"' EXIT
cp -r istio "$scratch/"
for weight in 10 50 100; do
    "$scratch/istio/canary-weight.sh" "$weight" >/dev/null
    check "overlay canary at $weight%" kubectl kustomize "$scratch/istio/overlays/canary"
done

"$BIN" schema --schema tools/manifests/schemas/compose/compose-spec.json docker-compose.yml
echo "docker-compose.yml: ok"

# Prometheus' own tool: the compose config and rules load, the alerts' unit tests pass, and
# every query of the Grafana dashboard parses (as recording rules, with Grafana's variables
# given values).
command -v promtool >/dev/null || { echo "promtool is needed (Debian: apt-get install prometheus)" >&2; exit 1; }
cp deploy/prometheus/prometheus.yml deploy/prometheus/rules.yml "$scratch/"
sed -i 's#/etc/prometheus/rules.yml#rules.yml#' "$scratch/prometheus.yml"
(cd "$scratch" && promtool check config --syntax-only prometheus.yml >/dev/null) || { echo "deploy/prometheus/prometheus.yml: INVALID" >&2; exit 1; }
promtool check rules deploy/prometheus/rules.yml >/dev/null
promtool test rules deploy/prometheus/rules.test.yml >/dev/null || { promtool test rules deploy/prometheus/rules.test.yml; exit 1; }
echo "deploy/prometheus (config, rules, alert tests): ok"
python3 - istio/observability/dashboards/fooddelivery.json "$scratch/dashboard-rules.yml" <<'PY'
import json, sys
dash = json.load(open(sys.argv[1]))
exprs = []
def walk(panels):
    for p in panels:
        walk(p.get("panels", []))
        for t in p.get("targets", []):
            exprs.append((p["title"], t["expr"]))
walk(dash["panels"])
for v in dash["templating"]["list"]:
    q = v["query"]["query"] if isinstance(v["query"], dict) else v["query"]
    # label_values(metric{...}, label) → the selector it reads
    exprs.append((v["name"], q[len("label_values("):q.rindex(",")]))
with open(sys.argv[2], "w") as out:
    out.write("groups:\n  - name: dashboard\n    rules:\n")
    for i, (title, e) in enumerate(exprs):
        e = (e.replace("$__rate_interval", "1m").replace("$__range_s", "3600")
             .replace("$__range", "1h").replace("$service", ".*").replace("$version", ".*"))
        out.write(f"      - record: dashboard:panel_{i}\n        expr: {json.dumps(e)}\n")
print(f"{len(exprs)} dashboard queries")
PY
promtool check rules "$scratch/dashboard-rules.yml" >/dev/null || { promtool check rules "$scratch/dashboard-rules.yml"; exit 1; }
echo "istio/observability/dashboards/fooddelivery.json (every query parses): ok"
