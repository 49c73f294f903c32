//! One trace across gRPC and JetStream. The five Rust services and the Python marketing service
//! run as real processes (the way `make run` starts them), each exporting over OTLP/gRPC to a receiver this test serves; the
//! test drives two orders and then reads the traces back.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use fd_proto::delivery::v1 as delivery;
use fd_proto::order::v1 as order;
use fd_proto::store::v1 as store;
use fd_system_tests::bin_dir;
use fd_testkit::issuer::AuthChannel;
use fd_testkit::system::{Options, ProcessSystem};
use opentelemetry_proto::tonic::collector::trace::v1::trace_service_server::{
    TraceService, TraceServiceServer,
};
use opentelemetry_proto::tonic::collector::trace::v1::{
    ExportTraceServiceRequest, ExportTraceServiceResponse,
};
use opentelemetry_proto::tonic::common::v1::any_value::Value;
use tonic::transport::Channel;

/// A span as the receiver got it.
#[derive(Debug, Clone)]
struct Span {
    trace: String,
    id: String,
    parent: String,
    name: String,
    kind: i32,
    service: String,
    attrs: HashMap<String, String>,
    links: Vec<String>, // linked trace ids
}

const SERVER: i32 = 2;
const CLIENT: i32 = 3;
const PRODUCER: i32 = 4;
const CONSUMER: i32 = 5;

#[derive(Clone, Default)]
struct Receiver {
    spans: Arc<Mutex<Vec<Span>>>,
}

fn hex(b: &[u8]) -> String {
    b.iter().map(|x| format!("{x:02x}")).collect()
}

fn text(v: &Option<opentelemetry_proto::tonic::common::v1::AnyValue>) -> String {
    match v.as_ref().and_then(|v| v.value.as_ref()) {
        Some(Value::StringValue(s)) => s.clone(),
        Some(Value::IntValue(i)) => i.to_string(),
        Some(Value::BoolValue(b)) => b.to_string(),
        Some(Value::DoubleValue(d)) => d.to_string(),
        _ => String::new(),
    }
}

#[tonic::async_trait]
impl TraceService for Receiver {
    async fn export(
        &self,
        req: tonic::Request<ExportTraceServiceRequest>,
    ) -> Result<tonic::Response<ExportTraceServiceResponse>, tonic::Status> {
        let mut out = self.spans.lock().expect("lock");
        for rs in req.into_inner().resource_spans {
            let service = rs
                .resource
                .as_ref()
                .and_then(|r| r.attributes.iter().find(|a| a.key == "service.name"))
                .map(|a| text(&a.value))
                .unwrap_or_default();
            for ss in rs.scope_spans {
                for s in ss.spans {
                    out.push(Span {
                        trace: hex(&s.trace_id),
                        id: hex(&s.span_id),
                        parent: hex(&s.parent_span_id),
                        name: s.name,
                        kind: s.kind,
                        service: service.clone(),
                        attrs: s
                            .attributes
                            .iter()
                            .map(|a| (a.key.clone(), text(&a.value)))
                            .collect(),
                        links: s.links.iter().map(|l| hex(&l.trace_id)).collect(),
                    });
                }
            }
        }
        Ok(tonic::Response::new(ExportTraceServiceResponse {
            partial_success: None,
        }))
    }
}

async fn eventually<T, F, Fut>(what: &str, mut check: F) -> T
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = Option<T>>,
{
    for _ in 0..300 {
        if let Some(v) = check().await {
            return v;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    panic!("timed out waiting for {what}");
}

struct Trace<'a>(Vec<&'a Span>);

impl<'a> Trace<'a> {
    fn of(all: &'a [Span], trace: &str) -> Self {
        Self(all.iter().filter(|s| s.trace == trace).collect())
    }
    fn find(&self, name: &str, service: &str) -> Vec<&'a Span> {
        self.0
            .iter()
            .copied()
            .filter(|s| s.name == name && s.service == service)
            .collect()
    }
    fn one(&self, name: &str, service: &str) -> &'a Span {
        let found = self.find(name, service);
        assert_eq!(
            found.len(),
            1,
            "exactly one {name} in {service}; trace has:\n{}",
            self.dump()
        );
        found[0]
    }
    fn parent(&self, s: &Span) -> Option<&'a Span> {
        self.0.iter().copied().find(|p| p.id == s.parent)
    }
    /// Names of the producer spans between `s` and the root: the JetStream hops it took.
    fn hops(&self, s: &Span) -> Vec<String> {
        let mut hops = Vec::new();
        let mut cur = self.parent(s);
        while let Some(p) = cur {
            if p.kind == PRODUCER {
                hops.push(p.name.clone());
            }
            cur = self.parent(p);
        }
        hops
    }
    fn root(&self) -> &'a Span {
        let roots: Vec<_> = self
            .0
            .iter()
            .copied()
            .filter(|s| s.parent.is_empty())
            .collect();
        assert_eq!(roots.len(), 1, "one root:\n{}", self.dump());
        roots[0]
    }
    fn dump(&self) -> String {
        self.0
            .iter()
            .map(|s| {
                format!(
                    "  {} [{}] kind={} parent={}",
                    s.name, s.service, s.kind, s.parent
                )
            })
            .collect::<Vec<_>>()
            .join("\n")
    }
    fn assert_connected(&self) {
        for s in &self.0 {
            if !s.parent.is_empty() {
                assert!(
                    self.parent(s).is_some(),
                    "{} [{}] has a parent outside the trace:\n{}",
                    s.name,
                    s.service,
                    self.dump()
                );
            }
        }
    }
}

fn assert_messaging(s: &Span, subject: &str, op: &str) {
    assert_eq!(
        s.attrs.get("messaging.system").map(String::as_str),
        Some("nats"),
        "{s:?}"
    );
    assert_eq!(
        s.attrs
            .get("messaging.destination.name")
            .map(String::as_str),
        Some(subject),
        "{s:?}"
    );
    assert_eq!(
        s.attrs.get("messaging.operation.type").map(String::as_str),
        Some(op),
        "{s:?}"
    );
    assert!(
        s.attrs
            .get("messaging.message.id")
            .is_some_and(|v| !v.is_empty()),
        "{s:?}"
    );
}

/// The current RPC conventions: `rpc.system.name`, `rpc.method` = `package.Service/Method`,
/// the status name in `rpc.response.status_code`; the deprecated names are not emitted unless
/// `OTEL_SEMCONV_STABILITY_OPT_IN=rpc/dup`.
fn assert_rpc(s: &Span, service: &str, method: &str) {
    let get = |k: &str| s.attrs.get(k).map(String::as_str);
    assert_eq!(get("rpc.system.name"), Some("grpc"), "{s:?}");
    let full = format!("{service}/{method}");
    assert_eq!(get("rpc.method"), Some(full.as_str()), "{s:?}");
    assert_eq!(get("rpc.response.status_code"), Some("OK"), "{s:?}");
    for deprecated in ["rpc.system", "rpc.service", "rpc.grpc.status_code"] {
        assert_eq!(get(deprecated), None, "{deprecated} without opt-in: {s:?}");
    }
    // Where in the code it began; not busy and idle times or the thread, which cost two clock
    // reads on every poll and an allocation per span (issue 19).
    assert!(get("code.file.path").is_some(), "{s:?}");
    for costly in ["busy_ns", "idle_ns", "thread.id", "thread.name"] {
        assert_eq!(get(costly), None, "{costly}: {s:?}");
    }
    if s.kind == CLIENT {
        // Where it called.
        assert_eq!(get("server.address"), Some("127.0.0.1"), "{s:?}");
        assert!(
            get("server.port").is_some_and(|p| p.parse::<u16>().is_ok()),
            "{s:?}"
        );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn place_and_cancel_each_form_one_trace_across_grpc_and_jetstream() {
    // The OTLP receiver.
    let receiver = Receiver::default();
    let otlp = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind");
    let otlp_url = format!("http://{}", otlp.local_addr().expect("addr"));
    tokio::spawn(
        tonic::transport::Server::builder()
            .add_service(TraceServiceServer::new(receiver.clone()))
            .serve_with_incoming(tokio_stream::wrappers::TcpListenerStream::new(otlp)),
    );

    // NATS and the five services as processes, through the one launcher.
    let dir = tempfile::tempdir().expect("dir");
    let opts = Options::new(bin_dir(), dir.path())
        .env("OTEL_EXPORTER_OTLP_ENDPOINT", &otlp_url)
        .env("OTEL_BSP_SCHEDULE_DELAY", "100")
        .env("LOG_FORMAT", "json");
    let sys = ProcessSystem::start(opts).await.expect("system");
    let url = |name: &str| sys.url(name);
    let ch = |name: &str| Channel::from_shared(url(name)).expect("url").connect_lazy();
    let issuer = sys.issuer();
    let as_ = |name: &str, who: &str, roles: &[&str]| {
        fd_testkit::issuer::with_token(ch(name), &issuer.token_for(who, roles))
    };
    let customer = |who: &str| {
        order::order_service_client::OrderServiceClient::new(as_("order", who, &["customer"]))
    };
    let mut stores =
        store::store_service_client::StoreServiceClient::new(as_("store", "olga", &["owner"]));
    let mut deliveries = delivery::delivery_service_client::DeliveryServiceClient::new(as_(
        "delivery",
        "r1",
        &["rider", "operator"],
    ));

    let place = |customer: &str| order::PlaceOrderRequest {
        idempotency_key: "k".into(),
        customer_id: customer.into(),
        store_id: "store-1".into(),
        items: vec![order::LineItem {
            menu_item_id: "pizza".into(),
            name: "Margherita".into(),
            quantity: 1,
            unit_price: Some(fd_proto::common::v1::Money {
                amount_minor: 1250, // the demo menu's price
                currency_code: "EUR".into(),
            }),
        }],
        delivery_address: "1 Main Street".into(),
    };
    // Drives an order until it waits for a rider.
    async fn cook(
        orders: &mut order::order_service_client::OrderServiceClient<AuthChannel>,
        stores: &mut store::store_service_client::StoreServiceClient<AuthChannel>,
        deliveries: &mut delivery::delivery_service_client::DeliveryServiceClient<AuthChannel>,
        req: order::PlaceOrderRequest,
    ) -> String {
        let id = orders
            .place_order(req)
            .await
            .expect("placed")
            .into_inner()
            .order
            .expect("o")
            .order_id;
        eventually("ticket", || {
            let mut s = stores.clone();
            let id = id.clone();
            async move {
                s.accept_order(store::AcceptOrderRequest { order_id: id })
                    .await
                    .ok()
                    .map(|_| ())
            }
        })
        .await;
        stores
            .finish_cooking(store::FinishCookingRequest {
                order_id: id.clone(),
            })
            .await
            .expect("cooked");
        eventually("delivery", || {
            let mut d = deliveries.clone();
            let id = id.clone();
            async move {
                d.get_delivery(delivery::GetDeliveryRequest { order_id: id })
                    .await
                    .ok()
                    .map(|_| ())
            }
        })
        .await;
        id
    }

    // Order A: delivered. Order B: cancelled after cooking (refund + delivery cancellation).
    let a = cook(
        &mut customer("tracy-a"),
        &mut stores,
        &mut deliveries,
        place("tracy-a"),
    )
    .await;
    deliveries
        .pick_up(delivery::PickUpRequest {
            order_id: a.clone(),
            rider_id: "r1".into(),
        })
        .await
        .expect("pick up");
    deliveries
        .complete_delivery(delivery::CompleteDeliveryRequest {
            order_id: a.clone(),
        })
        .await
        .expect("delivered");
    let mut orders = customer("tracy-b");
    let b = cook(&mut orders, &mut stores, &mut deliveries, place("tracy-b")).await;
    orders
        .cancel_order(order::CancelOrderRequest {
            order_id: b.clone(),
            reason: "late".into(),
        })
        .await
        .expect("cancel");

    // Wait until the last hops of both traces arrived.
    let spans = eventually("the spans of both traces", || {
        let spans = receiver.spans.clone();
        async move {
            let all = spans.lock().expect("lock").clone();
            let has = |name: &str, svc: &str| {
                all.iter()
                    .filter(|s| s.name == name && s.service == svc)
                    .count()
            };
            let done = has("fooddelivery.delivery.v1.Delivered process", "notification") >= 1
                && has("fooddelivery.payment.v1.PaymentRefunded process", "order") >= 1
                && has(
                    "fooddelivery.delivery.v1.DeliveryCancelled process",
                    "order",
                ) >= 1
                && has("fooddelivery.delivery.v1.Delivered process", "order") >= 1
                // Marketing (Python) follows both sagas.
                && has("fooddelivery.delivery.v1.Delivered process", "marketing") >= 1
                && has("fooddelivery.order.v1.OrderCancelled process", "marketing") >= 1
                // Every consumer of the cancellation (notification's is often last).
                && ["payment", "delivery", "store", "notification"]
                    .iter()
                    .all(|svc| has("fooddelivery.order.v1.OrderCancelled process", svc) >= 1);
            // And every span of the placements' and the cancellation's traces has its parent
            // here too: a publish span ends when JetStream acknowledges it, which can be after
            // its consumer's span was exported by another process.
            let ids: std::collections::HashSet<&str> = all.iter().map(|s| s.id.as_str()).collect();
            let sagas: std::collections::HashSet<&str> = all
                .iter()
                .filter(|s| s.name == "place_order" || s.name == "cancel_order")
                .map(|s| s.trace.as_str())
                .collect();
            let connected = all
                .iter()
                .filter(|s| sagas.contains(s.trace.as_str()))
                .all(|s| s.parent.is_empty() || ids.contains(s.parent.as_str()));
            (done && connected).then_some(all)
        }
    })
    .await;

    // --- Trace A: PlaceOrder → Authorize → publish → store → delivery → notification ---
    let place_a = spans
        .iter()
        .find(|s| {
            s.name == "place_order"
                && s.attrs.get("customer_id").map(String::as_str) == Some("tracy-a")
        })
        .expect("place_order span of order A");
    let ta = Trace::of(&spans, &place_a.trace);
    ta.assert_connected();
    let root = ta.root();
    assert_eq!(
        (root.name.as_str(), root.service.as_str(), root.kind),
        (
            "fooddelivery.order.v1.OrderService/PlaceOrder",
            "order",
            SERVER
        )
    );
    assert_rpc(root, "fooddelivery.order.v1.OrderService", "PlaceOrder");
    let client = ta.one("fooddelivery.payment.v1.PaymentService/Authorize", "order");
    assert_eq!(client.kind, CLIENT);
    let authorize = ta.one(
        "fooddelivery.payment.v1.PaymentService/Authorize",
        "payment",
    );
    assert_eq!(
        (authorize.kind, authorize.parent.as_str()),
        (SERVER, client.id.as_str()),
        "payment's server span is the client span's child"
    );
    assert_rpc(
        authorize,
        "fooddelivery.payment.v1.PaymentService",
        "Authorize",
    );

    let placed = ta.one("fooddelivery.order.v1.OrderPlaced publish", "order");
    assert_eq!(placed.kind, PRODUCER);
    assert_messaging(placed, "fooddelivery.order.v1.OrderPlaced", "send");
    for svc in ["store", "notification", "marketing"] {
        let p = ta.one("fooddelivery.order.v1.OrderPlaced process", svc);
        assert_eq!(
            (p.kind, p.parent.as_str()),
            (CONSUMER, placed.id.as_str()),
            "{svc} processes as a child of the publish"
        );
        assert_messaging(p, "fooddelivery.order.v1.OrderPlaced", "process");
    }
    let cooked = ta.one("fooddelivery.store.v1.CookingFinished process", "delivery");
    assert_eq!(
        ta.hops(cooked),
        [
            "fooddelivery.store.v1.CookingFinished publish",
            "fooddelivery.order.v1.OrderPlaced publish"
        ]
    );
    let delivered = ta.one("fooddelivery.delivery.v1.Delivered process", "notification");
    assert_eq!(
        ta.hops(delivered),
        [
            "fooddelivery.delivery.v1.Delivered publish",
            "fooddelivery.store.v1.CookingFinished publish",
            "fooddelivery.order.v1.OrderPlaced publish"
        ],
        "three JetStream hops back to PlaceOrder"
    );
    // The Python service's consumer span sits in the same place as the Rust ones'.
    let marketing = ta.one("fooddelivery.delivery.v1.Delivered process", "marketing");
    assert_eq!(marketing.kind, CONSUMER);
    assert_eq!(ta.hops(marketing), ta.hops(delivered));
    assert_messaging(marketing, "fooddelivery.delivery.v1.Delivered", "process");
    assert_eq!(
        marketing
            .attrs
            .get("messaging.consumer.group.name")
            .map(String::as_str),
        Some("marketing-coupon-on-delivered")
    );
    let services: std::collections::BTreeSet<_> = ta.0.iter().map(|s| s.service.as_str()).collect();
    assert_eq!(
        services.into_iter().collect::<Vec<_>>(),
        [
            "delivery",
            "marketing",
            "notification",
            "order",
            "payment",
            "store"
        ]
    );
    // The owner's FinishCooking is a trace of its own, linked to the saga.
    let finish = spans
        .iter()
        .find(|s| {
            s.name == "fooddelivery.store.v1.StoreService/FinishCooking"
                && s.links.contains(&place_a.trace)
        })
        .expect("FinishCooking linked to order A's trace");
    assert_ne!(finish.trace, place_a.trace);

    // --- Trace B: CancelOrder → refund + delivery cancellation ---
    let cancel = spans
        .iter()
        .find(|s| s.name == "fooddelivery.order.v1.OrderService/CancelOrder")
        .expect("CancelOrder span");
    let tb = Trace::of(&spans, &cancel.trace);
    tb.assert_connected();
    assert_eq!(tb.root().id, cancel.id);
    assert_rpc(cancel, "fooddelivery.order.v1.OrderService", "CancelOrder");
    let cancelled = tb.one("fooddelivery.order.v1.OrderCancelled publish", "order");
    for svc in ["payment", "delivery", "store", "notification", "marketing"] {
        let p = tb.one("fooddelivery.order.v1.OrderCancelled process", svc);
        assert_eq!(p.parent, cancelled.id, "{svc}");
    }
    let refunded = tb.one("fooddelivery.payment.v1.PaymentRefunded process", "order");
    assert_eq!(
        tb.hops(refunded),
        [
            "fooddelivery.payment.v1.PaymentRefunded publish",
            "fooddelivery.order.v1.OrderCancelled publish"
        ]
    );
    let delivery_cancelled = tb.one(
        "fooddelivery.delivery.v1.DeliveryCancelled process",
        "order",
    );
    assert_eq!(
        tb.hops(delivery_cancelled),
        [
            "fooddelivery.delivery.v1.DeliveryCancelled publish",
            "fooddelivery.order.v1.OrderCancelled publish"
        ]
    );

    // Logs carry the trace: order's JSON log line for the placement names trace A.
    let log = std::fs::read_to_string(sys.log("order")).expect("order log");
    let line = log
        .lines()
        .find(|l| l.contains("order placed") && l.contains("tracy-a"))
        .expect("log line");
    assert!(
        line.contains(&format!("\"trace_id\":\"{}\"", place_a.trace)),
        "{line}"
    );
    assert!(line.contains("\"span_id\""), "{line}");
    sys.stop().await;
}

/// An OTLP/HTTP receiver: records the POSTs (to /v1/traces, /v1/metrics) and their content type.
async fn http_receiver() -> (String, Arc<Mutex<Vec<String>>>) {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind");
    let url = format!("http://{}", listener.local_addr().expect("addr"));
    let seen = Arc::new(Mutex::new(Vec::new()));
    let log = seen.clone();
    tokio::spawn(async move {
        while let Ok((mut socket, _)) = listener.accept().await {
            let log = log.clone();
            tokio::spawn(async move {
                let mut buf = vec![0u8; 1 << 20];
                let n = socket.read(&mut buf).await.unwrap_or(0);
                let head = String::from_utf8_lossy(&buf[..n]).to_string();
                if let Some(first) = head.lines().next() {
                    let ctype = head
                        .lines()
                        .find(|l| l.to_ascii_lowercase().starts_with("content-type:"))
                        .unwrap_or_default()
                        .to_string();
                    log.lock().expect("lock").push(format!("{first} {ctype}"));
                }
                let _ = socket
                    .write_all(b"HTTP/1.1 200 OK\r\ncontent-length: 0\r\nconnection: close\r\n\r\n")
                    .await;
            });
        }
    });
    (url, seen)
}

/// Starts the payment binary alone with `env`, makes one traced RPC, and stops it (SIGTERM
/// flushes the batch of spans).
async fn one_traced_call(env: &[(&str, &str)]) {
    let dir = tempfile::tempdir().expect("dir");
    let port = fd_testkit::system::free_port().expect("port");
    let mut child = tokio::process::Command::new(bin_dir().join("payment"))
        .env("LISTEN_ADDR", format!("127.0.0.1:{port}"))
        .env("DATA_DIR", dir.path())
        .env("NATS_URL", "nats://127.0.0.1:1")
        .env(
            "METRICS_ADDR",
            format!(
                "127.0.0.1:{}",
                fd_testkit::system::free_port().expect("port")
            ),
        )
        .env("OTEL_METRIC_EXPORT_INTERVAL", "200")
        .env_remove("OTEL_EXPORTER_OTLP_ENDPOINT")
        .envs(fd_testkit::issuer::shared().service_env())
        .envs(env.iter().copied())
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .kill_on_drop(true)
        .spawn()
        .expect("payment");
    let url = format!("http://127.0.0.1:{port}");
    eventually("payment serving", || {
        let url = url.clone();
        async move {
            let payment = fd_testkit::system::health_name("payment");
            fd_testkit::system::serving_as(url, &payment)
                .await
                .then_some(())
        }
    })
    .await;
    let mut client = fd_proto::payment::v1::payment_service_client::PaymentServiceClient::new(
        fd_testkit::issuer::as_user(
            Channel::from_shared(url).expect("url").connect_lazy(),
            "ops",
            &["operator"],
        ),
    );
    let _ = client
        .get_payment(fd_proto::payment::v1::GetPaymentRequest {
            lookup: Some(fd_proto::payment::v1::get_payment_request::Lookup::OrderId(
                "nope".into(),
            )),
        })
        .await;
    if let Some(pid) = child.id() {
        let _ = tokio::process::Command::new("kill")
            .args(["-TERM", &pid.to_string()])
            .status()
            .await;
    }
    let _ = tokio::time::timeout(Duration::from_secs(10), child.wait()).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn otlp_over_http_protobuf_and_the_sdk_switch() {
    let (url, seen) = http_receiver().await;
    one_traced_call(&[
        ("OTEL_EXPORTER_OTLP_PROTOCOL", "http/protobuf"),
        ("OTEL_EXPORTER_OTLP_ENDPOINT", &url),
    ])
    .await;
    let posts = seen.lock().expect("lock").clone();
    for signal in ["traces", "metrics"] {
        assert!(
            posts
                .iter()
                .any(|p| p.starts_with(&format!("POST /v1/{signal} "))
                    && p.contains("application/x-protobuf")),
            "{signal}: {posts:?}"
        );
    }

    let (url, seen) = http_receiver().await;
    one_traced_call(&[
        ("OTEL_EXPORTER_OTLP_PROTOCOL", "http/protobuf"),
        ("OTEL_EXPORTER_OTLP_ENDPOINT", &url),
        ("OTEL_SDK_DISABLED", "true"),
    ])
    .await;
    assert!(
        seen.lock().expect("lock").is_empty(),
        "OTEL_SDK_DISABLED=true exports nothing"
    );
}
