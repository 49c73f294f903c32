#!/usr/bin/env bash
# Walks the eight scenarios of the domain against the system `make run` started, and prints
# each order's timeline and notifications.
set -euo pipefail
BIN_DIR=${BIN_DIR:-target/release}
fdctl() { "$BIN_DIR/fdctl" "$@"; }
# Every call carries a token from make run's issuer: customers by their name, olga (the owner
# of store-1), the rider rider-7, and ops (an operator, who reads everything).
as() { local who=$1; shift; fdctl --as "$who" "$@"; }
# Retries a command until it succeeds (events take a moment to travel), at most ~10 s.
retry() { for _ in $(seq 100); do "$@" 2>/dev/null && return 0; sleep 0.1; done; "$@"; }
# Waits until an order's status view shows a line matching $2.
wait_for() { for _ in $(seq 100); do as ops order get "$1" | grep "$2" >/dev/null && return 0; sleep 0.1; done; echo "timed out waiting for $2" >&2; return 1; }
order_id() { awk '/^order /{print $2}'; }
run=$(date +%s)

echo "== 0. what there is to order from: the store context owns stores and menus"
as ops store stores
as ops store menu store-1
echo; as ops order quote --store store-1 --item pizza:2 --item cola
echo
echo "== 1+2. ada picks items and places an order (priced from the menu); payment is authorized synchronously"
happy=$(as "ada-$run" order place --customer "ada-$run" --item pizza:2 --item cola | order_id)
echo "order $happy"
echo; echo "== 3. it reaches the store owner"
retry as olga store accept "$happy"
echo "== 4. the owner accepts and cooks it; a rider delivers it"
as olga store finish "$happy"
retry as rider-7 delivery pick-up "$happy" --rider rider-7
as rider-7 delivery complete "$happy"
wait_for "$happy" "^state    DELIVERED"
echo; echo "== 7. ada looks at the order's status"
as "ada-$run" order get "$happy"

echo; echo "== 5+6. bea cancels after cooking: delivery cancelled, payment refunded (saga)"
cancel=$(as "bea-$run" order place --customer "bea-$run" --item pasta | order_id)
retry as olga store accept "$cancel" >/dev/null
as olga store finish "$cancel" >/dev/null
retry as ops delivery get "$cancel" >/dev/null
as "bea-$run" order cancel "$cancel" --reason "changed my mind" >/dev/null
wait_for "$cancel" "PAYMENT_STATUS_REFUNDED"
as "bea-$run" order get "$cancel"
as "bea-$run" payment get --order "$cancel"
as "bea-$run" delivery get "$cancel"

echo; echo "== the second saga: the store rejects cid's order; it is cancelled and refunded"
rejected=$(as "cid-$run" order place --customer "cid-$run" --item soup | order_id)
retry as olga store reject "$rejected" --reason "out of basil" >/dev/null
wait_for "$rejected" "PAYMENT_STATUS_REFUNDED"
as "cid-$run" order get "$rejected"

echo; echo "== a closed store, or an item that is sold out, takes no orders (nothing is charged)"
as "eve-$run" order place --customer "eve-$run" --store green-bowl --item salad 2>&1 || true
as "eve-$run" order place --customer "eve-$run" --item calzone 2>&1 || true

echo; echo "== a client cannot choose its price: the older ID:NAME:QUANTITY:PRICE form goes through order v1,"
echo "   which refuses 100 pizzas at 0.01 EUR and names the menu's price"
as "eve-$run" order place --customer "eve-$run" --item pizza:Margherita:100:1 2>&1 || true

echo; echo "== who may do what: no token, someone else's order, another store's owner"
"$BIN_DIR/fdctl" --token "" order get "$happy" 2>&1 | head -1 || true
as "bea-$run" order get "$happy" 2>&1 | head -1 || true
as kenji store accept "$cancel" 2>&1 | head -1 || true

echo; echo "== an order payment declines is never stored"
as "dan-$run" order place --customer "dan-$run" --item caviar 2>&1 || true

echo; echo "== 8. every status change sent the customer one notification"
sleep 1
for c in "ada-$run" "bea-$run" "cid-$run"; do
    echo "$c:"
    as "$c" notifications --customer "$c"
done

echo; echo "== 9. marketing (a Python service that only subscribes to order's and delivery's events):"
echo "   ada's third delivered order makes her a best customer; she gets this month's coupon once"
# Waits until a command prints something (marketing learns of deliveries a moment later).
wait_out() { for _ in $(seq 100); do out=$("$@" 2>/dev/null) && [ -n "$out" ] && { echo "$out"; return 0; }; sleep 0.1; done; "$@"; }
deliver() {
    local who=$1; shift
    local id; id=$(as "$who" order place --customer "$who" "$@" | order_id)
    retry as olga store accept "$id" >/dev/null
    as olga store finish "$id" >/dev/null
    retry as rider-7 delivery pick-up "$id" --rider rider-7 >/dev/null
    as rider-7 delivery complete "$id" >/dev/null
}
deliver "ada-$run" --item pizza
deliver "ada-$run" --item cola
deliver "fay-$run" --item pizza --item tiramisu
wait_out as "ada-$run" marketing coupons --customer "ada-$run"
echo "   what goes with what ada orders often (fay had tiramisu with her pizza):"
wait_out as "ada-$run" marketing recommendations --customer "ada-$run"
echo "   her digest comes every morning at 9 in her own time zone:"
as "ada-$run" marketing digest --customer "ada-$run" --time-zone Europe/Berlin
