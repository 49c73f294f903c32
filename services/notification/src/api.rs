//! The gRPC API: reading the notifications sent.

use fd_chassis::auth::{caller, Role};
use fd_chassis::errors::{internal, invalid_argument, Violation};
use fd_chassis::time::timestamp;
use fd_proto::notification::v1 as pb;
use sqlx::AnyPool;
use tonic::{Request, Response, Status};

use crate::db;
use crate::domain::{ChannelKind, Notification};

/// The NotificationService implementation.
#[derive(Debug, Clone)]
pub struct NotificationApi {
    pool: AnyPool,
}

impl NotificationApi {
    /// An API over `pool`.
    pub fn new(pool: AnyPool) -> Self {
        Self { pool }
    }
}

/// The wire name of a channel.
pub fn channel_to_proto(c: ChannelKind) -> pb::Channel {
    match c {
        ChannelKind::Log => pb::Channel::Log,
        ChannelKind::Webhook => pb::Channel::Webhook,
    }
}

fn to_proto(n: &Notification) -> pb::Notification {
    pb::Notification {
        notification_id: n.notification_id.clone(),
        customer_id: n.customer_id.clone(),
        order_id: n.order_id.clone(),
        source_event_type: n.source_event_type.clone(),
        source_event_id: n.source_event_id.clone(),
        message: n.message.clone(),
        channel: channel_to_proto(n.channel).into(),
        send_time: (n.sent_at_ms > 0).then(|| timestamp(n.sent_at_ms)),
    }
}

#[tonic::async_trait]
impl pb::notification_service_server::NotificationService for NotificationApi {
    async fn list_notifications(
        &self,
        req: Request<pb::ListNotificationsRequest>,
    ) -> Result<Response<pb::ListNotificationsResponse>, Status> {
        let who = caller(&req)?;
        let r = req.into_inner();
        let mut bad = Vec::new();
        if r.customer_id.trim().is_empty() {
            bad.push(Violation::new("customer_id", "required"));
        }
        if !bad.is_empty() {
            return Err(invalid_argument(&bad));
        }
        if r.customer_id != who.subject && !who.is(Role::Operator) {
            return Err(Status::permission_denied(format!(
                "{} may list only their own notifications",
                who.subject
            )));
        }
        if r.order_id.len() > 64 {
            bad.push(Violation::new("order_id", "at most 64 characters"));
        }
        let page = fd_chassis::page::parse(r.page_size, &r.page_token, &mut bad);
        if !bad.is_empty() {
            return Err(invalid_argument(&bad));
        }
        let (list, next_page_token) = db::list(&self.pool, &r.customer_id, &r.order_id, &page)
            .await
            .map_err(|e| internal("listing notifications failed", &e))?;
        Ok(Response::new(pb::ListNotificationsResponse {
            notifications: list.iter().map(to_proto).collect(),
            next_page_token,
        }))
    }
}
