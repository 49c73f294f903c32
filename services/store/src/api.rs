//! The store's gRPC APIs: the owner's StoreService (tickets, the store, its menu) and the
//! customers' CatalogService (read-only). Requests are validated here, the aggregates decide in
//! [`crate::domain`] and [`crate::catalog`], and each command is one unit of work that records
//! its event. Proto types stop in this file.

use fd_chassis::auth::{caller, Caller, Role};
use fd_chassis::db::Db;
use fd_chassis::errors::{check, require_text, AppError, Violation};
use fd_chassis::outbox;
use fd_chassis::time::{now_ms, timestamp};
use fd_proto::store::v1 as pb;
use tonic::{Request, Response, Status};

use crate::catalog::{self, ItemChange, ItemContent, ItemKey, MenuItem, NewStore, Store};
use crate::db;
use crate::domain::{Ticket, TicketState};
use fd_chassis::money::Money;
use fd_chassis::work::Aggregate;

/// The StoreService implementation.
#[derive(Debug, Clone)]
pub struct StoreApi {
    db: Db,
}

impl StoreApi {
    /// An API over `db`.
    pub fn new(db: Db) -> Self {
        Self { db }
    }
}

impl From<TicketState> for pb::TicketState {
    fn from(s: TicketState) -> Self {
        match s {
            TicketState::New => Self::New,
            TicketState::Accepted => Self::Accepted,
            TicketState::Rejected => Self::Rejected,
            TicketState::CookingFinished => Self::CookingFinished,
            TicketState::Voided => Self::Voided,
        }
    }
}

/// The state a list is filtered by (`None`: every state).
fn state_filter(s: pb::TicketState) -> Option<TicketState> {
    match s {
        pb::TicketState::Unspecified => None,
        pb::TicketState::New => Some(TicketState::New),
        pb::TicketState::Accepted => Some(TicketState::Accepted),
        pb::TicketState::Rejected => Some(TicketState::Rejected),
        pb::TicketState::CookingFinished => Some(TicketState::CookingFinished),
        pb::TicketState::Voided => Some(TicketState::Voided),
    }
}

fn to_proto(t: &Ticket) -> pb::StoreOrder {
    pb::StoreOrder {
        order_id: t.order_id.clone(),
        store_id: t.store_id.clone(),
        items: t
            .items
            .iter()
            .map(|i| pb::TicketItem {
                menu_item_id: i.menu_item_id.clone(),
                name: i.name.clone(),
                quantity: i.quantity,
            })
            .collect(),
        total: Some(fd_proto::common::v1::Money {
            amount_minor: t.total_minor,
            currency_code: t.currency_code.clone(),
        }),
        state: pb::TicketState::from(t.state).into(),
        reject_reason: t.reject_reason.clone(),
        create_time: Some(timestamp(t.created_at_ms)),
        update_time: Some(timestamp(t.updated_at_ms)),
    }
}

fn require_id(value: &str, field: &str, errors: &mut Vec<Violation>) {
    require_text(value, field, 64, errors);
}

/// INVALID_ARGUMENT unless `order_id` is a plausible id (commands that take only that).
fn valid_order_id(order_id: &str) -> Result<(), AppError> {
    let mut bad = Vec::new();
    require_id(order_id, "order_id", &mut bad);
    check(bad)
}

/// Event metadata; the ticket's position in its life is its aggregate version.
fn meta(t: &Ticket) -> Option<fd_proto::common::v1::EventMetadata> {
    Some(outbox::metadata(&t.order_id, t.version()))
}

#[tonic::async_trait]
impl pb::store_service_server::StoreService for StoreApi {
    async fn list_store_orders(
        &self,
        req: Request<pb::ListStoreOrdersRequest>,
    ) -> Result<Response<pb::ListStoreOrdersResponse>, Status> {
        let who = caller(&req)?;
        let r = req.into_inner();
        let mut bad = Vec::new();
        require_id(&r.store_id, "store_id", &mut bad);
        let state = state_filter(r.state());
        let page = fd_chassis::page::parse(r.page_size, &r.page_token, &mut bad);
        check(bad)?;
        self.owned_store(&who, &r.store_id).await?;
        let (tickets, next_page_token) = db::list(&self.db.pool, &r.store_id, state, &page)
            .await
            .map_err(AppError::from)?;
        Ok(Response::new(pb::ListStoreOrdersResponse {
            orders: tickets.iter().map(to_proto).collect(),
            next_page_token,
        }))
    }

    async fn accept_order(
        &self,
        req: Request<pb::AcceptOrderRequest>,
    ) -> Result<Response<pb::AcceptOrderResponse>, Status> {
        let who = caller(&req)?;
        let r = req.into_inner();
        valid_order_id(&r.order_id)?;
        self.owned_ticket(&who, &r.order_id).await?;
        let t = self
            .db
            .change(
                r.order_id.as_str(),
                |t: &Ticket| t.accept(now_ms()),
                |t| pb::OrderAccepted {
                    metadata: meta(t),
                    order_id: t.order_id.clone(),
                    store_id: t.store_id.clone(),
                    customer_id: t.customer_id.clone(),
                },
            )
            .await?
            .state;
        Ok(Response::new(pb::AcceptOrderResponse {
            order: Some(to_proto(&t)),
        }))
    }

    async fn reject_order(
        &self,
        req: Request<pb::RejectOrderRequest>,
    ) -> Result<Response<pb::RejectOrderResponse>, Status> {
        let who = caller(&req)?;
        let r = req.into_inner();
        let mut bad = Vec::new();
        require_id(&r.order_id, "order_id", &mut bad);
        // Required: the customer is told why.
        require_text(&r.reason, "reason", 500, &mut bad);
        check(bad)?;
        self.owned_ticket(&who, &r.order_id).await?;
        let t = self
            .db
            .change(
                r.order_id.as_str(),
                |t: &Ticket| t.reject(&r.reason, now_ms()),
                |t| pb::OrderRejected {
                    metadata: meta(t),
                    order_id: t.order_id.clone(),
                    store_id: t.store_id.clone(),
                    reason: t.reject_reason.clone(),
                    customer_id: t.customer_id.clone(),
                },
            )
            .await?
            .state;
        Ok(Response::new(pb::RejectOrderResponse {
            order: Some(to_proto(&t)),
        }))
    }

    async fn finish_cooking(
        &self,
        req: Request<pb::FinishCookingRequest>,
    ) -> Result<Response<pb::FinishCookingResponse>, Status> {
        let who = caller(&req)?;
        let r = req.into_inner();
        valid_order_id(&r.order_id)?;
        self.owned_ticket(&who, &r.order_id).await?;
        let t = self
            .db
            .change(
                r.order_id.as_str(),
                |t: &Ticket| t.finish_cooking(now_ms()),
                |t| pb::CookingFinished {
                    metadata: meta(t),
                    order_id: t.order_id.clone(),
                    store_id: t.store_id.clone(),
                    customer_id: t.customer_id.clone(),
                },
            )
            .await?
            .state;
        Ok(Response::new(pb::FinishCookingResponse {
            order: Some(to_proto(&t)),
        }))
    }

    async fn create_store(
        &self,
        req: Request<pb::CreateStoreRequest>,
    ) -> Result<Response<pb::CreateStoreResponse>, Status> {
        let store = self
            .do_create_store(&caller(&req)?, req.into_inner())
            .await?;
        Ok(Response::new(pb::CreateStoreResponse {
            store: Some(store),
        }))
    }

    async fn update_store(
        &self,
        req: Request<pb::UpdateStoreRequest>,
    ) -> Result<Response<pb::UpdateStoreResponse>, Status> {
        let store = self
            .do_update_store(&caller(&req)?, req.into_inner())
            .await?;
        Ok(Response::new(pb::UpdateStoreResponse {
            store: Some(store),
        }))
    }

    async fn create_menu_item(
        &self,
        req: Request<pb::CreateMenuItemRequest>,
    ) -> Result<Response<pb::CreateMenuItemResponse>, Status> {
        let item = self
            .do_create_item(&caller(&req)?, req.into_inner())
            .await?;
        Ok(Response::new(pb::CreateMenuItemResponse {
            item: Some(item),
        }))
    }

    async fn update_menu_item(
        &self,
        req: Request<pb::UpdateMenuItemRequest>,
    ) -> Result<Response<pb::UpdateMenuItemResponse>, Status> {
        let item = self
            .do_update_item(&caller(&req)?, req.into_inner())
            .await?;
        Ok(Response::new(pb::UpdateMenuItemResponse {
            item: Some(item),
        }))
    }

    async fn delete_menu_item(
        &self,
        req: Request<pb::DeleteMenuItemRequest>,
    ) -> Result<Response<pb::DeleteMenuItemResponse>, Status> {
        self.do_delete_item(&caller(&req)?, req.into_inner())
            .await?;
        Ok(Response::new(pb::DeleteMenuItemResponse {}))
    }
}

// ---- The store and its menu: owner commands (StoreService) and customer reads (CatalogService)

fn store_to_proto(s: &Store) -> pb::Store {
    pb::Store {
        store_id: s.store_id.clone(),
        owner_id: s.owner_id.clone(),
        name: s.name.clone(),
        currency_code: s.currency.to_string(),
        open: s.open,
        create_time: Some(timestamp(s.created_at_ms)),
        update_time: Some(timestamp(s.updated_at_ms)),
        version: s.version,
    }
}

/// The wire form of an item (also what its events carry).
pub fn item_to_proto(i: &MenuItem) -> pb::MenuItem {
    pb::MenuItem {
        store_id: i.key.store_id.clone(),
        menu_item_id: i.key.menu_item_id.clone(),
        name: i.name.clone(),
        description: i.description.clone(),
        price: Some(i.price.to_proto()),
        available: i.available,
        update_time: Some(timestamp(i.updated_at_ms)),
        version: i.version,
    }
}

fn store_event_meta(s: &Store) -> Option<fd_proto::common::v1::EventMetadata> {
    Some(outbox::metadata(&s.store_id, s.version))
}

fn item_event_meta(i: &MenuItem) -> Option<fd_proto::common::v1::EventMetadata> {
    Some(outbox::metadata(&i.key.to_string(), i.version))
}

fn item_added(i: &MenuItem) -> pb::MenuItemAdded {
    pb::MenuItemAdded {
        metadata: item_event_meta(i),
        item: Some(item_to_proto(i)),
    }
}

impl StoreApi {
    /// The store, if the caller runs it (its owner) or is an operator. Stores are public (the
    /// catalog lists them), so someone else's is PERMISSION_DENIED, not NOT_FOUND.
    async fn owned_store(&self, who: &Caller, store_id: &str) -> Result<Store, Status> {
        let store = self.store(store_id).await?;
        if who.is(Role::Operator) || (who.is(Role::Owner) && store.owner_id == who.subject) {
            Ok(store)
        } else {
            Err(Status::permission_denied(format!(
                "the store {store_id} is not {}'s",
                who.subject
            )))
        }
    }

    /// Checks that the caller runs the store of `order_id`'s ticket. A ticket is an order: for
    /// anyone else it does not exist (NOT_FOUND), so order ids reveal nothing.
    async fn owned_ticket(&self, who: &Caller, order_id: &str) -> Result<(), Status> {
        let hidden = || Status::not_found(format!("no ticket for order {order_id}"));
        let ticket = db::get(&self.db.pool, order_id)
            .await
            .map_err(AppError::from)?
            .filter(|t| !t.is_tombstone())
            .ok_or_else(hidden)?;
        if who.is(Role::Operator) {
            return Ok(());
        }
        let store = db::get_store(&self.db.pool, &ticket.store_id)
            .await
            .map_err(AppError::from)?;
        match store {
            Some(s) if who.is(Role::Owner) && s.owner_id == who.subject => Ok(()),
            _ => Err(hidden()),
        }
    }

    async fn store(&self, store_id: &str) -> Result<Store, AppError> {
        find_store(&self.db, store_id).await
    }

    /// CreateStore: insert with StoreCreated, or answer a repeat with the stored store.
    pub(crate) async fn create_store(&self, new: NewStore) -> Result<Store, AppError> {
        let taken = |s: &Store| {
            AppError::AlreadyExists(format!(
                "the store id {} is taken by a different store; choose another id",
                s.store_id
            ))
        };
        let mut work = self.db.begin().await?;
        if let Some(existing) = db::get_store(work.conn(), &new.store_id).await? {
            return if existing.is_same(&new) {
                Ok(existing)
            } else {
                Err(taken(&existing))
            };
        }
        let store = Store::create(new.clone(), now_ms());
        let inserted = db::insert_store(work.conn(), &store).await;
        match inserted {
            Ok(()) => {}
            // A concurrent create of the same id won: answer as for a repeat.
            Err(e) if fd_chassis::db::is_unique_violation(&e) => {
                drop(work);
                let existing = self.store(&new.store_id).await?;
                return if existing.is_same(&new) {
                    Ok(existing)
                } else {
                    Err(taken(&existing))
                };
            }
            Err(e) => return Err(e.into()),
        }
        work.record(&pb::StoreCreated {
            metadata: store_event_meta(&store),
            store: Some(store_to_proto(&store)),
        })
        .await?;
        work.commit().await?;
        tracing::info!(store_id = %store.store_id, "store created");
        Ok(store)
    }

    /// CreateMenuItem on `store`'s menu: a new item, a removed one added again, or a repeat
    /// answered as it is.
    pub(crate) async fn create_item(
        &self,
        store: &Store,
        key: ItemKey,
        content: ItemContent,
    ) -> Result<MenuItem, AppError> {
        catalog::check_currency(&content.price, store).map_err(AppError::Invalid)?;
        for _ in 0..3 {
            let mut work = self.db.begin().await?;
            let now = now_ms();
            let (item, stored) = match db::get_item(work.conn(), &key).await? {
                None => {
                    let item = MenuItem::add(key.clone(), content.clone(), now);
                    match db::insert_item(work.conn(), &item).await {
                        Ok(()) => (item, true),
                        Err(e) if fd_chassis::db::is_unique_violation(&e) => continue,
                        Err(e) => return Err(e.into()),
                    }
                }
                Some(existing) => match existing.add_again(content.clone(), now) {
                    Ok(None) => return Ok(existing),
                    Ok(Some(item)) => {
                        let stored = item.store_if_unchanged(work.conn(), &existing).await?;
                        (item, stored)
                    }
                    Err(e) => return Err(AppError::AlreadyExists(e.to_string())),
                },
            };
            if !stored {
                continue;
            }
            work.record(&item_added(&item)).await?;
            work.commit().await?;
            tracing::info!(item = %item.key, "menu item added");
            return Ok(item);
        }
        Err(AppError::Conflict(format!(
            "the menu item {key} kept changing concurrently; retry"
        )))
    }
}

/// The store `store_id`, or NOT_FOUND.
async fn find_store(db: &Db, store_id: &str) -> Result<Store, AppError> {
    db::get_store(&db.pool, store_id)
        .await?
        .ok_or_else(|| AppError::NotFound(format!("no store {store_id}")))
}

fn item_key(store_id: &str, menu_item_id: &str, bad: &mut Vec<Violation>) -> ItemKey {
    require_id(store_id, "store_id", bad);
    require_id(menu_item_id, "menu_item_id", bad);
    ItemKey {
        store_id: store_id.to_string(),
        menu_item_id: menu_item_id.to_string(),
    }
}

/// The StoreService RPCs that manage the store and its menu (the ticket RPCs are above).
impl StoreApi {
    async fn do_create_store(
        &self,
        who: &Caller,
        r: pb::CreateStoreRequest,
    ) -> Result<pb::Store, Status> {
        who.require(&[Role::Owner, Role::Operator], "creating a store")?;
        // An owner creates their own stores (owner_id empty or theirs); an operator any.
        let owner_id = if r.owner_id.is_empty() && who.is(Role::Owner) {
            who.subject.clone()
        } else {
            r.owner_id.clone()
        };
        // Validated first: the refusal below must not echo unbounded input.
        let new = NewStore::parse(&r.store_id, &owner_id, &r.name, &r.currency_code, r.open)
            .map_err(AppError::Invalid)?;
        if !who.is(Role::Operator) && owner_id != who.subject {
            return Err(Status::permission_denied(format!(
                "{} may create stores only for themselves, not for {owner_id}",
                who.subject
            )));
        }
        Ok(store_to_proto(&self.create_store(new).await?))
    }

    async fn do_update_store(
        &self,
        who: &Caller,
        r: pb::UpdateStoreRequest,
    ) -> Result<pb::Store, Status> {
        let mut bad = Vec::new();
        require_id(&r.store_id, "store_id", &mut bad);
        catalog::check_texts(r.name.as_deref(), None, &mut bad);
        check(bad)?;
        self.owned_store(who, &r.store_id).await?;
        let s = self
            .db
            .change(
                r.store_id.as_str(),
                |s: &Store| Ok::<_, AppError>(s.update(r.name.as_deref(), r.open, now_ms())),
                |s| pb::StoreUpdated {
                    metadata: store_event_meta(s),
                    store: Some(store_to_proto(s)),
                },
            )
            .await?
            .state;
        Ok(store_to_proto(&s))
    }

    async fn do_create_item(
        &self,
        who: &Caller,
        r: pb::CreateMenuItemRequest,
    ) -> Result<pb::MenuItem, Status> {
        let mut bad = Vec::new();
        require_id(&r.store_id, "store_id", &mut bad);
        let menu_item_id = catalog::id_or_new(&r.menu_item_id, "menu_item_id", &mut bad);
        catalog::check_texts(Some(&r.name), Some(&r.description), &mut bad);
        let price = Money::from_proto(r.price.as_ref(), "price")
            .map_err(|v| bad.extend(v))
            .ok();
        check(bad)?;
        let Some(price) = price else {
            return Err(AppError::Invalid(vec![Violation::new("price", "required")]).into());
        };
        let store = self.owned_store(who, &r.store_id).await?;
        let key = ItemKey {
            store_id: r.store_id,
            menu_item_id,
        };
        let content = ItemContent {
            name: r.name,
            description: r.description,
            price,
            available: r.available,
        };
        Ok(item_to_proto(
            &self.create_item(&store, key, content).await?,
        ))
    }

    async fn do_update_item(
        &self,
        who: &Caller,
        r: pb::UpdateMenuItemRequest,
    ) -> Result<pb::MenuItem, Status> {
        let mut bad = Vec::new();
        let key = item_key(&r.store_id, &r.menu_item_id, &mut bad);
        catalog::check_texts(r.name.as_deref(), r.description.as_deref(), &mut bad);
        let price = match r.price.as_ref() {
            None => None,
            Some(p) => Money::from_proto(Some(p), "price")
                .map_err(|v| bad.extend(v))
                .ok(),
        };
        check(bad)?;
        let store = self.owned_store(who, &key.store_id).await?;
        if let Some(price) = &price {
            catalog::check_currency(price, &store).map_err(AppError::Invalid)?;
        }
        let change = ItemChange {
            name: r.name,
            description: r.description,
            price,
            available: r.available,
        };
        let i = self
            .db
            .change(
                &key,
                |i: &MenuItem| i.update(&change, now_ms()),
                |i| pb::MenuItemUpdated {
                    metadata: item_event_meta(i),
                    item: Some(item_to_proto(i)),
                },
            )
            .await?
            .state;
        Ok(item_to_proto(&i))
    }

    async fn do_delete_item(
        &self,
        who: &Caller,
        r: pb::DeleteMenuItemRequest,
    ) -> Result<(), Status> {
        let mut bad = Vec::new();
        let key = item_key(&r.store_id, &r.menu_item_id, &mut bad);
        check(bad)?;
        self.owned_store(who, &key.store_id).await?;
        self.db
            .change(
                &key,
                |i: &MenuItem| Ok::<_, AppError>(i.remove(now_ms())),
                |i| pb::MenuItemRemoved {
                    metadata: item_event_meta(i),
                    store_id: i.key.store_id.clone(),
                    menu_item_id: i.key.menu_item_id.clone(),
                },
            )
            .await?;
        Ok(())
    }
}

/// The CatalogService implementation: customers browse stores and menus.
#[derive(Debug, Clone)]
pub struct CatalogApi {
    db: Db,
}

impl CatalogApi {
    /// An API over `db`.
    pub fn new(db: Db) -> Self {
        Self { db }
    }
}

#[tonic::async_trait]
impl pb::catalog_service_server::CatalogService for CatalogApi {
    async fn list_stores(
        &self,
        req: Request<pb::ListStoresRequest>,
    ) -> Result<Response<pb::ListStoresResponse>, Status> {
        caller(&req)?; // anyone signed in browses
        let r = req.into_inner();
        let mut bad = Vec::new();
        let page = fd_chassis::page::parse(r.page_size, &r.page_token, &mut bad);
        check(bad)?;
        let (stores, next_page_token) = db::list_stores(&self.db.pool, r.open_only, &page)
            .await
            .map_err(AppError::from)?;
        Ok(Response::new(pb::ListStoresResponse {
            stores: stores.iter().map(store_to_proto).collect(),
            next_page_token,
        }))
    }

    async fn get_store(
        &self,
        req: Request<pb::GetStoreRequest>,
    ) -> Result<Response<pb::GetStoreResponse>, Status> {
        caller(&req)?;
        let r = req.into_inner();
        let mut bad = Vec::new();
        require_id(&r.store_id, "store_id", &mut bad);
        check(bad)?;
        let store = find_store(&self.db, &r.store_id).await?;
        Ok(Response::new(pb::GetStoreResponse {
            store: Some(store_to_proto(&store)),
        }))
    }

    async fn list_menu_items(
        &self,
        req: Request<pb::ListMenuItemsRequest>,
    ) -> Result<Response<pb::ListMenuItemsResponse>, Status> {
        caller(&req)?;
        let r = req.into_inner();
        let mut bad = Vec::new();
        require_id(&r.store_id, "store_id", &mut bad);
        let page = fd_chassis::page::parse(r.page_size, &r.page_token, &mut bad);
        check(bad)?;
        find_store(&self.db, &r.store_id).await?;
        let (items, next_page_token) = db::list_items(&self.db.pool, &r.store_id, &page)
            .await
            .map_err(AppError::from)?;
        Ok(Response::new(pb::ListMenuItemsResponse {
            items: items.iter().map(item_to_proto).collect(),
            next_page_token,
        }))
    }
}
