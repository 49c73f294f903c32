//! The webhook channel: notifications are POSTed as JSON, failures are retried with backoff,
//! and each notification is stored (and sent successfully) once.

use std::sync::{Arc, Mutex};

use fd_testkit::Backend;
use tokio::io::{AsyncReadExt, AsyncWriteExt};

use fd_system_tests::{eventually, System};

/// A tiny HTTP receiver that answers 500 to the first request and 200 afterwards.
async fn receiver() -> (String, Arc<Mutex<Vec<String>>>) {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind");
    let url = format!("http://{}/hook", listener.local_addr().expect("addr"));
    let bodies = Arc::new(Mutex::new(Vec::new()));
    let seen = bodies.clone();
    tokio::spawn(async move {
        let mut n = 0;
        while let Ok((mut sock, _)) = listener.accept().await {
            n += 1;
            let mut buf = vec![0u8; 64 * 1024];
            let mut len = 0;
            // Read headers and the body (Content-Length) of one request.
            while let Ok(k) = sock.read(&mut buf[len..]).await {
                if k == 0 {
                    break;
                }
                len += k;
                let text = String::from_utf8_lossy(&buf[..len]).to_string();
                if let Some(end) = text.find("\r\n\r\n") {
                    let cl = text
                        .lines()
                        .find_map(|l| {
                            l.to_ascii_lowercase()
                                .strip_prefix("content-length:")
                                .map(|v| v.trim().parse::<usize>().unwrap_or(0))
                        })
                        .unwrap_or(0);
                    if len >= end + 4 + cl {
                        seen.lock()
                            .expect("lock")
                            .push(text[end + 4..end + 4 + cl].to_string());
                        break;
                    }
                }
            }
            let status = if n == 1 {
                "500 Internal Server Error"
            } else {
                "200 OK"
            };
            let _ = sock
                .write_all(
                    format!("HTTP/1.1 {status}\r\ncontent-length: 0\r\nconnection: close\r\n\r\n")
                        .as_bytes(),
                )
                .await;
        }
    });
    (url, bodies)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn webhook_gets_json_and_failures_are_retried() {
    let (url, bodies) = receiver().await;
    let sys = System::start_with(Backend::Sqlite, &[("NOTIFY_WEBHOOK_URL", &url)]).await;
    let o = sys.place("gus", "hook").await;
    let n = eventually("notification sent", || async {
        sys.notifications("gus")
            .await
            .into_iter()
            .find(|n| n.send_time.is_some())
    })
    .await;
    assert_eq!(n.order_id, o.order_id);
    assert_eq!(n.channel(), fd_proto::notification::v1::Channel::Webhook);
    let bodies = bodies.lock().expect("lock").clone();
    assert_eq!(
        bodies.len(),
        2,
        "first attempt failed (500), the retry succeeded"
    );
    assert_eq!(
        bodies[0], bodies[1],
        "the retry sends the same notification"
    );
    assert!(
        bodies[1].contains(&format!("\"order_id\":\"{}\"", o.order_id)),
        "{}",
        bodies[1]
    );
    assert!(
        bodies[1].contains("\"event_type\":\"fooddelivery.order.v1.OrderPlaced\""),
        "{}",
        bodies[1]
    );
    assert_eq!(sys.notifications("gus").await.len(), 1, "stored once");
}
