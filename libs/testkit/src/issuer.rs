//! A small OIDC-style token issuer for the embedded default and the tests: it publishes its
//! keys as a JWKS (`GET /.well-known/jwks.json`) and issues EdDSA-signed JWTs
//! (`POST /token`) — for the demo users by name (`grant_type=password`, no password: a local
//! demo, never exposed) and for services with a client secret (`grant_type=client_credentials`).
//! In Kubernetes a real provider (Keycloak, Dex) takes its place; services only ever see its
//! JWKS URL, issuer and audience.
//!
//! Tests also mint tokens directly ([`Issuer::token`]) — expired, for another audience, signed
//! by a key nobody publishes — and rotate keys ([`Issuer::rotate`]).

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::{SystemTime, UNIX_EPOCH};

use base64::Engine;
use jsonwebtoken::{Algorithm, EncodingKey, Header};
use ring::signature::KeyPair;
use serde_json::{json, Value};
use tokio::io::{AsyncBufReadExt, AsyncReadExt, AsyncWriteExt, BufReader};
use tokio::net::TcpListener;

/// The audience services expect by default.
pub const AUDIENCE: &str = "fooddelivery";

/// The demo users and their roles (`fdctl login --as NAME`): customers ada, bea, cid, dan,
/// eve, alice; store owners olga (store-1), kenji (sakura), gina (green-bowl); riders rita,
/// rider-7; operator ops. Tests may ask for any other subject.
pub const DEMO_USERS: &[(&str, &[&str])] = &[
    ("alice", &["customer"]),
    ("ada", &["customer"]),
    ("bea", &["customer"]),
    ("cid", &["customer"]),
    ("dan", &["customer"]),
    ("eve", &["customer"]),
    ("olga", &["owner"]),
    ("kenji", &["owner"]),
    ("gina", &["owner"]),
    ("rita", &["rider"]),
    ("rider-7", &["rider"]),
    ("ops", &["operator"]),
];

struct SigningKey {
    kid: String,
    encoding: EncodingKey,
    public: Vec<u8>,
}

fn new_key() -> SigningKey {
    let rng = ring::rand::SystemRandom::new();
    let pkcs8 = ring::signature::Ed25519KeyPair::generate_pkcs8(&rng).expect("ed25519 key");
    let pair = ring::signature::Ed25519KeyPair::from_pkcs8(pkcs8.as_ref()).expect("key pair");
    SigningKey {
        kid: uuid::Uuid::new_v4().simple().to_string()[..12].to_string(),
        encoding: EncodingKey::from_ed_der(pkcs8.as_ref()),
        public: pair.public_key().as_ref().to_vec(),
    }
}

struct State {
    /// Published keys; the last one signs.
    keys: Vec<SigningKey>,
    /// Service client secrets: client id → secret.
    clients: HashMap<String, String>,
    /// Tokens for any user name (`grant_type=password&username=NAME&role=ROLE`), for tests.
    any_user: bool,
}

/// What to put in a token; [`Claims::for_user`] gives the usual ones.
#[derive(Debug, Clone)]
pub struct Claims {
    pub subject: String,
    pub roles: Vec<String>,
    pub issuer: Option<String>,
    pub audience: String,
    /// Seconds from now; negative for an expired token.
    pub expires_in: i64,
    /// Seconds from now before which the token is not valid.
    pub not_before: Option<i64>,
}

impl Claims {
    /// `subject` with `roles`, for the default audience, valid for 15 minutes.
    pub fn for_user(subject: &str, roles: &[&str]) -> Self {
        Self {
            subject: subject.to_string(),
            roles: roles.iter().map(|r| r.to_string()).collect(),
            issuer: None,
            audience: AUDIENCE.to_string(),
            expires_in: 900,
            not_before: None,
        }
    }
}

fn now_s() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_secs() as i64)
}

/// A running issuer.
#[derive(Clone)]
pub struct Issuer {
    /// `http://127.0.0.1:PORT`: also the `iss` of its tokens.
    pub url: String,
    state: Arc<Mutex<State>>,
    task: Arc<tokio::task::JoinHandle<()>>,
}

impl std::fmt::Debug for Issuer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Issuer").field("url", &self.url).finish()
    }
}

impl Drop for Issuer {
    fn drop(&mut self) {
        if Arc::strong_count(&self.task) == 1 {
            self.task.abort();
        }
    }
}

impl Issuer {
    /// Starts an issuer on `127.0.0.1:port` (0: a free port).
    pub async fn start_on(port: u16) -> std::io::Result<Self> {
        Self::serve(std::net::SocketAddr::from(([127, 0, 0, 1], port)), None).await
    }

    /// Starts an issuer listening on `addr` whose tokens name `public_url` as their issuer
    /// (default: `http://<addr>`), e.g. `http://issuer:50050` in docker compose.
    pub async fn serve(
        addr: std::net::SocketAddr,
        public_url: Option<String>,
    ) -> std::io::Result<Self> {
        let listener = TcpListener::bind(addr).await?;
        let url = public_url.unwrap_or(format!("http://{}", listener.local_addr()?));
        let state = Arc::new(Mutex::new(State {
            keys: vec![new_key()],
            clients: HashMap::new(),
            any_user: false,
        }));
        let served = state.clone();
        let iss = url.clone();
        let task = tokio::spawn(async move {
            loop {
                let Ok((stream, _)) = listener.accept().await else {
                    continue;
                };
                let (state, iss) = (served.clone(), iss.clone());
                tokio::spawn(async move {
                    let _ = serve_one(stream, &state, &iss).await;
                });
            }
        });
        Ok(Self {
            url,
            state,
            task: Arc::new(task),
        })
    }

    /// Starts an issuer on a free port.
    pub async fn start() -> Self {
        Self::start_on(0).await.expect("issuer")
    }

    /// The JWKS URL services verify against.
    pub fn jwks_url(&self) -> String {
        format!("{}/.well-known/jwks.json", self.url)
    }

    /// The token endpoint.
    pub fn token_url(&self) -> String {
        format!("{}/token", self.url)
    }

    /// The `AUTH_*` variables a service needs to trust this issuer.
    pub fn service_env(&self) -> Vec<(String, String)> {
        vec![
            ("AUTH_JWKS_URL".into(), self.jwks_url()),
            ("AUTH_ISSUER".into(), self.url.clone()),
            ("AUTH_AUDIENCE".into(), AUDIENCE.into()),
        ]
    }

    /// Whether the password grant hands out tokens for any user name with the role the request
    /// names (client tests against a fresh system), or only for [`DEMO_USERS`] (`make run`).
    pub fn allow_any_user(&self, yes: bool) {
        self.lock().any_user = yes;
    }

    /// The secret of the service client `client_id`, registering it on first use.
    pub fn client_secret(&self, client_id: &str) -> String {
        let existing = self.lock().clients.get(client_id).cloned();
        existing.unwrap_or_else(|| self.register_client(client_id))
    }

    /// Registers a service client with a given secret (e.g. from a compose file's environment).
    pub fn set_client_secret(&self, client_id: &str, secret: &str) {
        self.lock()
            .clients
            .insert(client_id.to_string(), secret.to_string());
    }

    /// Waits until the issuer stops (never, unless its task fails).
    pub async fn wait(&self) {
        std::future::pending::<()>().await
    }

    /// Registers a service client (client credentials) and returns its secret.
    pub fn register_client(&self, client_id: &str) -> String {
        let secret = uuid::Uuid::new_v4().simple().to_string();
        self.lock()
            .clients
            .insert(client_id.to_string(), secret.clone());
        secret
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// A signed token with `claims`.
    pub fn token(&self, claims: &Claims) -> String {
        sign(&self.lock(), &self.url, claims)
    }

    /// A token for `subject` with `roles` (15 minutes).
    pub fn token_for(&self, subject: &str, roles: &[&str]) -> String {
        self.token(&Claims::for_user(subject, roles))
    }

    /// A demo user's token (see [`DEMO_USERS`]); `None` for an unknown name.
    pub fn demo_token(&self, name: &str) -> Option<String> {
        DEMO_USERS
            .iter()
            .find(|(n, _)| *n == name)
            .map(|(n, roles)| self.token_for(n, roles))
    }

    /// A token with a valid shape whose signature no published key verifies (same `kid` as the
    /// current key, another key signed it): a forgery.
    pub fn forged_token(&self, subject: &str, roles: &[&str]) -> String {
        let state = self.lock();
        let kid = state.keys.last().map(|k| k.kid.clone()).unwrap_or_default();
        let mut other = new_key();
        other.kid = kid;
        let fake = State {
            keys: vec![other],
            clients: HashMap::new(),
            any_user: false,
        };
        sign(&fake, &self.url, &Claims::for_user(subject, roles))
    }

    /// Publishes a new signing key (the old ones stay published, as in a real rotation).
    pub fn rotate(&self) -> String {
        let key = new_key();
        let kid = key.kid.clone();
        self.lock().keys.push(key);
        kid
    }

    /// The current signing key's id.
    pub fn current_kid(&self) -> String {
        self.lock()
            .keys
            .last()
            .map(|k| k.kid.clone())
            .unwrap_or_default()
    }
}

fn sign(state: &State, iss: &str, c: &Claims) -> String {
    let key = state.keys.last().expect("a signing key");
    let mut header = Header::new(Algorithm::EdDSA);
    header.kid = Some(key.kid.clone());
    let now = now_s();
    let mut body = json!({
        "iss": c.issuer.clone().unwrap_or_else(|| iss.to_string()),
        "sub": c.subject,
        "aud": c.audience,
        "iat": now,
        "exp": now + c.expires_in,
        "roles": c.roles,
    });
    if let Some(nbf) = c.not_before {
        body["nbf"] = json!(now + nbf);
    }
    jsonwebtoken::encode(&header, &body, &key.encoding).expect("sign")
}

fn jwks(state: &State) -> Value {
    let b64 = base64::engine::general_purpose::URL_SAFE_NO_PAD;
    json!({
        "keys": state.keys.iter().map(|k| json!({
            "kty": "OKP",
            "crv": "Ed25519",
            "alg": "EdDSA",
            "use": "sig",
            "kid": k.kid,
            "x": b64.encode(&k.public),
        })).collect::<Vec<_>>()
    })
}

fn form(body: &str) -> HashMap<String, String> {
    body.split('&')
        .filter_map(|kv| kv.split_once('='))
        .map(|(k, v)| (k.to_string(), v.replace('+', " ")))
        .collect()
}

/// Answers one HTTP/1.1 request.
async fn serve_one(
    stream: tokio::net::TcpStream,
    state: &Mutex<State>,
    iss: &str,
) -> std::io::Result<()> {
    let mut reader = BufReader::new(stream);
    let mut line = String::new();
    reader.read_line(&mut line).await?;
    let mut parts = line.split_whitespace();
    let (method, path) = (
        parts.next().unwrap_or("").to_string(),
        parts.next().unwrap_or("").to_string(),
    );
    let mut length = 0usize;
    loop {
        let mut h = String::new();
        if reader.read_line(&mut h).await? == 0 || h == "\r\n" || h == "\n" {
            break;
        }
        if let Some((k, v)) = h.split_once(':') {
            if k.eq_ignore_ascii_case("content-length") {
                length = v.trim().parse().unwrap_or(0).min(64 * 1024);
            }
        }
    }
    let mut body = vec![0; length];
    reader.read_exact(&mut body).await?;
    let body = String::from_utf8_lossy(&body).to_string();
    let (status, json) = {
        let state = state.lock().unwrap_or_else(|p| p.into_inner());
        match (method.as_str(), path.as_str()) {
            ("GET", "/.well-known/jwks.json") => ("200 OK", jwks(&state)),
            ("GET", "/.well-known/openid-configuration") => (
                "200 OK",
                json!({"issuer": iss, "jwks_uri": format!("{iss}/.well-known/jwks.json"),
                       "token_endpoint": format!("{iss}/token"),
                       "id_token_signing_alg_values_supported": ["EdDSA"]}),
            ),
            ("POST", "/token") => token_response(&state, iss, &form(&body)),
            _ => ("404 Not Found", json!({"error": "not_found"})),
        }
    };
    let text = json.to_string();
    let response = format!(
        "HTTP/1.1 {status}\r\ncontent-type: application/json\r\ncontent-length: {}\r\nconnection: close\r\n\r\n{text}",
        text.len()
    );
    let mut stream = reader.into_inner();
    stream.write_all(response.as_bytes()).await?;
    stream.shutdown().await
}

const TOKEN_TTL_S: i64 = 3600;

fn token_response(state: &State, iss: &str, f: &HashMap<String, String>) -> (&'static str, Value) {
    let issued = |subject: &str, roles: &[&str]| {
        let mut c = Claims::for_user(subject, roles);
        c.expires_in = TOKEN_TTL_S;
        (
            "200 OK",
            json!({"access_token": sign(state, iss, &c), "token_type": "Bearer", "expires_in": TOKEN_TTL_S}),
        )
    };
    match f.get("grant_type").map(String::as_str) {
        Some("password") => {
            let name = f.get("username").map(String::as_str).unwrap_or("");
            let role = f.get("role").map(String::as_str).unwrap_or("customer");
            let known = ["customer", "owner", "rider", "operator"];
            match DEMO_USERS.iter().find(|(n, _)| *n == name) {
                Some((n, roles)) => issued(n, roles),
                // Any other name signs in as a customer (a local demo issuer has no passwords);
                // for tests (`any_user`) with the role asked for.
                None if !name.is_empty()
                    && (role == "customer" || state.any_user)
                    && known.contains(&role) =>
                {
                    issued(name, &[role])
                }
                None => (
                    "400 Bad Request",
                    json!({"error": "invalid_grant", "error_description": format!("no demo user {name:?}")}),
                ),
            }
        }
        Some("client_credentials") => {
            let id = f.get("client_id").map(String::as_str).unwrap_or("");
            let secret = f.get("client_secret").map(String::as_str).unwrap_or("");
            if state.clients.get(id).is_some_and(|s| s == secret) {
                issued(&format!("service:{id}"), &["service"])
            } else {
                ("401 Unauthorized", json!({"error": "invalid_client"}))
            }
        }
        _ => (
            "400 Bad Request",
            json!({"error": "unsupported_grant_type"}),
        ),
    }
}

/// One issuer for the whole test process, on a thread of its own (so it outlives each test's
/// runtime). [`crate::Server::service`] points every service it starts at it unless the test
/// sets `AUTH_*` itself; tests get tokens from it with [`as_user`].
pub fn shared() -> &'static Issuer {
    static SHARED: std::sync::OnceLock<Issuer> = std::sync::OnceLock::new();
    SHARED.get_or_init(|| {
        let (tx, rx) = std::sync::mpsc::channel();
        std::thread::Builder::new()
            .name("test-issuer".into())
            .spawn(move || {
                let rt = tokio::runtime::Builder::new_current_thread()
                    .enable_all()
                    .build()
                    .expect("issuer runtime");
                rt.block_on(async move {
                    let issuer = Issuer::start().await;
                    let _ = tx.send(issuer.clone());
                    std::future::pending::<()>().await;
                });
            })
            .expect("issuer thread");
        rx.recv().expect("issuer started")
    })
}

/// Adds `authorization: Bearer <token>` to every call of a client.
#[derive(Debug, Clone)]
pub struct Bearer(tonic::metadata::MetadataValue<tonic::metadata::Ascii>);

impl Bearer {
    /// Sends `token`.
    pub fn new(token: &str) -> Self {
        Self(format!("Bearer {token}").parse().expect("a token is ASCII"))
    }
}

impl tonic::service::Interceptor for Bearer {
    fn call(&mut self, mut req: tonic::Request<()>) -> Result<tonic::Request<()>, tonic::Status> {
        req.metadata_mut().insert("authorization", self.0.clone());
        Ok(req)
    }
}

/// A channel whose calls carry a token.
pub type AuthChannel =
    tonic::service::interceptor::InterceptedService<tonic::transport::Channel, Bearer>;

/// `channel` calling as `subject` with `roles` (a token of the [`shared`] issuer).
pub fn as_user(channel: tonic::transport::Channel, subject: &str, roles: &[&str]) -> AuthChannel {
    let token = shared().token_for(subject, roles);
    tonic::service::interceptor::InterceptedService::new(channel, Bearer::new(&token))
}

/// `channel` calling with `token` as it is (expired, forged, ...).
pub fn with_token(channel: tonic::transport::Channel, token: &str) -> AuthChannel {
    tonic::service::interceptor::InterceptedService::new(channel, Bearer::new(token))
}
