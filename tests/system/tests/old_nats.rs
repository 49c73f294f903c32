//! A NATS server older than 2.10 ignores `filter_subjects`: every consumer would get every
//! event of its stream. A service refuses to start on one, saying why, and exits non-zero.
//! The old server is nats-server 2.9 built from the Go module proxy (`make tools-old-nats`,
//! which `make test` runs) or any other named by OLD_NATS_SERVER_BIN (Debian's is 2.9.10).

use std::time::Duration;

use fd_system_tests::bin_dir;

fn old_nats_bin() -> std::path::PathBuf {
    let bin = std::env::var("OLD_NATS_SERVER_BIN").map_or_else(
        |_| {
            std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
                .join("../../.tools/nats-2.9/nats-server")
        },
        Into::into,
    );
    assert!(
        bin.exists(),
        "{} is missing: run `make tools-old-nats` (make test does) or set OLD_NATS_SERVER_BIN",
        bin.display()
    );
    bin
}

#[tokio::test]
async fn a_service_refuses_a_nats_server_older_than_2_10() {
    let dir = tempfile::tempdir().expect("dir");
    let nats_port = fd_testkit::system::free_port().expect("port");
    let mut nats = tokio::process::Command::new(old_nats_bin())
        .args([
            "-a",
            "127.0.0.1",
            "-p",
            &nats_port.to_string(),
            "-js",
            "-sd",
        ])
        .arg(dir.path().join("nats"))
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .kill_on_drop(true)
        .spawn()
        .expect("old nats-server");
    fd_testkit::wait_for_port(([127, 0, 0, 1], nats_port).into()).await;

    let port = fd_testkit::system::free_port().expect("port");
    let run = tokio::process::Command::new(bin_dir().join("store"))
        .env("LISTEN_ADDR", format!("127.0.0.1:{port}"))
        .env("DATA_DIR", dir.path())
        .env("NATS_URL", format!("nats://127.0.0.1:{nats_port}"))
        .env("METRICS_ADDR", "off")
        .envs(fd_testkit::issuer::shared().service_env())
        .env_remove("OTEL_EXPORTER_OTLP_ENDPOINT")
        .kill_on_drop(true)
        .output();
    let out = tokio::time::timeout(Duration::from_secs(20), run)
        .await
        .expect("it stops at once instead of serving")
        .expect("store ran");
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{stderr}");
    assert!(
        stderr.contains("is too old: this system needs NATS >= 2.10"),
        "{stderr}"
    );
    assert!(
        stderr.contains("NATS server 2.9."),
        "names the version: {stderr}"
    );
    let _ = nats.start_kill();
}
