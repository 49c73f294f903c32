//! Token verification against a real issuer over HTTP (fd_testkit::issuer): signatures, key
//! rotation, issuer, audience, expiry with leeway, and malformed credentials.

use std::time::Duration;

use fd_chassis::auth::{AuthConfig, AuthError, Role, Verifier};
use fd_testkit::issuer::{Claims, Issuer, AUDIENCE};

async fn verifier(issuer: &Issuer) -> std::sync::Arc<Verifier> {
    Verifier::new(AuthConfig {
        jwks_url: issuer.jwks_url(),
        issuer: issuer.url.clone(),
        audience: AUDIENCE.into(),
        leeway: Duration::from_secs(30),
    })
    .await
}

#[tokio::test]
async fn a_valid_token_names_the_caller_and_its_roles() {
    let issuer = Issuer::start().await;
    let v = verifier(&issuer).await;
    let caller = v
        .verify_header(Some(&format!(
            "Bearer {}",
            issuer.token_for("alice", &["customer"])
        )))
        .await
        .expect("valid");
    assert_eq!(caller.subject, "alice");
    assert_eq!(caller.roles, [Role::Customer]);
    assert!(caller.is(Role::Customer) && !caller.is(Role::Owner));
    let svc = v
        .verify(&issuer.token_for("service:order", &["service"]))
        .await
        .expect("service");
    assert!(svc.is_service("order") && !svc.is_service("payment"));
}

#[tokio::test]
async fn bad_tokens_are_refused_with_the_reason() {
    let issuer = Issuer::start().await;
    let other = Issuer::start().await;
    let v = verifier(&issuer).await;
    let with = |f: fn(&mut Claims)| {
        let mut c = Claims::for_user("alice", &["customer"]);
        f(&mut c);
        issuer.token(&c)
    };
    let cases: Vec<(String, AuthError)> = vec![
        (with(|c| c.expires_in = -120), AuthError::Expired),
        (with(|c| c.not_before = Some(300)), AuthError::NotYetValid),
        (
            with(|c| c.issuer = Some("https://evil.example".into())),
            AuthError::Issuer,
        ),
        (
            with(|c| c.audience = "another-app".into()),
            AuthError::Audience,
        ),
        (
            issuer.forged_token("alice", &["operator"]),
            AuthError::Signature,
        ),
        (
            other.token_for("alice", &["customer"]),
            AuthError::UnknownKey(other.current_kid()),
        ),
        (
            "not-a-jwt".into(),
            AuthError::Malformed("InvalidToken".into()),
        ),
    ];
    for (token, want) in cases {
        let got = v.verify(&token).await.expect_err("refused");
        match (&got, &want) {
            (AuthError::Malformed(_), AuthError::Malformed(_)) => {}
            _ => assert_eq!(got, want),
        }
        let status = tonic::Status::from(got);
        assert_eq!(status.code(), tonic::Code::Unauthenticated);
    }
    // Within the leeway an expired token still passes (clock skew between hosts).
    v.verify(&with(|c| c.expires_in = -10))
        .await
        .expect("within leeway");
    assert_eq!(v.verify_header(None).await, Err(AuthError::Missing));
    assert_eq!(
        v.verify_header(Some("Basic YWxpY2U6cGFzcw==")).await,
        Err(AuthError::NotBearer)
    );
}

#[tokio::test]
async fn a_rotated_key_is_fetched_when_a_token_first_names_it() {
    let issuer = Issuer::start().await;
    let v = verifier(&issuer).await;
    v.verify(&issuer.token_for("alice", &["customer"]))
        .await
        .expect("first key");
    let kid = issuer.rotate();
    let token = issuer.token_for("alice", &["customer"]);
    assert_eq!(
        jsonwebtoken::decode_header(&token).expect("header").kid,
        Some(kid)
    );
    // Past the refresh interval, the unknown kid makes the verifier fetch the JWKS again.
    tokio::time::sleep(fd_chassis::auth::REFRESH_MIN_INTERVAL).await;
    v.verify(&token).await.expect("the new key");
}

#[tokio::test]
async fn a_verifier_started_before_its_issuer_fetches_the_keys_later() {
    // Reserve a port, start the verifier against it, then the issuer on it.
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .expect("port")
        .port();
    let url = format!("http://127.0.0.1:{port}");
    let v = Verifier::new(AuthConfig {
        jwks_url: format!("{url}/.well-known/jwks.json"),
        issuer: url.clone(),
        audience: AUDIENCE.into(),
        leeway: Duration::from_secs(30),
    })
    .await;
    let issuer = Issuer::start_on(port).await.expect("issuer");
    tokio::time::sleep(fd_chassis::auth::REFRESH_MIN_INTERVAL).await;
    v.verify(&issuer.token_for("ada", &["customer"]))
        .await
        .expect("keys fetched on demand");
}

#[tokio::test]
async fn a_verified_token_is_remembered_until_it_expires() {
    let issuer = Issuer::start().await;
    let v = Verifier::new(AuthConfig {
        jwks_url: issuer.jwks_url(),
        issuer: issuer.url.clone(),
        audience: AUDIENCE.into(),
        leeway: Duration::from_secs(0),
    })
    .await;
    let mut c = Claims::for_user("alice", &["customer"]);
    c.expires_in = 2;
    let token = issuer.token(&c);
    let first = std::time::Instant::now();
    v.verify(&token).await.expect("valid");
    let cold = first.elapsed();
    let again = std::time::Instant::now();
    for _ in 0..100 {
        v.verify(&token).await.expect("still valid");
    }
    assert!(
        again.elapsed() < cold * 100,
        "repeats are cheaper than verifying"
    );
    // A token one byte off is not the one that was verified.
    let mut tampered = token.clone();
    tampered.pop();
    tampered.push(if token.ends_with('A') { 'B' } else { 'A' });
    assert!(v.verify(&tampered).await.is_err());
    // Past its expiry the remembered token is refused like any expired one.
    tokio::time::sleep(Duration::from_secs(4)).await;
    assert_eq!(v.verify(&token).await, Err(AuthError::Expired));
}
