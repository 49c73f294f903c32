#!/usr/bin/env bash
# Runs a command against a freshly started system: nats-server + the five services (scripts/run.sh)
# on free loopback ports with SQLite under a temporary directory. The command gets the
# endpoints as FD_ORDER_ADDR, FD_PAYMENT_ADDR, FD_STORE_ADDR, FD_DELIVERY_ADDR,
# FD_NOTIFICATION_ADDR (host:port) and NATS_URL; the system stops when it ends, and its exit
# code is the command's. Used by the Python and TypeScript client tests.
#   scripts/with-system.sh pytest clients/python/tests
set -euo pipefail
cd "$(dirname "$0")/.."
BIN_DIR=${BIN_DIR:-target/debug}
data=$(mktemp -d)
ports=($(python3 -c 'import socket
ss=[socket.socket() for _ in range(6)]
[s.bind(("127.0.0.1",0)) for s in ss]
print(" ".join(str(s.getsockname()[1]) for s in ss))'))
export ORDER_PORT=${ports[0]} PAYMENT_PORT=${ports[1]} STORE_PORT=${ports[2]} \
    DELIVERY_PORT=${ports[3]} NOTIFICATION_PORT=${ports[4]} NATS_PORT=${ports[5]}
unset NATS_URL
BIN_DIR=$BIN_DIR DATA_DIR=$data scripts/run.sh >"$data/run.out" 2>&1 &
runner=$!
cleanup() {
    kill -TERM "$runner" 2>/dev/null || true
    wait "$runner" 2>/dev/null || true
    rm -rf "$data"
}
trap cleanup EXIT
for _ in $(seq 300); do
    grep -q "food-delivery is running" "$data/run.out" 2>/dev/null && break
    if ! kill -0 "$runner" 2>/dev/null; then
        echo "the system did not start:" >&2
        cat "$data/run.out" >&2
        exit 1
    fi
    sleep 0.1
done
grep -q "food-delivery is running" "$data/run.out" || { echo "the system did not start in 30 s" >&2; cat "$data/run.out" >&2; exit 1; }
export FD_ORDER_ADDR=127.0.0.1:$ORDER_PORT FD_PAYMENT_ADDR=127.0.0.1:$PAYMENT_PORT \
    FD_STORE_ADDR=127.0.0.1:$STORE_PORT FD_DELIVERY_ADDR=127.0.0.1:$DELIVERY_PORT \
    FD_NOTIFICATION_ADDR=127.0.0.1:$NOTIFICATION_PORT NATS_URL=nats://127.0.0.1:$NATS_PORT
set +e
"$@"
rc=$?
set -e
exit $rc
