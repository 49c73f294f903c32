//! Who may do what at the store: owners act on their own stores, menus and tickets only;
//! customers read the catalog; nobody calls without a token.

use fd_chassis::outbox::metadata;
use fd_proto::common::v1::Money;
use fd_proto::order::v1 as order;
use fd_proto::store::v1 as pb;
use fd_proto::store::v1::catalog_service_client::CatalogServiceClient;
use fd_proto::store::v1::store_service_client::StoreServiceClient;
use fd_testkit::events::publish;
use fd_testkit::issuer::{as_user, AuthChannel};
use fd_testkit::{both_backends, Alone, Backend};
use tonic::transport::Channel;
use tonic::Code;

fn channel(alone: &Alone) -> Channel {
    Channel::from_shared(alone.server.url())
        .expect("url")
        .connect_lazy()
}

fn owner(alone: &Alone, who: &str) -> StoreServiceClient<AuthChannel> {
    StoreServiceClient::new(as_user(channel(alone), who, &["owner"]))
}

fn store(id: &str, owner: &str) -> pb::CreateStoreRequest {
    pb::CreateStoreRequest {
        store_id: id.into(),
        owner_id: owner.into(),
        name: id.into(),
        currency_code: "EUR".into(),
        open: true,
    }
}

async fn owners_act_only_on_their_own_stores_menus_and_tickets(backend: Backend) {
    let alone = Alone::start(backend, "store", &[], store::run).await;
    let (mut olga, mut kenji) = (owner(&alone, "olga"), owner(&alone, "kenji"));
    olga.create_store(store("luigi", "")).await.expect("olga's");
    // Nobody creates a store for someone else.
    let err = kenji
        .create_store(store("fake", "olga"))
        .await
        .expect_err("for olga");
    assert_eq!(err.code(), Code::PermissionDenied);
    // Stores are public: someone else's is PERMISSION_DENIED, naming why.
    let item = pb::CreateMenuItemRequest {
        store_id: "luigi".into(),
        menu_item_id: "pizza".into(),
        name: "Margherita".into(),
        description: String::new(),
        price: Some(Money {
            amount_minor: 1250,
            currency_code: "EUR".into(),
        }),
        available: true,
    };
    let err = kenji
        .create_menu_item(item.clone())
        .await
        .expect_err("not kenji's");
    assert_eq!(err.code(), Code::PermissionDenied);
    assert!(err.message().contains("not kenji's"), "{}", err.message());
    for err in [
        kenji
            .update_store(pb::UpdateStoreRequest {
                store_id: "luigi".into(),
                name: None,
                open: Some(false),
            })
            .await
            .map(drop)
            .expect_err("close"),
        kenji
            .list_store_orders(pb::ListStoreOrdersRequest {
                store_id: "luigi".into(),
                ..Default::default()
            })
            .await
            .map(drop)
            .expect_err("tickets"),
    ] {
        assert_eq!(err.code(), Code::PermissionDenied);
    }
    olga.create_menu_item(item).await.expect("olga's menu");
    // A customer reads the catalog but changes nothing.
    let ch = channel(&alone);
    let mut customer = StoreServiceClient::new(as_user(ch.clone(), "ada", &["customer"]));
    let err = customer
        .create_store(store("ada-s", ""))
        .await
        .expect_err("customer");
    assert_eq!(err.code(), Code::PermissionDenied);
    let menu = CatalogServiceClient::new(as_user(ch.clone(), "ada", &["customer"]))
        .list_menu_items(pb::ListMenuItemsRequest {
            store_id: "luigi".into(),
            ..Default::default()
        })
        .await
        .expect("catalog")
        .into_inner();
    assert_eq!(menu.items.len(), 1);
    let err = CatalogServiceClient::new(ch)
        .list_stores(pb::ListStoresRequest::default())
        .await
        .expect_err("no token");
    assert_eq!(err.code(), Code::Unauthenticated);

    // Tickets: someone else's does not exist for you (its id is an order id).
    publish(
        &alone.nats.url,
        &order::OrderPlaced {
            metadata: Some(metadata("o-1", 1)),
            order_id: "o-1".into(),
            customer_id: "ada".into(),
            store_id: "luigi".into(),
            ..Default::default()
        },
    )
    .await;
    let accept = || pb::AcceptOrderRequest {
        order_id: "o-1".into(),
    };
    let mut accepted = None;
    for _ in 0..200 {
        match olga.accept_order(accept()).await {
            Ok(r) => {
                accepted = r.into_inner().order;
                break;
            }
            Err(s) if s.code() == Code::NotFound => {
                tokio::time::sleep(std::time::Duration::from_millis(25)).await
            }
            Err(s) => panic!("{s:?}"),
        }
    }
    assert!(accepted.is_some(), "olga accepts her ticket");
    for err in [
        kenji
            .accept_order(accept())
            .await
            .map(drop)
            .expect_err("accept"),
        kenji
            .reject_order(pb::RejectOrderRequest {
                order_id: "o-1".into(),
                reason: "no".into(),
            })
            .await
            .map(drop)
            .expect_err("reject"),
        kenji
            .finish_cooking(pb::FinishCookingRequest {
                order_id: "o-1".into(),
            })
            .await
            .map(drop)
            .expect_err("finish"),
    ] {
        assert_eq!(err.code(), Code::NotFound, "{err:?}");
    }
    // An operator may act for any store (support).
    let mut ops = StoreServiceClient::new(as_user(channel(&alone), "ops", &["operator"]));
    ops.finish_cooking(pb::FinishCookingRequest {
        order_id: "o-1".into(),
    })
    .await
    .expect("operator");
}

both_backends!(owners_act_only_on_their_own_stores_menus_and_tickets);
