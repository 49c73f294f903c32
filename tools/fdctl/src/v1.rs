//! The one fooddelivery.order.v1 call fdctl still makes: `--item ID:NAME:QUANTITY:PRICE`, the
//! form fdctl took before order v2, keeps working for scripts written against it. The server
//! checks each price against the menu (v1 refuses a price that is not the menu's, naming it);
//! everything else fdctl does with orders goes through v2.

use anyhow::{bail, Context};
use fd_proto::common::v1::Money;
use fd_proto::order::v1 as order;

/// True for the v1 item form (four `:`-separated parts).
pub fn is_v1_item(s: &str) -> bool {
    s.split(':').count() == 4
}

fn parse_item(s: &str, currency: &str) -> anyhow::Result<order::LineItem> {
    let parts: Vec<&str> = s.splitn(4, ':').collect();
    let [id, name, qty, price] = parts[..] else {
        bail!("--item {s:?}: expected ID:NAME:QUANTITY:UNIT_PRICE_MINOR");
    };
    Ok(order::LineItem {
        menu_item_id: id.into(),
        name: name.into(),
        quantity: qty
            .parse()
            .with_context(|| format!("--item {s:?}: quantity"))?,
        unit_price: Some(Money {
            amount_minor: price
                .parse()
                .with_context(|| format!("--item {s:?}: price"))?,
            currency_code: currency.into(),
        }),
    })
}

/// The fields of a v1 PlaceOrder.
#[derive(Debug)]
pub struct Place<'a> {
    pub key: String,
    pub customer: String,
    pub store: String,
    pub items: &'a [String],
    pub currency: &'a str,
    pub address: String,
}

/// Places the order through v1; returns its id.
pub async fn place(
    channel: fd_testkit::issuer::AuthChannel,
    p: Place<'_>,
) -> anyhow::Result<Result<String, tonic::Status>> {
    let items = p
        .items
        .iter()
        .map(|s| parse_item(s, p.currency))
        .collect::<Result<_, _>>()?;
    let mut c = order::order_service_client::OrderServiceClient::new(channel);
    let placed = c
        .place_order(order::PlaceOrderRequest {
            idempotency_key: p.key,
            customer_id: p.customer,
            store_id: p.store,
            items,
            delivery_address: p.address,
        })
        .await;
    Ok(placed.map(|r| r.into_inner().order.map(|o| o.order_id).unwrap_or_default()))
}
