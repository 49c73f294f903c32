//! How notifications reach customers: the log (default) or a webhook (HTTP POST, JSON body,
//! `Idempotency-Key` header = notification id so a receiver can drop repeats).

use std::time::Duration;

use crate::db::Notification;

/// A delivery channel.
#[derive(Debug, Clone)]
pub enum Channel {
    /// Writes each notification to the service log.
    Log,
    /// POSTs each notification as JSON to `url`.
    Webhook {
        /// Receiver URL.
        url: String,
        /// HTTP client (shared, with the request timeout set).
        client: reqwest::Client,
    },
}

impl Channel {
    /// A webhook channel to `url` with a per-request `timeout`.
    pub fn webhook(url: String, timeout: Duration) -> Result<Self, reqwest::Error> {
        Ok(Self::Webhook {
            url,
            client: reqwest::Client::builder().timeout(timeout).build()?,
        })
    }

    /// The name stored with each notification.
    pub fn name(&self) -> &'static str {
        match self {
            Self::Log => "LOG",
            Self::Webhook { .. } => "WEBHOOK",
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
                    .post(url)
                    .header("content-type", "application/json")
                    .header("idempotency-key", &n.notification_id)
                    .body(body.to_string())
                    .send()
                    .await
                    .map_err(|e| format!("webhook unreachable: {e}"))?;
                if resp.status().is_success() {
                    Ok(())
                } else {
                    Err(format!("webhook answered {}", resp.status()))
                }
            }
        }
    }
}
