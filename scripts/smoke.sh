#!/usr/bin/env bash
# What a new user does: `make run`, then the example it prints, then Ctrl-C.
# Runs the real binaries as processes on free ports and fails if any step does not work.
set -euo pipefail
BIN_DIR=${BIN_DIR:-target/debug}
work=$(mktemp -d)
trap 'kill -TERM -- -$runner 2>/dev/null || true; rm -rf "$work"' EXIT

free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }
export ORDER_PORT=$(free_port) PAYMENT_PORT=$(free_port) STORE_PORT=$(free_port)
export DELIVERY_PORT=$(free_port) NOTIFICATION_PORT=$(free_port) NATS_PORT=$(free_port)
export ISSUER_PORT=$(free_port)
export FD_ISSUER_URL=http://127.0.0.1:$ISSUER_PORT FDCTL_TOKEN_FILE=$work/token
export ORDER_ADDR=http://127.0.0.1:$ORDER_PORT PAYMENT_ADDR=http://127.0.0.1:$PAYMENT_PORT
export STORE_ADDR=http://127.0.0.1:$STORE_PORT DELIVERY_ADDR=http://127.0.0.1:$DELIVERY_PORT
export NOTIFICATION_ADDR=http://127.0.0.1:$NOTIFICATION_PORT
unset NATS_URL

# Every binary answers --help and --version without touching anything (no data/, no server).
mkdir "$work/empty"
for bin in order payment store delivery notification fdctl fd-chaos fd-bench fd-manifests contract-gate; do
    help=$(cd "$work/empty" && "$OLDPWD/$BIN_DIR/$bin" --help) || { echo "$bin --help failed"; exit 1; }
    grep -qi "usage" <<<"$help" || { echo "$bin --help printed no usage:"; echo "$help"; exit 1; }
    (cd "$work/empty" && "$OLDPWD/$BIN_DIR/$bin" --version) | grep -q "[0-9]\.[0-9]" || { echo "$bin --version printed no version"; exit 1; }
done
[ -z "$(ls -A "$work/empty")" ] || { echo "--help/--version wrote files:"; ls -R "$work/empty"; exit 1; }
order_help=$("$BIN_DIR/order" --help)
grep -q "DATABASE_URL" <<<"$order_help" || { echo "order --help does not list its configuration"; exit 1; }
"$BIN_DIR/order" --help | head -1 >/dev/null  # a closed pipe is no panic (pipefail would fail)

set -m  # job control: the runner gets its own process group and default SIGINT, like a terminal
"$BIN_DIR/fdctl" up --bin-dir "$BIN_DIR" --data-dir "$work/data" >"$work/run.log" 2>&1 &
runner=$!
for _ in $(seq 300); do
    grep -q "is running" "$work/run.log" && break
    kill -0 $runner 2>/dev/null || { cat "$work/run.log"; exit 1; }
    sleep 0.1
done
grep -q "is running" "$work/run.log" || { echo "make run did not come up"; cat "$work/run.log"; exit 1; }

# The example `make run` prints (sign in, then order), then the demo.
login=$(grep -m1 "fdctl login" "$work/run.log")
eval "$login" >/dev/null
example=$(grep -m1 "fdctl order place" "$work/run.log")
out=$(eval "$example")
grep -q "^state    PLACED" <<<"$out" || { echo "example did not place an order:"; echo "$out"; exit 1; }
demo=$(BIN_DIR="$BIN_DIR" scripts/demo.sh)
for expect in "state    DELIVERED" "PAYMENT_STATE_REFUNDED" "CANCELLED" "rejected by the store: out of basil" \
    "PAYMENT_DECLINED" "was delivered. Enjoy" "Your payment is being refunded" "Luigi's Pizzeria" \
    "total    29.00 EUR" "STORE_CLOSED" "MENU_ITEM_UNAVAILABLE" \
    "Margherita costs 12.50 EUR now, not 0.01 EUR" "Unauthenticated" "NotFound: order" \
    "PermissionDenied\|NotFound: no ticket" "% off  (20[0-9-]*: 3 delivered orders" "Tiramisu at store-1" \
    "digest: every day at 09:00 Europe/Berlin"; do
    grep -q "$expect" <<<"$demo" || { echo "demo output lacks '$expect':"; echo "$demo"; exit 1; }
done

# Ctrl-C: the whole group gets SIGINT; everything must stop, cleanly.
kill -INT -- -$runner
for _ in $(seq 100); do kill -0 $runner 2>/dev/null || break; sleep 0.1; done
if kill -0 $runner 2>/dev/null; then echo "fdctl up did not stop on Ctrl-C"; exit 1; fi
grep -q "stopped." "$work/run.log" || { cat "$work/run.log"; exit 1; }
for svc in order payment store delivery notification; do
    grep -q "in-flight calls finished" "$work/data/logs/$svc.log" || { echo "$svc did not stop cleanly"; tail "$work/data/logs/$svc.log"; exit 1; }
done

# make run again on the same data: the demo seeding is a no-op, the orders are still there.
"$BIN_DIR/fdctl" up --bin-dir "$BIN_DIR" --data-dir "$work/data" >"$work/run2.log" 2>&1 &
runner=$!
for _ in $(seq 300); do
    grep -q "is running" "$work/run2.log" && break
    kill -0 $runner 2>/dev/null || { cat "$work/run2.log"; exit 1; }
    sleep 0.1
done
grep -q "is running" "$work/run2.log" || { echo "make run did not come up again"; cat "$work/run2.log"; exit 1; }
menu=$("$BIN_DIR/fdctl" --as ops store menu store-1)
[ "$(grep -c '^  ' <<<"$menu")" = 7 ] || { echo "the second seeding changed the menu:"; echo "$menu"; exit 1; }
"$BIN_DIR/fdctl" --as alice order list --customer alice | grep -q PLACED || { echo "orders of the first run are gone"; exit 1; }
kill -INT -- -$runner
for _ in $(seq 100); do kill -0 $runner 2>/dev/null || break; sleep 0.1; done
if kill -0 $runner 2>/dev/null; then echo "fdctl up did not stop on Ctrl-C (second run)"; exit 1; fi
echo "smoke: make run, its example, the demo, Ctrl-C and a second make run all work"
