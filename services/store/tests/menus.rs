//! Stores and menus: the owner creates and changes them, customers read them (CatalogService),
//! and every change is published as an event carrying the whole store or item with its version.

use fd_proto::common::v1::Money;
use fd_proto::store::v1 as pb;
use fd_proto::store::v1::catalog_service_client::CatalogServiceClient;
use fd_proto::store::v1::store_service_client::StoreServiceClient;
use fd_testkit::events::published;
use fd_testkit::issuer::{as_user, AuthChannel};
use fd_testkit::{both_backends, Alone, Backend};
use tonic::transport::Channel;
use tonic::Code;
use tonic_types::StatusExt;

struct App {
    /// As olga, an owner.
    owner: StoreServiceClient<AuthChannel>,
    /// As a customer.
    catalog: CatalogServiceClient<AuthChannel>,
    nats_url: String,
    _alone: Alone,
}

async fn spawn(backend: Backend) -> App {
    let alone = Alone::start(backend, "store", &[], store::run).await;
    let channel = Channel::from_shared(alone.server.url())
        .expect("url")
        .connect()
        .await
        .expect("connect");
    App {
        owner: StoreServiceClient::new(as_user(channel.clone(), "olga", &["owner"])),
        catalog: CatalogServiceClient::new(as_user(channel, "ada", &["customer"])),
        nats_url: alone.nats.url.clone(),
        _alone: alone,
    }
}

fn eur(minor: i64) -> Option<Money> {
    Some(Money {
        amount_minor: minor,
        currency_code: "EUR".into(),
    })
}

fn new_store(id: &str, name: &str) -> pb::CreateStoreRequest {
    pb::CreateStoreRequest {
        store_id: id.into(),
        owner_id: "olga".into(),
        name: name.into(),
        currency_code: "EUR".into(),
        open: true,
    }
}

fn new_item(store: &str, id: &str, name: &str, minor: i64) -> pb::CreateMenuItemRequest {
    pb::CreateMenuItemRequest {
        store_id: store.into(),
        menu_item_id: id.into(),
        name: name.into(),
        description: String::new(),
        price: eur(minor),
        available: true,
    }
}

fn fields(s: &tonic::Status) -> Vec<String> {
    assert_eq!(s.code(), Code::InvalidArgument, "{s:?}");
    s.get_error_details()
        .bad_request()
        .expect("BadRequest")
        .field_violations
        .iter()
        .map(|v| v.field.clone())
        .collect()
}

async fn an_owner_builds_a_menu_customers_read(backend: Backend) {
    let mut app = spawn(backend).await;
    let store = app
        .owner
        .create_store(new_store("luigi", "Luigi's"))
        .await
        .expect("create")
        .into_inner()
        .store
        .expect("store");
    assert_eq!((store.version, store.open), (1, true));
    // The same create again is a no-op (idempotent seeding); a different one is refused.
    let again = app
        .owner
        .create_store(new_store("luigi", "Luigi's"))
        .await
        .expect("repeat")
        .into_inner()
        .store
        .expect("store");
    assert_eq!(again, store);
    let taken = app
        .owner
        .create_store(new_store("luigi", "Mario's"))
        .await
        .expect_err("taken");
    assert_eq!(taken.code(), Code::AlreadyExists);

    for (id, name, minor) in [
        ("pizza", "Margherita", 1250),
        ("cola", "Cola", 400),
        ("soup", "Minestrone", 700),
    ] {
        app.owner
            .create_menu_item(new_item("luigi", id, name, minor))
            .await
            .expect("item");
    }
    let updated = app
        .owner
        .update_menu_item(pb::UpdateMenuItemRequest {
            store_id: "luigi".into(),
            menu_item_id: "pizza".into(),
            price: eur(1390),
            ..Default::default()
        })
        .await
        .expect("update")
        .into_inner()
        .item
        .expect("item");
    assert_eq!(
        (updated.price, updated.version, updated.name.as_str()),
        (eur(1390), 2, "Margherita")
    );
    app.owner
        .delete_menu_item(pb::DeleteMenuItemRequest {
            store_id: "luigi".into(),
            menu_item_id: "cola".into(),
        })
        .await
        .expect("delete");
    // Removing again is a no-op; changing a removed item is refused with the reason.
    app.owner
        .delete_menu_item(pb::DeleteMenuItemRequest {
            store_id: "luigi".into(),
            menu_item_id: "cola".into(),
        })
        .await
        .expect("delete again");
    let gone = app
        .owner
        .update_menu_item(pb::UpdateMenuItemRequest {
            store_id: "luigi".into(),
            menu_item_id: "cola".into(),
            available: Some(false),
            ..Default::default()
        })
        .await
        .expect_err("removed");
    assert_eq!(gone.code(), Code::FailedPrecondition);
    assert!(gone.message().contains("was removed"), "{}", gone.message());

    // Customers read the menu a page at a time, removed items left out.
    let page1 = app
        .catalog
        .list_menu_items(pb::ListMenuItemsRequest {
            store_id: "luigi".into(),
            page_size: 1,
            page_token: String::new(),
        })
        .await
        .expect("page 1")
        .into_inner();
    let page2 = app
        .catalog
        .list_menu_items(pb::ListMenuItemsRequest {
            store_id: "luigi".into(),
            page_size: 1,
            page_token: page1.next_page_token.clone(),
        })
        .await
        .expect("page 2")
        .into_inner();
    let ids: Vec<_> = page1
        .items
        .iter()
        .chain(&page2.items)
        .map(|i| i.menu_item_id.as_str())
        .collect();
    assert_eq!(ids, ["pizza", "soup"]);
    assert!(page2.next_page_token.is_empty());
    let missing = app
        .catalog
        .list_menu_items(pb::ListMenuItemsRequest {
            store_id: "nowhere".into(),
            ..Default::default()
        })
        .await
        .expect_err("no store");
    assert_eq!(missing.code(), Code::NotFound);

    // Closing the store: the customer's list of open stores no longer has it.
    app.owner
        .update_store(pb::UpdateStoreRequest {
            store_id: "luigi".into(),
            open: Some(false),
            name: None,
        })
        .await
        .expect("close");
    app.owner
        .create_store(new_store("sakura", "Sakura"))
        .await
        .expect("second");
    let open: Vec<_> = app
        .catalog
        .list_stores(pb::ListStoresRequest {
            open_only: true,
            ..Default::default()
        })
        .await
        .expect("list")
        .into_inner()
        .stores
        .into_iter()
        .map(|s| s.store_id)
        .collect();
    assert_eq!(open, ["sakura"]);
    let closed = app
        .catalog
        .get_store(pb::GetStoreRequest {
            store_id: "luigi".into(),
        })
        .await
        .expect("get")
        .into_inner()
        .store
        .expect("store");
    assert_eq!(
        (closed.open, closed.version, closed.name.as_str()),
        (false, 2, "Luigi's")
    );

    // Every change went out as an event with the aggregate's version.
    let created = published::<pb::StoreCreated>(&app.nats_url, 2).await;
    assert_eq!(created.len(), 2, "repeats publish nothing");
    let updated = published::<pb::StoreUpdated>(&app.nats_url, 1).await;
    assert_eq!(
        updated[0].store.as_ref().map(|s| (s.open, s.version)),
        Some((false, 2))
    );
    let added = published::<pb::MenuItemAdded>(&app.nats_url, 3).await;
    assert_eq!(added.len(), 3);
    let changed = published::<pb::MenuItemUpdated>(&app.nats_url, 1).await;
    let meta = changed[0].metadata.as_ref().expect("metadata");
    assert_eq!(
        (meta.aggregate_id.as_str(), meta.aggregate_version),
        ("luigi/pizza", 2)
    );
    let removed = published::<pb::MenuItemRemoved>(&app.nats_url, 1).await;
    assert_eq!(removed.len(), 1, "removing twice publishes once");
    assert_eq!(
        removed[0].metadata.as_ref().map(|m| m.aggregate_version),
        Some(2)
    );
}

async fn bad_menus_are_refused_field_by_field(backend: Backend) {
    let mut app = spawn(backend).await;
    let err = app
        .owner
        .create_store(pb::CreateStoreRequest {
            store_id: "Not Valid".into(),
            owner_id: String::new(),
            name: String::new(),
            currency_code: "euro".into(),
            open: true,
        })
        .await
        .expect_err("invalid");
    // (An empty owner_id is the caller.)
    assert_eq!(fields(&err), ["store_id", "name", "currency_code"]);
    // An id is assigned when none is given.
    let assigned = app
        .owner
        .create_store(new_store("", "Anonymous"))
        .await
        .expect("assigned")
        .into_inner()
        .store
        .expect("store");
    assert!(uuid::Uuid::parse_str(&assigned.store_id).is_ok());
    assert_eq!(assigned.owner_id, "olga", "the caller owns what it creates");

    let mut bad = new_item(&assigned.store_id, "x", "", -5);
    bad.description = "d".repeat(1001);
    let err = app.owner.create_menu_item(bad).await.expect_err("invalid");
    assert_eq!(fields(&err), ["name", "description", "price.amount_minor"]);
    // Prices are in the store's currency: one order never mixes currencies.
    let mut usd = new_item(&assigned.store_id, "x", "X", 100);
    usd.price = Some(Money {
        amount_minor: 100,
        currency_code: "USD".into(),
    });
    let err = app.owner.create_menu_item(usd).await.expect_err("usd");
    assert_eq!(fields(&err), ["price.currency_code"]);
    let err = app
        .owner
        .create_menu_item(new_item("nowhere", "x", "X", 100))
        .await
        .expect_err("no store");
    assert_eq!(err.code(), Code::NotFound);
    let err = app
        .owner
        .update_menu_item(pb::UpdateMenuItemRequest {
            store_id: assigned.store_id.clone(),
            menu_item_id: "never".into(),
            ..Default::default()
        })
        .await
        .expect_err("no item");
    assert_eq!(err.code(), Code::NotFound);
}

both_backends!(
    an_owner_builds_a_menu_customers_read,
    bad_menus_are_refused_field_by_field
);
