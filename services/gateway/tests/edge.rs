//! The edge on its own, as a browser meets it: the gateway on port 0 in front of a real store
//! service (its own database and nats-server), called with tonic's gRPC-Web client over
//! HTTP/1.1 — the protocol browsers speak.

use std::net::SocketAddr;
use std::time::Duration;

use fd_proto::payment::v1::payment_service_client::PaymentServiceClient;
use fd_proto::store::v1::catalog_service_client::CatalogServiceClient;
use fd_proto::store::v1::store_service_client::StoreServiceClient;
use fd_testkit::{Alone, Backend};
use tonic::Code;

type Web = tonic_web::GrpcWebClientService<
    hyper_util::client::legacy::Client<
        hyper_util::client::legacy::connect::HttpConnector,
        tonic_web::GrpcWebCall<tonic::body::Body>,
    >,
>;

struct Edge {
    url: String,
    _store: Alone,
}

/// The gateway in front of a store (the other services are not running).
async fn edge(extra: &[(&str, &str)]) -> Edge {
    let store = Alone::start(Backend::Sqlite, "store", &[], store::run).await;
    let mut vars: Vec<(String, String)> = fd_testkit::issuer::shared().service_env();
    vars.push(("STORE_ADDR".into(), store.server.url()));
    // Nothing listens there: the order service is away.
    vars.push(("ORDER_ADDR".into(), "http://127.0.0.1:1".into()));
    vars.push(("DELIVERY_ADDR".into(), "http://127.0.0.1:1".into()));
    vars.push(("NOTIFICATION_ADDR".into(), "http://127.0.0.1:1".into()));
    vars.extend(
        extra
            .iter()
            .map(|(k, v)| ((*k).to_string(), (*v).to_string())),
    );
    let cfg = gateway::Config::from_env(fd_chassis::config::Env::from_pairs(vars)).expect("config");
    let router = gateway::app(&cfg).await.expect("app");
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind");
    let url = format!("http://{}", listener.local_addr().expect("addr"));
    tokio::spawn(async move {
        axum::serve(
            listener,
            router.into_make_service_with_connect_info::<SocketAddr>(),
        )
        .await
    });
    Edge { url, _store: store }
}

fn web(_url: &str) -> Web {
    let client = hyper_util::client::legacy::Client::builder(hyper_util::rt::TokioExecutor::new())
        .build_http();
    tower::ServiceBuilder::new()
        .layer(tonic_web::GrpcWebClientLayer::new())
        .service(client)
}

fn bearer(who: &str, role: &str) -> String {
    format!(
        "Bearer {}",
        fd_testkit::issuer::shared().token_for(who, &[role])
    )
}

fn with_token<T>(msg: T, token: Option<&str>) -> tonic::Request<T> {
    let mut req = tonic::Request::new(msg);
    if let Some(t) = token.and_then(|t| t.parse().ok()) {
        req.metadata_mut().insert("authorization", t);
    }
    req
}

fn list_stores() -> fd_proto::store::v1::ListStoresRequest {
    fd_proto::store::v1::ListStoresRequest {
        open_only: false,
        page_size: 10,
        page_token: String::new(),
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn grpc_web_calls_pass_with_a_token_and_are_refused_without_one() {
    let e = edge(&[]).await;
    let origin: http::Uri = e.url.parse().expect("uri");
    let mut catalog = CatalogServiceClient::with_origin(web(&e.url), origin.clone());
    let token = bearer("ada", "customer");
    catalog
        .list_stores(with_token(list_stores(), Some(&token)))
        .await
        .expect("a customer reads the catalog through the edge");
    let err = catalog
        .list_stores(with_token(list_stores(), None))
        .await
        .expect_err("no token");
    assert_eq!(err.code(), Code::Unauthenticated, "{err:?}");
    let err = catalog
        .list_stores(with_token(list_stores(), Some("Bearer not-a-jwt")))
        .await
        .expect_err("bad token");
    assert_eq!(err.code(), Code::Unauthenticated, "{err:?}");
    // Payment is for order alone: not reachable from outside, whoever asks.
    let mut payment = PaymentServiceClient::with_origin(web(&e.url), origin);
    let err = payment
        .get_payment(with_token(
            fd_proto::payment::v1::GetPaymentRequest {
                lookup: Some(fd_proto::payment::v1::get_payment_request::Lookup::OrderId(
                    "o".into(),
                )),
            },
            Some(&bearer("ops", "operator")),
        ))
        .await
        .expect_err("payment");
    assert_eq!(err.code(), Code::Unimplemented, "{err:?}");
    assert!(
        err.message().contains("not served at the edge"),
        "{}",
        err.message()
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn requests_over_the_size_limit_and_clients_over_their_rate_are_refused() {
    let e = edge(&[
        ("MAX_MESSAGE_BYTES", "1024"),
        ("RATE_PER_CLIENT", "5"),
        ("RATE_BURST", "5"),
    ])
    .await;
    let origin: http::Uri = e.url.parse().expect("uri");
    let token = bearer("olga", "owner");
    let mut owner = StoreServiceClient::with_origin(web(&e.url), origin.clone());
    let err = owner
        .create_store(with_token(
            fd_proto::store::v1::CreateStoreRequest {
                store_id: "s-big".into(),
                owner_id: "olga".into(),
                name: "x".repeat(2000),
                currency_code: "EUR".into(),
                open: true,
            },
            Some(&token),
        ))
        .await
        .expect_err("too large");
    assert_eq!(err.code(), Code::ResourceExhausted, "{err:?}");
    assert!(err.message().contains("1024 bytes"), "{}", err.message());

    // The burst (5, one of which the large request used), then refusals with a retry delay,
    // then served again once tokens have come back (5 a second).
    let mut catalog = CatalogServiceClient::with_origin(web(&e.url), origin);
    let mut refused = None;
    for _ in 0..6 {
        if let Err(s) = catalog
            .list_stores(with_token(list_stores(), Some(&token)))
            .await
        {
            refused = Some(s);
            break;
        }
    }
    let refused = refused.expect("the sixth call within the burst is refused");
    assert_eq!(refused.code(), Code::ResourceExhausted, "{refused:?}");
    assert!(
        refused.message().contains("too many calls"),
        "{}",
        refused.message()
    );
    tokio::time::sleep(Duration::from_millis(450)).await;
    catalog
        .list_stores(with_token(list_stores(), Some(&token)))
        .await
        .expect("served again");
}

/// A raw HTTP/1.1 exchange: the status line and headers of the answer.
async fn http(url: &str, request: &str) -> String {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let host = url.trim_start_matches("http://");
    let mut s = tokio::net::TcpStream::connect(host).await.expect("connect");
    s.write_all(request.replace("{host}", host).as_bytes())
        .await
        .expect("write");
    let mut out = Vec::new();
    let _ = tokio::time::timeout(Duration::from_secs(5), s.read_to_end(&mut out)).await;
    String::from_utf8_lossy(&out).to_ascii_lowercase()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn cors_admits_only_the_configured_origins_and_health_names_each_service() {
    let e = edge(&[("CORS_ORIGINS", "https://app.example")]).await;
    let preflight = |origin: &str| {
        format!(
            "OPTIONS /fooddelivery.store.v1.CatalogService/ListStores HTTP/1.1\r\nHost: {{host}}\r\n\
             Origin: {origin}\r\nAccess-Control-Request-Method: POST\r\n\
             Access-Control-Request-Headers: content-type,authorization,x-grpc-web\r\nConnection: close\r\n\r\n"
        )
    };
    let allowed = http(&e.url, &preflight("https://app.example")).await;
    assert!(
        allowed.contains("access-control-allow-origin: https://app.example"),
        "{allowed}"
    );
    assert!(allowed.contains("authorization"), "{allowed}");
    let other = http(&e.url, &preflight("https://evil.example")).await;
    assert!(!other.contains("access-control-allow-origin"), "{other}");

    // The store is up, order is away: not healthy, and it says which.
    let health = http(
        &e.url,
        "GET /healthz HTTP/1.1\r\nHost: {host}\r\nConnection: close\r\n\r\n",
    )
    .await;
    assert!(health.starts_with("http/1.1 503"), "{health}");
    assert!(health.contains("\"store\":\"serving\""), "{health}");
    assert!(health.contains("\"order\":\"unavailable"), "{health}");

    // The web app is served for any other path (its own routing), from WEB_DIR.
    let dir = tempfile::tempdir().expect("dir");
    std::fs::write(
        dir.path().join("index.html"),
        "<!doctype html><title>app</title>",
    )
    .expect("write");
    let with_app = edge(&[("WEB_DIR", dir.path().to_str().expect("path"))]).await;
    let page = http(
        &with_app.url,
        "GET /orders/123 HTTP/1.1\r\nHost: {host}\r\nConnection: close\r\n\r\n",
    )
    .await;
    assert!(
        page.starts_with("http/1.1 200") && page.contains("<title>app</title>"),
        "{page}"
    );
    // Files go compressed to browsers that accept it.
    std::fs::write(
        dir.path().join("app.js"),
        "console.log('app');\n".repeat(500),
    )
    .expect("write");
    let js = http(
        &with_app.url,
        "GET /app.js HTTP/1.1\r\nHost: {host}\r\nAccept-Encoding: gzip\r\nConnection: close\r\n\r\n",
    )
    .await;
    assert!(
        js.starts_with("http/1.1 200") && js.contains("content-encoding: gzip"),
        "{}",
        &js[..js.len().min(300)]
    );
}

#[test]
fn bad_configuration_is_named_key_by_key() {
    let err = gateway::Config::from_env(fd_chassis::config::Env::from_pairs([
        ("ORDER_ADDR", "order:50051"),
        ("RATE_PER_CLIENT", "-1"),
        ("CORS_ORIGINS", "app.example/"),
        ("MAX_MESSAGE_BYTES", "10"),
    ]))
    .expect_err("bad");
    let msg = err.to_string();
    for key in [
        "ORDER_ADDR",
        "RATE_PER_CLIENT",
        "CORS_ORIGINS",
        "MAX_MESSAGE_BYTES",
        "AUTH_JWKS_URL",
    ] {
        assert!(msg.contains(key), "{key} missing from: {msg}");
    }
}
