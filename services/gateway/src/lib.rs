//! The edge: one HTTP/1.1 + HTTP/2 port in front of the services, for browsers.
//!
//! - `/` and every other GET: the web app (`WEB_DIR`, `index.html` for unknown paths).
//! - gRPC-Web calls (`application/grpc-web*`, the browser's gRPC) to
//!   `/fooddelivery.{order,store,delivery,notification}.*`: translated to gRPC
//!   ([`tonic_web`]) and passed to the service, with the end user's token checked first
//!   (UNAUTHENTICATED, as the services would say), a size limit (`MAX_MESSAGE_BYTES`) and a
//!   rate limit per client address (`RATE_PER_CLIENT` per second, bursts of `RATE_BURST`),
//!   both RESOURCE_EXHAUSTED. Payment is not reachable from outside: only order calls it.
//! - `GET /healthz`: the health of every service behind it (200 SERVING, else 503).
//! - `POST /auth/token`: the demo issuer's password grant (`DEMO_ISSUER_URL`; `make run`
//!   only), so the app can sign in as a demo user.
//! - CORS for the origins in `CORS_ORIGINS` (none by default: the app is same-origin).
//!
//! The services check every token and ownership again: the gateway is a first line, not the
//! only one.

pub mod limits;
pub mod proxy;

use std::net::SocketAddr;
use std::path::PathBuf;
use std::time::Duration;

use axum::response::IntoResponse;
use fd_chassis::config::{ConfigError, Env, LogFormat};
use http::{HeaderValue, Method, StatusCode};
use tokio::net::TcpListener;

/// The contexts whose APIs the edge exposes, with their default addresses.
pub const UPSTREAMS: [(&str, u16); 4] = [
    ("order", 50051),
    ("store", 50053),
    ("delivery", 50054),
    ("notification", 50055),
];

/// Everything the gateway is configured with.
#[derive(Debug, Clone)]
pub struct Config {
    /// `LISTEN_ADDR` (default 127.0.0.1:8080).
    pub listen_addr: SocketAddr,
    /// `<CONTEXT>_ADDR`: where each service is (`http://127.0.0.1:50051` ...).
    pub upstreams: Vec<(String, String)>,
    /// `WEB_DIR`: the built web app (default `web/dist`).
    pub web_dir: PathBuf,
    /// `AUTH_*`: whose tokens are accepted.
    pub auth: fd_chassis::auth::AuthConfig,
    /// `DEMO_ISSUER_URL`: the demo issuer behind `POST /auth/token` (unset: no sign-in here).
    pub demo_issuer: Option<String>,
    /// `MAX_MESSAGE_BYTES`: largest request body accepted (default 64 KiB).
    pub max_message_bytes: usize,
    /// `RATE_PER_CLIENT`, `RATE_BURST`: calls per second per client address, and the burst.
    pub rate: limits::Rate,
    /// `CORS_ORIGINS`: origins (comma-separated) other than the gateway's own that may call.
    pub cors_origins: Vec<HeaderValue>,
    /// `LOG_FORMAT`.
    pub log_format: LogFormat,
}

impl Config {
    /// Reads the configuration; every bad value is reported at once.
    pub fn from_env(mut env: Env) -> Result<Self, ConfigError> {
        let listen_addr = env.parse("LISTEN_ADDR", SocketAddr::from(([127, 0, 0, 1], 8080)));
        let upstreams = UPSTREAMS
            .iter()
            .map(|(name, port)| {
                let key = format!("{}_ADDR", name.to_ascii_uppercase());
                let url = env.string(&key, &format!("http://127.0.0.1:{port}"));
                env.check(
                    &key,
                    url.starts_with("http://") || url.starts_with("https://"),
                    "expected an http://HOST:PORT URL",
                );
                ((*name).to_string(), url)
            })
            .collect();
        let web_dir = PathBuf::from(env.string("WEB_DIR", "web/dist"));
        let auth = fd_chassis::auth::AuthConfig::read(&mut env);
        let demo_issuer = Some(env.string("DEMO_ISSUER_URL", "")).filter(|s| !s.is_empty());
        let max_message_bytes = env.parse("MAX_MESSAGE_BYTES", 64 * 1024usize);
        env.check(
            "MAX_MESSAGE_BYTES",
            max_message_bytes >= 1024,
            "must be >= 1024",
        );
        let per_second = env.parse("RATE_PER_CLIENT", 50.0f64);
        env.check(
            "RATE_PER_CLIENT",
            per_second > 0.0,
            "must be > 0 (calls per second per client)",
        );
        let burst = env.parse("RATE_BURST", 100.0f64);
        env.check("RATE_BURST", burst >= 1.0, "must be >= 1");
        let origins = env.string("CORS_ORIGINS", "");
        let cors_origins: Vec<HeaderValue> = origins
            .split(',')
            .map(str::trim)
            .filter(|o| !o.is_empty())
            .filter_map(|o| HeaderValue::from_str(o).ok())
            .collect();
        env.check(
            "CORS_ORIGINS",
            origins
                .split(',')
                .map(str::trim)
                .filter(|o| !o.is_empty())
                .all(|o| {
                    (o.starts_with("http://") || o.starts_with("https://")) && !o.ends_with('/')
                }),
            "expected origins like https://app.example.com, comma-separated",
        );
        let log_format = env.parse("LOG_FORMAT", LogFormat::Text);
        env.finish()?;
        Ok(Self {
            listen_addr,
            upstreams,
            web_dir,
            auth,
            demo_issuer,
            max_message_bytes,
            rate: limits::Rate { per_second, burst },
            cors_origins,
            log_format,
        })
    }
}

/// The whole edge as one axum router.
pub async fn app(cfg: &Config) -> anyhow::Result<axum::Router> {
    let verifier = fd_chassis::auth::Verifier::new(cfg.auth.clone()).await;
    let upstreams = proxy::Upstreams::connect(&cfg.upstreams)?;
    // Outermost first: gRPC-Web ⇄ gRPC, then the limits (cheap refusals before any work),
    // then the token, then the service.
    let grpc = tower::ServiceBuilder::new()
        .layer(tonic_web::GrpcWebLayer::new())
        .layer(limits::RateLimitLayer::new(cfg.rate))
        .layer(limits::SizeLimitLayer::new(cfg.max_message_bytes))
        .layer(fd_chassis::auth::AuthLayer::new(verifier))
        .service(upstreams.clone());
    // The app's files, gzip-compressed for browsers that accept it (the bundle: 141 KiB raw).
    let static_files = tower::ServiceBuilder::new()
        .layer(tower_http::compression::CompressionLayer::new())
        .service(tower_http::services::ServeDir::new(&cfg.web_dir).fallback(
            tower_http::services::ServeFile::new(cfg.web_dir.join("index.html")),
        ));
    let issuer = cfg.demo_issuer.clone();
    let health_upstreams = upstreams.clone();
    let router = axum::Router::new()
        .route(
            "/healthz",
            axum::routing::get(move || health(health_upstreams.clone())),
        )
        .route(
            "/auth/token",
            axum::routing::post(move |body: String| sign_in(issuer.clone(), body)),
        )
        .fallback_service(proxy::ByContentType {
            grpc_web: tower::util::BoxCloneSyncService::new(grpc),
            other: static_files,
        })
        .layer(cors(&cfg.cors_origins));
    Ok(router)
}

fn cors(origins: &[HeaderValue]) -> tower_http::cors::CorsLayer {
    use tower_http::cors::{AllowOrigin, CorsLayer};
    let h = |s: &'static str| http::HeaderName::from_static(s);
    CorsLayer::new()
        .allow_origin(AllowOrigin::list(origins.iter().cloned()))
        .allow_methods([Method::POST, Method::GET, Method::OPTIONS])
        .allow_headers([
            http::header::CONTENT_TYPE,
            http::header::AUTHORIZATION,
            h("x-grpc-web"),
            h("x-user-agent"),
            h("grpc-timeout"),
            h("connect-protocol-version"),
        ])
        .expose_headers([
            h("grpc-status"),
            h("grpc-message"),
            h("grpc-status-details-bin"),
        ])
        .max_age(Duration::from_secs(600))
}

async fn health(upstreams: proxy::Upstreams) -> impl IntoResponse {
    let states = upstreams.health().await;
    let all = states.iter().all(|(_, s)| s == "SERVING");
    let body = serde_json::json!({
        "status": if all { "SERVING" } else { "NOT_SERVING" },
        "upstreams": states.into_iter().collect::<serde_json::Map<String, serde_json::Value>>(),
    });
    let code = if all {
        StatusCode::OK
    } else {
        StatusCode::SERVICE_UNAVAILABLE
    };
    (code, axum::Json(body))
}

/// The demo's password grant, passed to the demo issuer (nothing else of it).
async fn sign_in(issuer: Option<String>, body: String) -> axum::response::Response {
    let Some(issuer) = issuer else {
        return (
            StatusCode::NOT_FOUND,
            "sign-in is not served here: use your identity provider",
        )
            .into_response();
    };
    let form: Vec<(String, String)> = body
        .split('&')
        .filter_map(|kv| kv.split_once('='))
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect();
    let grant = form
        .iter()
        .find(|(k, _)| k == "grant_type")
        .map(|(_, v)| v.as_str());
    let user = form
        .iter()
        .find(|(k, _)| k == "username")
        .map(|(_, v)| v.clone());
    let (Some("password"), Some(user)) = (grant, user) else {
        return (
            StatusCode::BAD_REQUEST,
            axum::Json(serde_json::json!({"error": "unsupported_grant_type", "error_description": "only grant_type=password&username=NAME"})),
        )
            .into_response();
    };
    let answer = reqwest::Client::new()
        .post(format!("{issuer}/token"))
        .header("content-type", "application/x-www-form-urlencoded")
        .body(format!("grant_type=password&username={user}"))
        .timeout(Duration::from_secs(5))
        .send()
        .await;
    match answer {
        Ok(a) => {
            let status =
                StatusCode::from_u16(a.status().as_u16()).unwrap_or(StatusCode::BAD_GATEWAY);
            let text = a.text().await.unwrap_or_default();
            (
                status,
                [(http::header::CONTENT_TYPE, "application/json")],
                text,
            )
                .into_response()
        }
        Err(e) => (
            StatusCode::BAD_GATEWAY,
            format!("the demo issuer is unreachable: {e}"),
        )
            .into_response(),
    }
}

/// Serves the edge on `listener` until `shutdown`.
pub async fn run(
    cfg: Config,
    listener: TcpListener,
    shutdown: impl std::future::Future<Output = ()> + Send + 'static,
) -> anyhow::Result<()> {
    let router = app(&cfg).await?;
    tracing::info!(addr = %cfg.listen_addr, web = %cfg.web_dir.display(), "gateway serving");
    axum::serve(
        listener,
        router.into_make_service_with_connect_info::<SocketAddr>(),
    )
    .with_graceful_shutdown(shutdown)
    .await?;
    Ok(())
}
