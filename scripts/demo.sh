#!/usr/bin/env bash
# Walks the scenarios that work today against the system `make run` started:
# place a paid order, read it, see its payment, decline an unaffordable one, cancel.
set -euo pipefail
BIN_DIR=${BIN_DIR:-target/release}
fdctl() { "$BIN_DIR/fdctl" "$@"; }
customer="demo-$(date +%s)"

echo "== 1+2. $customer places an order; payment is authorized synchronously"
out=$(fdctl order place --customer "$customer" --item pizza:Margherita:2:1250 --item cola:Cola:1:400)
echo "$out"
order_id=$(awk '/^order /{print $2}' <<<"$out")

echo; echo "== the order, read back"
fdctl order get "$order_id"
echo; echo "== its payment"
fdctl payment get --order "$order_id"

echo; echo "== an order payment declines is never stored"
fdctl order place --customer "$customer" --item caviar:Caviar:1:500000 2>&1 || true

echo; echo "== 5. the customer cancels"
fdctl order cancel "$order_id" --reason "changed my mind"

echo; echo "== 7. the customer's orders"
fdctl order list --customer "$customer"
