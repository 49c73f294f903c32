//! How notifications reach customers: the log (default) or a webhook (HTTP POST, JSON body,
//! `Idempotency-Key` header = notification id so a receiver can drop repeats).

use std::time::Duration;

use crate::domain::{ChannelKind, Notification};

/// A webhook URL. Its path and query often carry a token, so it is never shown whole: logs,
/// errors and `Debug` see only `scheme://host[:port]/…`.
#[derive(Clone, PartialEq, Eq)]
pub struct WebhookUrl(String);

impl WebhookUrl {
    /// Wraps `url` (checked to be http:// or https:// by the configuration).
    pub fn new(url: String) -> Self {
        Self(url)
    }

    /// The full URL, for the request only.
    fn expose(&self) -> &str {
        &self.0
    }
}

impl std::fmt::Display for WebhookUrl {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let (scheme, rest) = self.0.split_once("://").unwrap_or(("", &self.0));
        // user:password@ is a credential too.
        let authority = rest.split(['/', '?', '#']).next().unwrap_or("");
        let host = authority.rsplit('@').next().unwrap_or(authority);
        write!(f, "{scheme}://{host}/…")
    }
}

impl std::fmt::Debug for WebhookUrl {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "WebhookUrl({self})")
    }
}

/// A delivery channel.
#[derive(Debug, Clone)]
pub enum Channel {
    /// Writes each notification to the service log.
    Log,
    /// POSTs each notification as JSON to `url`.
    Webhook {
        /// Receiver URL.
        url: WebhookUrl,
        /// HTTP client (shared, with the request timeout set).
        client: reqwest::Client,
    },
}

impl Channel {
    /// A webhook channel to `url` (http://, or https:// verified against the Mozilla root
    /// certificates compiled in, so it works in a slim container too) with a per-request `timeout`.
    /// `extra_ca` (PEM) is trusted besides them: a receiver behind an internal CA.
    pub fn webhook(
        url: WebhookUrl,
        timeout: Duration,
        extra_ca: Option<&[u8]>,
    ) -> Result<Self, reqwest::Error> {
        let mut client = reqwest::Client::builder().timeout(timeout);
        if let Some(pem) = extra_ca {
            for cert in reqwest::Certificate::from_pem_bundle(pem)? {
                client = client.add_root_certificate(cert);
            }
        }
        Ok(Self::Webhook {
            url,
            client: client.build()?,
        })
    }

    /// Which kind it is (stored with each notification).
    pub fn kind(&self) -> ChannelKind {
        match self {
            Self::Log => ChannelKind::Log,
            Self::Webhook { .. } => ChannelKind::Webhook,
        }
    }

    /// Delivers one notification; an error means "try again later".
    pub async fn send(&self, n: &Notification) -> Result<(), String> {
        match self {
            Self::Log => {
                tracing::info!(customer_id = %n.customer_id, order_id = %n.order_id, message = %n.message, "notification");
                Ok(())
            }
            Self::Webhook { url, client } => {
                let body = serde_json::json!({
                    "notification_id": n.notification_id,
                    "customer_id": n.customer_id,
                    "order_id": n.order_id,
                    "event_type": n.source_event_type,
                    "message": n.message,
                });
                let resp = client
                    .post(url.expose())
                    .header("content-type", "application/json")
                    .header("idempotency-key", &n.notification_id)
                    .body(body.to_string())
                    .send()
                    .await
                    // reqwest's errors name the URL; ours name only its host.
                    .map_err(|e| format!("webhook {url} unreachable: {}", e.without_url()))?;
                if resp.status().is_success() {
                    Ok(())
                } else {
                    Err(format!("webhook {url} answered {}", resp.status()))
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn webhook_urls_never_show_their_secrets() {
        let url =
            WebhookUrl::new("https://bot:pa55@hooks.example.com:8443/t/s3cret?token=abc".into());
        for shown in [url.to_string(), format!("{url:?}")] {
            assert!(shown.contains("hooks.example.com:8443"), "{shown}");
            for secret in ["pa55", "s3cret", "abc", "bot"] {
                assert!(!shown.contains(secret), "{shown} shows {secret}");
            }
        }
    }
}
