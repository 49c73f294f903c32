#!/usr/bin/env bash
# The dashboard after a run of load: the five services (fdctl with-system), a real Prometheus
# (Debian's) scraping their /metrics every second with the SLO rules loaded, fd-bench placing
# orders in three phases (16 in flight, 64 in flight, then callers without a token), every
# panel of istio/observability/dashboards/fooddelivery.json evaluated over the run
# (scripts/dashboard_snapshot.py) and photographed by headless Chromium.
#   scripts/dashboard-snapshot.sh [OUT.png]      (default docs/img/dashboard.png; make dashboard)
set -euo pipefail
cd "$(dirname "$0")/.."
BIN_DIR=${BIN_DIR:-target/release}
OUT=${1:-docs/img/dashboard.png}

if [ "${FD_INSIDE:-}" != 1 ]; then
    for tool in prometheus chromium; do
        command -v "$tool" >/dev/null || { echo "$tool is needed (Debian: apt-get install prometheus chromium)" >&2; exit 1; }
    done
    FD_INSIDE=1 exec "$BIN_DIR/fdctl" with-system --bin-dir "$BIN_DIR" -- "$0" "$OUT"
fi

work=$(mktemp -d)
trap 'kill $(jobs -p) 2>/dev/null || true; rm -rf "$work"' EXIT
targets=""
for svc in ORDER PAYMENT STORE DELIVERY NOTIFICATION; do
    var="FD_${svc}_METRICS_URL"
    hostport=${!var#http://}
    targets="$targets'${hostport%/metrics}',"
done
cp deploy/prometheus/rules.yml "$work/"
cat > "$work/prometheus.yml" <<CONF
global: { scrape_interval: 1s, evaluation_interval: 5s }
rule_files: [rules.yml]
scrape_configs:
  - job_name: fooddelivery
    static_configs: [{ targets: [${targets%,}] }]
CONF
port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
prom="http://127.0.0.1:$port"
(cd "$work" && prometheus --config.file=prometheus.yml --storage.tsdb.path=data \
    --web.listen-address="127.0.0.1:$port" >prometheus.log 2>&1) &
for _ in $(seq 100); do curl -sf "$prom/-/ready" >/dev/null && break; sleep 0.2; done

export FDCTL_TOKEN_FILE="$work/token"
"$BIN_DIR/fdctl" login --as load >/dev/null
token=$(cat "$FDCTL_TOKEN_FILE")
start=$(date +%s)
load() { "$BIN_DIR/fd-bench" load --target place-order --addr "http://$FD_ORDER_ADDR" --warmup 0 "$@"; }
FD_TOKEN=$token load --concurrency 16 --duration 40
FD_TOKEN=$token load --concurrency 64 --duration 40
FD_TOKEN="" load --concurrency 4 --duration 15 --rate 50 >/dev/null || true
sleep 6
end=$(date +%s)

mkdir -p "$(dirname "$OUT")"
python3 scripts/dashboard_snapshot.py --prometheus "$prom" \
    --dashboard istio/observability/dashboards/fooddelivery.json \
    --start "$start" --end "$end" --out "$work/dashboard.html" \
    --subtitle "$(date -u +%Y-%m-%d): fd-bench PlaceOrder, 16 then 64 in flight, then callers without a token; $(nproc) cores"
chromium --headless --no-sandbox --disable-gpu --hide-scrollbars --window-size=1600,1740 \
    --screenshot="$PWD/$OUT" "file://$work/dashboard.html" 2>/dev/null
echo "dashboard: $OUT"
