//! `fdctl deadletters`: what the consumers gave up on, and sending it back.
//!
//! A dead letter (`deadletter.<service>.<policy>`, stream DEADLETTER) carries the event as it
//! was published (payload and CloudEvents headers) plus why it failed (`fd-error`), which
//! consumer (`fd-consumer`), its original subject and how often it was delivered. Replaying
//! publishes the event again on its original subject under its own event id: every consumer
//! that already applied it skips it (processed ids), the one that failed applies it now; the
//! dead letter is then removed. Replaying the same dead letter twice finds nothing the second
//! time, so a replay is idempotent.

use anyhow::Context as _;
use async_nats::jetstream;

/// One dead letter.
#[derive(Debug, Clone)]
pub struct DeadLetter {
    pub seq: u64,
    pub consumer: String,
    pub original_subject: String,
    pub event_id: String,
    pub deliveries: String,
    pub reason: String,
    pub time: String,
}

/// The NATS URL for tools: `--nats-url`/`NATS_URL`, else the admin URL `make run` writes to
/// `data/nats-admin.url`, else the default local server.
pub fn nats_url(given: Option<String>) -> String {
    given
        .or_else(|| {
            std::fs::read_to_string("data/nats-admin.url")
                .ok()
                .map(|s| s.trim().to_string())
        })
        .unwrap_or_else(|| "nats://127.0.0.1:4222".into())
}

/// JetStream at `url` and its dead-letter stream.
async fn connect(url: &str) -> anyhow::Result<(jetstream::Context, jetstream::stream::Stream)> {
    let client = fd_chassis::nats::connect_url(url)
        .await
        .with_context(|| format!("cannot reach NATS at {}", fd_chassis::nats::redact(url)))?;
    let js = jetstream::new(client);
    let stream = js
        .get_stream(fd_chassis::nats::DEAD_LETTER_STREAM)
        .await
        .context("no dead-letter stream (no consumer has started yet)")?;
    Ok((js, stream))
}

/// Every dead letter in the stream, oldest first, optionally of one consumer.
pub async fn list(url: &str, consumer: Option<&str>) -> anyhow::Result<Vec<DeadLetter>> {
    let (_, mut s) = connect(url).await?;
    let info = s.info().await.context("dead-letter stream info")?;
    let (first, last) = (info.state.first_sequence, info.state.last_sequence);
    let mut out = Vec::new();
    if info.state.messages == 0 {
        return Ok(out);
    }
    for seq in first..=last {
        // Deleted (replayed) ones leave gaps.
        let Ok(m) = s.get_raw_message(seq).await else {
            continue;
        };
        let h = |k: &str| {
            m.headers
                .get(k)
                .map(|v| v.as_str().to_string())
                .unwrap_or_default()
        };
        let dl = DeadLetter {
            seq,
            consumer: h("fd-consumer"),
            original_subject: h("fd-original-subject"),
            event_id: h("ce-id"),
            deliveries: h("fd-deliveries"),
            reason: h("fd-error"),
            time: m.time.to_string(),
        };
        if consumer.is_none_or(|c| c == dl.consumer) {
            out.push(dl);
        }
    }
    Ok(out)
}

/// Publishes each dead letter's event again on its original subject and removes the dead
/// letter; returns how many were replayed.
pub async fn replay(url: &str, seqs: &[u64]) -> anyhow::Result<usize> {
    let (js, s) = connect(url).await?;
    let mut replayed = 0;
    for &seq in seqs {
        let m = s
            .get_raw_message(seq)
            .await
            .with_context(|| format!("no dead letter {seq} (already replayed?)"))?;
        let subject = m
            .headers
            .get("fd-original-subject")
            .map(|v| v.as_str().to_string())
            .with_context(|| format!("dead letter {seq} names no original subject"))?;
        let mut headers = async_nats::HeaderMap::new();
        for (k, vs) in m.headers.iter() {
            let k = k.to_string();
            if k.starts_with("fd-") || k == "Nats-Msg-Id" {
                continue;
            }
            for v in vs {
                headers.append(k.as_str(), v.as_str());
            }
        }
        // Its own message id: JetStream must not drop it as a copy of the original; the
        // consumers recognise the event by its ce-id.
        headers.insert("Nats-Msg-Id", format!("replay-{seq}").as_str());
        headers.insert("fd-replay-of", seq.to_string().as_str());
        js.publish_with_headers(subject.clone(), headers, m.payload.clone())
            .await?
            .await
            .with_context(|| format!("replaying dead letter {seq} on {subject}"))?;
        s.delete_message(seq)
            .await
            .with_context(|| format!("removing replayed dead letter {seq}"))?;
        replayed += 1;
    }
    Ok(replayed)
}
