//! End-user (and service) identity: OIDC-style JWTs from the `authorization: Bearer` metadata,
//! verified against the issuer's JWKS.
//!
//! [`Verifier`] checks the signature (EdDSA or RS256, the key chosen by the token's `kid`),
//! `iss`, `aud`, `exp` and `nbf` with a small leeway. Keys come from `AUTH_JWKS_URL`, fetched at
//! start and again when a token names a key the verifier has not seen (key rotation), at most
//! once per [`REFRESH_MIN_INTERVAL`]. [`AuthLayer`] runs it in front of a service's APIs (health
//! and reflection stay open) and puts the [`Caller`] into the request's extensions, where a
//! handler finds it with [`caller`]. A request without a valid token never reaches a handler:
//! UNAUTHENTICATED, with what was wrong.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::{Duration, Instant};

use jsonwebtoken::jwk::JwkSet;
use jsonwebtoken::{Algorithm, DecodingKey, Validation};
use serde::Deserialize;
use tokio::sync::{Mutex, RwLock};
use tonic::Status;

use crate::config::Env;

/// Shortest time between two JWKS fetches caused by unknown key ids.
pub const REFRESH_MIN_INTERVAL: Duration = Duration::from_secs(1);

/// What a caller may be (the token's `roles` claim).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Role {
    /// Places and follows their own orders; the subject is the customer id.
    Customer,
    /// Runs the stores they own (the store context records each store's owner).
    Owner,
    /// Picks up and delivers; the subject is the rider id.
    Rider,
    /// Support staff: may read everything and cancel orders.
    Operator,
    /// Another service (client credentials), e.g. `service:order`.
    Service,
}

/// Who is calling, as the verified token says.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Caller {
    /// The token's `sub`: a customer, owner or rider id, or `service:<name>`.
    pub subject: String,
    /// The token's roles.
    pub roles: Vec<Role>,
}

impl Caller {
    /// True if the caller has `role`.
    pub fn is(&self, role: Role) -> bool {
        self.roles.contains(&role)
    }

    /// True if the caller is the service `name` (subject `service:<name>`).
    pub fn is_service(&self, name: &str) -> bool {
        self.is(Role::Service) && self.subject.strip_prefix("service:") == Some(name)
    }

    /// PERMISSION_DENIED unless the caller has one of `roles`.
    pub fn require(&self, roles: &[Role], action: &str) -> Result<(), Status> {
        if roles.iter().any(|r| self.is(*r)) {
            Ok(())
        } else {
            Err(Status::permission_denied(format!(
                "{action} needs the role {}; {} has {:?}",
                roles
                    .iter()
                    .map(|r| format!("{r:?}").to_lowercase())
                    .collect::<Vec<_>>()
                    .join(" or "),
                self.subject,
                self.roles
            )))
        }
    }
}

/// The caller of a request that passed [`AuthLayer`]; UNAUTHENTICATED if there is none (a
/// server without the layer).
pub fn caller<T>(req: &tonic::Request<T>) -> Result<Caller, Status> {
    req.extensions()
        .get::<Caller>()
        .cloned()
        .ok_or_else(|| Status::unauthenticated("no verified caller"))
}

/// How tokens are checked (`AUTH_*` environment variables).
#[derive(Debug, Clone)]
pub struct AuthConfig {
    /// `AUTH_JWKS_URL`: where the issuer publishes its keys.
    pub jwks_url: String,
    /// `AUTH_ISSUER`: the only accepted `iss`.
    pub issuer: String,
    /// `AUTH_AUDIENCE`: the `aud` a token must name (default `fooddelivery`).
    pub audience: String,
    /// `AUTH_LEEWAY_S`: clock skew tolerated on `exp`/`nbf` (default 30 s).
    pub leeway: Duration,
}

impl AuthConfig {
    /// Reads the `AUTH_*` variables. There is no default and no way to switch checking off: a
    /// service that does not know whom to trust does not start.
    pub fn read(env: &mut Env) -> Self {
        let jwks_url = env.string("AUTH_JWKS_URL", "");
        let issuer = env.string("AUTH_ISSUER", "");
        let audience = env.string("AUTH_AUDIENCE", "fooddelivery");
        let leeway = Duration::from_secs(env.parse("AUTH_LEEWAY_S", 30u64));
        env.check(
            "AUTH_JWKS_URL",
            jwks_url.starts_with("http://") || jwks_url.starts_with("https://"),
            "required: the JWKS URL of the issuer of the callers' tokens, \
             e.g. https://issuer.example/.well-known/jwks.json (make run sets it)",
        );
        env.check(
            "AUTH_ISSUER",
            !issuer.is_empty(),
            "required: the `iss` of the tokens to accept",
        );
        Self {
            jwks_url,
            issuer,
            audience,
            leeway,
        }
    }
}

/// Why a token was refused (the message of the UNAUTHENTICATED status).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum AuthError {
    #[error("missing credentials: send `authorization: Bearer <token>`")]
    Missing,
    #[error("the authorization metadata is not `Bearer <token>`")]
    NotBearer,
    #[error("the token is not a JWT: {0}")]
    Malformed(String),
    #[error("the token names no key id (kid)")]
    NoKeyId,
    #[error("the token is signed with a key the issuer does not publish (kid {0})")]
    UnknownKey(String),
    #[error("the token's algorithm {0:?} is not allowed")]
    Algorithm(Algorithm),
    #[error("the token has expired")]
    Expired,
    #[error("the token is not valid yet")]
    NotYetValid,
    #[error("the token's signature does not verify")]
    Signature,
    #[error("the token was issued by another issuer")]
    Issuer,
    #[error("the token is not meant for this audience")]
    Audience,
    #[error("the token is not valid: {0}")]
    Invalid(String),
}

impl From<AuthError> for Status {
    fn from(e: AuthError) -> Self {
        Status::unauthenticated(e.to_string())
    }
}

#[derive(Debug, Deserialize)]
struct Claims {
    sub: String,
    exp: u64,
    #[serde(default)]
    roles: Vec<Role>,
}

/// Verified tokens kept until they expire: clients send the same token call after call, and
/// checking an EdDSA signature costs tens of microseconds. Keyed by the whole token, so only
/// the exact bytes that were verified hit; bounded, emptied when full.
const CACHE_MAX: usize = 10_000;

#[derive(Clone)]
struct Key {
    key: DecodingKey,
    alg: Algorithm,
}

/// Verifies tokens against the issuer's keys.
pub struct Verifier {
    cfg: AuthConfig,
    keys: RwLock<HashMap<String, Key>>,
    /// token → (caller, expiry in seconds since the epoch).
    verified: std::sync::Mutex<HashMap<String, (Caller, u64)>>,
    last_fetch: Mutex<Option<Instant>>,
    http: reqwest::Client,
}

impl std::fmt::Debug for Verifier {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Verifier").field("cfg", &self.cfg).finish()
    }
}

impl Verifier {
    /// A verifier for `cfg`; fetches the keys now (and again on demand if that fails: the
    /// issuer may start after the service).
    pub async fn new(cfg: AuthConfig) -> Arc<Self> {
        let v = Arc::new(Self {
            cfg,
            keys: RwLock::new(HashMap::new()),
            verified: std::sync::Mutex::new(HashMap::new()),
            last_fetch: Mutex::new(None),
            http: reqwest::Client::builder()
                .timeout(Duration::from_secs(5))
                .build()
                .unwrap_or_default(),
        });
        if let Err(e) = v.refresh().await {
            tracing::warn!(error = %e, url = %v.cfg.jwks_url, "cannot fetch the JWKS yet; will retry on the first request");
        }
        v
    }

    /// Fetches the JWKS and replaces the keys.
    async fn refresh(&self) -> Result<usize, String> {
        *self.last_fetch.lock().await = Some(Instant::now());
        let set: JwkSet = self
            .http
            .get(&self.cfg.jwks_url)
            .send()
            .await
            .and_then(reqwest::Response::error_for_status)
            .map_err(|e| e.to_string())?
            .bytes()
            .await
            .map_err(|e| e.to_string())
            .and_then(|b| serde_json::from_slice(&b).map_err(|e| format!("not a JWKS: {e}")))?;
        let mut keys = HashMap::new();
        for jwk in &set.keys {
            let Some(kid) = jwk.common.key_id.clone() else {
                continue;
            };
            let alg = match &jwk.algorithm {
                jsonwebtoken::jwk::AlgorithmParameters::OctetKeyPair(_) => Algorithm::EdDSA,
                jsonwebtoken::jwk::AlgorithmParameters::RSA(_) => Algorithm::RS256,
                _ => continue, // only asymmetric keys of the two algorithms we accept
            };
            if let Ok(key) = DecodingKey::from_jwk(jwk) {
                keys.insert(kid, Key { key, alg });
            }
        }
        let n = keys.len();
        *self.keys.write().await = keys;
        tracing::info!(keys = n, "fetched the issuer's JWKS");
        Ok(n)
    }

    async fn key(&self, kid: &str) -> Option<Key> {
        if let Some(k) = self.keys.read().await.get(kid) {
            return Some(k.clone());
        }
        // A new key id: the issuer may have rotated. Fetch again, but not more than once per
        // REFRESH_MIN_INTERVAL, so a stream of forged kids cannot hammer the issuer.
        let due = self
            .last_fetch
            .lock()
            .await
            .is_none_or(|t| t.elapsed() >= REFRESH_MIN_INTERVAL);
        if due {
            if let Err(e) = self.refresh().await {
                tracing::warn!(error = %e, "JWKS refresh failed");
            }
        }
        self.keys.read().await.get(kid).cloned()
    }

    /// Verifies `token` (without `Bearer `).
    pub async fn verify(&self, token: &str) -> Result<Caller, AuthError> {
        let now = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| d.as_secs());
        let leeway = self.cfg.leeway.as_secs();
        if let Some((caller, exp)) = self.cache().get(token) {
            if now <= exp + leeway {
                return Ok(caller.clone());
            }
        }
        let (caller, exp) = self.verify_signed(token).await?;
        let mut cache = self.cache();
        if cache.len() >= CACHE_MAX {
            cache.clear();
        }
        cache.insert(token.to_string(), (caller.clone(), exp));
        Ok(caller)
    }

    fn cache(&self) -> std::sync::MutexGuard<'_, HashMap<String, (Caller, u64)>> {
        self.verified.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Checks the signature and the claims; the caller and the token's expiry.
    async fn verify_signed(&self, token: &str) -> Result<(Caller, u64), AuthError> {
        let header =
            jsonwebtoken::decode_header(token).map_err(|e| AuthError::Malformed(e.to_string()))?;
        let kid = header.kid.ok_or(AuthError::NoKeyId)?;
        let key = self
            .key(&kid)
            .await
            .ok_or_else(|| AuthError::UnknownKey(kid.clone()))?;
        if header.alg != key.alg {
            return Err(AuthError::Algorithm(header.alg));
        }
        let mut v = Validation::new(key.alg);
        v.leeway = self.cfg.leeway.as_secs();
        v.validate_nbf = true;
        v.set_issuer(&[&self.cfg.issuer]);
        v.set_audience(&[&self.cfg.audience]);
        v.set_required_spec_claims(&["exp", "iss", "aud", "sub"]);
        use jsonwebtoken::errors::ErrorKind as K;
        let data =
            jsonwebtoken::decode::<Claims>(token, &key.key, &v).map_err(|e| match e.kind() {
                K::ExpiredSignature => AuthError::Expired,
                K::ImmatureSignature => AuthError::NotYetValid,
                K::InvalidSignature => AuthError::Signature,
                K::InvalidIssuer => AuthError::Issuer,
                K::InvalidAudience => AuthError::Audience,
                _ => AuthError::Invalid(e.to_string()),
            })?;
        if data.claims.sub.is_empty() {
            return Err(AuthError::Invalid("empty subject".into()));
        }
        Ok((
            Caller {
                subject: data.claims.sub,
                roles: data.claims.roles,
            },
            data.claims.exp,
        ))
    }

    /// Verifies the `authorization` value of a request.
    pub async fn verify_header(&self, value: Option<&str>) -> Result<Caller, AuthError> {
        let value = value.ok_or(AuthError::Missing)?;
        let token = value
            .strip_prefix("Bearer ")
            .or_else(|| value.strip_prefix("bearer "))
            .ok_or(AuthError::NotBearer)?;
        self.verify(token.trim()).await
    }
}

/// Tower layer: every request but health checks and reflection must carry a valid token; the
/// verified [`Caller`] goes into the request's extensions.
#[derive(Debug, Clone)]
pub struct AuthLayer {
    verifier: Arc<Verifier>,
}

impl AuthLayer {
    /// A layer verifying with `verifier`.
    pub fn new(verifier: Arc<Verifier>) -> Self {
        Self { verifier }
    }
}

impl<S> tower::Layer<S> for AuthLayer {
    type Service = Authenticated<S>;
    fn layer(&self, inner: S) -> Self::Service {
        Authenticated {
            inner,
            verifier: self.verifier.clone(),
        }
    }
}

/// The service [`AuthLayer`] wraps around the routes.
#[derive(Debug, Clone)]
pub struct Authenticated<S> {
    inner: S,
    verifier: Arc<Verifier>,
}

/// Paths that need no token: probes and tools must work without one.
fn is_open(path: &str) -> bool {
    path.starts_with("/grpc.health.") || path.starts_with("/grpc.reflection.")
}

impl<S, B> tower::Service<http::Request<B>> for Authenticated<S>
where
    S: tower::Service<http::Request<B>, Response = http::Response<tonic::body::Body>>
        + Clone
        + Send
        + 'static,
    S::Future: Send + 'static,
    S::Error: Send + 'static,
    B: Send + 'static,
{
    type Response = S::Response;
    type Error = S::Error;
    type Future = futures_util::future::BoxFuture<'static, Result<Self::Response, Self::Error>>;

    fn poll_ready(
        &mut self,
        cx: &mut std::task::Context<'_>,
    ) -> std::task::Poll<Result<(), Self::Error>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, mut req: http::Request<B>) -> Self::Future {
        if is_open(req.uri().path()) {
            return Box::pin(self.inner.call(req));
        }
        // The ready inner service is used for this request; a clone takes its place.
        let clone = self.inner.clone();
        let mut inner = std::mem::replace(&mut self.inner, clone);
        let verifier = self.verifier.clone();
        Box::pin(async move {
            let header = req
                .headers()
                .get(http::header::AUTHORIZATION)
                .and_then(|v| v.to_str().ok())
                .map(str::to_string);
            match verifier.verify_header(header.as_deref()).await {
                Ok(caller) => {
                    req.extensions_mut().insert(caller);
                    inner.call(req).await
                }
                Err(e) => {
                    tracing::info!(path = %req.uri().path(), error = %e, "refused: unauthenticated");
                    Ok(Status::from(e).into_http())
                }
            }
        })
    }
}

/// This service's own credentials for calling another (OAuth2 client credentials):
/// `AUTH_TOKEN_URL`, `AUTH_CLIENT_ID` (default: the service's name), `AUTH_CLIENT_SECRET`.
#[derive(Debug, Clone)]
pub struct ClientCredentials {
    pub token_url: String,
    pub client_id: String,
    pub client_secret: String,
}

impl ClientCredentials {
    /// Reads the `AUTH_CLIENT_*` variables; `None` if `AUTH_TOKEN_URL` is unset.
    pub fn read(env: &mut Env, service: &str) -> Option<Self> {
        let token_url = env.string("AUTH_TOKEN_URL", "");
        let client_id = env.string("AUTH_CLIENT_ID", service);
        let client_secret = env.string("AUTH_CLIENT_SECRET", "");
        if token_url.is_empty() {
            return None;
        }
        env.check(
            "AUTH_CLIENT_SECRET",
            !client_secret.is_empty(),
            "required with AUTH_TOKEN_URL",
        );
        Some(Self {
            token_url,
            client_id,
            client_secret,
        })
    }
}

/// A service token, fetched with [`ClientCredentials`] and reused until shortly before it
/// expires.
#[derive(Debug, Clone)]
pub struct ServiceToken {
    creds: ClientCredentials,
    cached: Arc<Mutex<Option<(String, Instant)>>>,
    http: reqwest::Client,
}

impl ServiceToken {
    /// A token source for `creds`.
    pub fn new(creds: ClientCredentials) -> Self {
        Self {
            creds,
            cached: Arc::default(),
            http: reqwest::Client::builder()
                .timeout(Duration::from_secs(5))
                .build()
                .unwrap_or_default(),
        }
    }

    /// `Bearer <token>`, fetching a new token when there is none or it expires within a minute.
    pub async fn bearer(&self) -> Result<String, String> {
        let mut cached = self.cached.lock().await;
        if let Some((token, until)) = cached.as_ref() {
            if Instant::now() < *until {
                return Ok(format!("Bearer {token}"));
            }
        }
        let body = format!(
            "grant_type=client_credentials&client_id={}&client_secret={}",
            self.creds.client_id, self.creds.client_secret
        );
        let answer = self
            .http
            .post(&self.creds.token_url)
            .header("content-type", "application/x-www-form-urlencoded")
            .body(body)
            .send()
            .await
            .and_then(reqwest::Response::error_for_status)
            .map_err(|e| format!("cannot get a service token: {e}"))?
            .bytes()
            .await
            .map_err(|e| e.to_string())?;
        #[derive(Deserialize)]
        struct TokenResponse {
            access_token: String,
            #[serde(default)]
            expires_in: u64,
        }
        let t: TokenResponse =
            serde_json::from_slice(&answer).map_err(|e| format!("not a token response: {e}"))?;
        let ttl = Duration::from_secs(t.expires_in.max(60));
        let until = Instant::now() + ttl - Duration::from_secs(60).min(ttl / 2);
        *cached = Some((t.access_token.clone(), until));
        Ok(format!("Bearer {}", t.access_token))
    }
}
