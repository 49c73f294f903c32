//! The store and its menu: two aggregates, pure and I/O-free.
//!
//! A [`Store`] is created once and then renamed, opened or closed; a [`MenuItem`] is added,
//! changed and removed (a removed item stays as a tombstone, so its version keeps growing if it
//! is added again and replicas never bring back an older state). Every change bumps the
//! aggregate's version, which every event carries: the order context's replica applies an
//! event only if it is newer than what it holds.

use fd_chassis::errors::{require_text, Violation};
use fd_chassis::money::{Currency, Money};

/// Longest store and menu item id.
pub const MAX_ID_LEN: usize = 64;
/// Longest name.
pub const MAX_NAME_LEN: usize = 200;
/// Longest item description.
pub const MAX_DESCRIPTION_LEN: usize = 1000;

/// An id chosen by an owner: 1 to 64 of a-z, 0-9 and '-' (empty is allowed where one is
/// assigned instead).
pub fn check_id(value: &str, field: &str, errors: &mut Vec<Violation>) {
    if value.is_empty() || value.len() > MAX_ID_LEN {
        errors.push(Violation::new(
            field,
            format!("1 to {MAX_ID_LEN} characters required"),
        ));
    } else if !value
        .bytes()
        .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-')
    {
        errors.push(Violation::new(
            field,
            "only lower-case letters, digits and '-' are allowed",
        ));
    }
}

/// An id from a request, or a new UUID if the request left it empty.
pub fn id_or_new(value: &str, field: &str, errors: &mut Vec<Violation>) -> String {
    if value.is_empty() {
        uuid::Uuid::new_v4().to_string()
    } else {
        check_id(value, field, errors);
        value.to_string()
    }
}

/// A store (the aggregate).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Store {
    pub store_id: String,
    pub owner_id: String,
    pub name: String,
    pub currency: Currency,
    pub open: bool,
    pub created_at_ms: i64,
    pub updated_at_ms: i64,
    pub version: i64,
}

/// A CreateStore request, validated.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewStore {
    pub store_id: String,
    pub owner_id: String,
    pub name: String,
    pub currency: Currency,
    pub open: bool,
}

impl NewStore {
    /// Validates a request, reporting every bad field.
    pub fn parse(
        store_id: &str,
        owner_id: &str,
        name: &str,
        currency_code: &str,
        open: bool,
    ) -> Result<Self, Vec<Violation>> {
        let mut bad = Vec::new();
        let store_id = id_or_new(store_id, "store_id", &mut bad);
        require_text(owner_id, "owner_id", MAX_ID_LEN, &mut bad);
        require_text(name, "name", MAX_NAME_LEN, &mut bad);
        let currency = Currency::parse(currency_code);
        if currency.is_none() {
            bad.push(Violation::new(
                "currency_code",
                "must be an ISO 4217 code of three upper-case letters, e.g. EUR",
            ));
        }
        match currency {
            Some(currency) if bad.is_empty() => Ok(Self {
                store_id,
                owner_id: owner_id.to_string(),
                name: name.to_string(),
                currency,
                open,
            }),
            _ => Err(bad),
        }
    }
}

impl Store {
    /// A new store at version 1.
    pub fn create(new: NewStore, now_ms: i64) -> Self {
        Store {
            store_id: new.store_id,
            owner_id: new.owner_id,
            name: new.name,
            currency: new.currency,
            open: new.open,
            created_at_ms: now_ms,
            updated_at_ms: now_ms,
            version: 1,
        }
    }

    /// Whether a repeated CreateStore asked for exactly this store.
    pub fn is_same(&self, new: &NewStore) -> bool {
        self.owner_id == new.owner_id
            && self.name == new.name
            && self.currency == new.currency
            && self.open == new.open
    }

    /// Renames, opens or closes: the changed store, or `None` if nothing changes.
    pub fn update(&self, name: Option<&str>, open: Option<bool>, now_ms: i64) -> Option<Store> {
        let name = name.unwrap_or(&self.name);
        let open = open.unwrap_or(self.open);
        (name != self.name || open != self.open).then(|| Store {
            name: name.to_string(),
            open,
            updated_at_ms: now_ms,
            version: self.version + 1,
            ..self.clone()
        })
    }
}

/// Which item: ids are unique within a store. Displayed as `store/item`, which is also the
/// aggregate id its events carry.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct ItemKey {
    pub store_id: String,
    pub menu_item_id: String,
}

impl std::fmt::Display for ItemKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}/{}", self.store_id, self.menu_item_id)
    }
}

/// An item on a menu (the aggregate).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MenuItem {
    pub key: ItemKey,
    pub name: String,
    pub description: String,
    pub price: Money,
    pub available: bool,
    /// Removed from the menu (a tombstone: it keeps the version).
    pub removed: bool,
    pub updated_at_ms: i64,
    pub version: i64,
}

/// What an item is made of, validated (CreateMenuItem, or the result of an update).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ItemContent {
    pub name: String,
    pub description: String,
    pub price: Money,
    pub available: bool,
}

/// Checks name and description; `None` fields are not being set.
pub fn check_texts(name: Option<&str>, description: Option<&str>, bad: &mut Vec<Violation>) {
    if let Some(name) = name {
        require_text(name, "name", MAX_NAME_LEN, bad);
    }
    if let Some(d) = description {
        if d.chars().count() > MAX_DESCRIPTION_LEN {
            bad.push(Violation::new(
                "description",
                format!("at most {MAX_DESCRIPTION_LEN} characters"),
            ));
        }
    }
}

/// A price must be in the store's currency: all prices of one order share it.
pub fn check_currency(price: &Money, store: &Store) -> Result<(), Vec<Violation>> {
    if price.currency() == store.currency {
        Ok(())
    } else {
        Err(vec![Violation::new(
            "price.currency_code",
            format!("the store prices in {}", store.currency),
        )])
    }
}

/// How a command changes an item.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ItemChange {
    pub name: Option<String>,
    pub description: Option<String>,
    pub price: Option<Money>,
    pub available: Option<bool>,
}

/// Why an item cannot be changed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ItemRefused {
    /// The item was removed; it can be added again.
    #[error("the menu item {0} was removed; add it again to change it")]
    Removed(ItemKey),
    /// Adding an id that names a different item.
    #[error("the menu item {0} exists with different content; choose another id or update it")]
    Taken(ItemKey),
}

impl MenuItem {
    /// The content of the item as it is.
    pub fn content(&self) -> ItemContent {
        ItemContent {
            name: self.name.clone(),
            description: self.description.clone(),
            price: self.price,
            available: self.available,
        }
    }

    /// A new item at version 1.
    pub fn add(key: ItemKey, content: ItemContent, now_ms: i64) -> Self {
        MenuItem {
            key,
            name: content.name,
            description: content.description,
            price: content.price,
            available: content.available,
            removed: false,
            updated_at_ms: now_ms,
            version: 1,
        }
    }

    /// Adding an id that exists: a repeat of the same add is a no-op (`None`), a removed item
    /// comes back with a higher version, anything else is refused.
    pub fn add_again(
        &self,
        content: ItemContent,
        now_ms: i64,
    ) -> Result<Option<Self>, ItemRefused> {
        if self.removed {
            return Ok(Some(MenuItem {
                removed: false,
                version: self.version + 1,
                ..MenuItem::add(self.key.clone(), content, now_ms)
            }));
        }
        if self.content() == content {
            Ok(None)
        } else {
            Err(ItemRefused::Taken(self.key.clone()))
        }
    }

    /// Applies a change: the changed item, or `None` if nothing changes.
    pub fn update(&self, change: &ItemChange, now_ms: i64) -> Result<Option<Self>, ItemRefused> {
        if self.removed {
            return Err(ItemRefused::Removed(self.key.clone()));
        }
        let next = ItemContent {
            name: change.name.clone().unwrap_or_else(|| self.name.clone()),
            description: change
                .description
                .clone()
                .unwrap_or_else(|| self.description.clone()),
            price: change.price.unwrap_or(self.price),
            available: change.available.unwrap_or(self.available),
        };
        if next == self.content() {
            return Ok(None);
        }
        Ok(Some(MenuItem {
            name: next.name,
            description: next.description,
            price: next.price,
            available: next.available,
            updated_at_ms: now_ms,
            version: self.version + 1,
            ..self.clone()
        }))
    }

    /// Removes it from the menu: `None` if it was removed already.
    pub fn remove(&self, now_ms: i64) -> Option<Self> {
        (!self.removed).then(|| MenuItem {
            removed: true,
            updated_at_ms: now_ms,
            version: self.version + 1,
            ..self.clone()
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn eur(minor: i64) -> Money {
        Money::parse(minor, "EUR", "price").expect("valid")
    }

    fn pizza() -> MenuItem {
        let key = ItemKey {
            store_id: "s".into(),
            menu_item_id: "pizza".into(),
        };
        let content = ItemContent {
            name: "Margherita".into(),
            description: String::new(),
            price: eur(1250),
            available: true,
        };
        MenuItem::add(key, content, 1)
    }

    #[test]
    fn ids_are_checked_or_assigned() {
        let mut bad = Vec::new();
        check_id("pizza-2", "id", &mut bad);
        assert!(bad.is_empty());
        for wrong in ["", "Pizza", "a b", &"x".repeat(65)] {
            check_id(wrong, "id", &mut bad);
        }
        assert_eq!(bad.len(), 4);
        let assigned = id_or_new("", "id", &mut bad);
        assert!(uuid::Uuid::parse_str(&assigned).is_ok());
    }

    #[test]
    fn every_change_bumps_the_version_and_repeats_are_no_ops() {
        let item = pizza();
        let cheaper = ItemChange {
            price: Some(eur(990)),
            ..ItemChange::default()
        };
        let changed = item.update(&cheaper, 2).expect("allowed").expect("changed");
        assert_eq!((changed.price, changed.version), (eur(990), 2));
        assert_eq!(changed.update(&cheaper, 3), Ok(None));
        let removed = changed.remove(4).expect("removed");
        assert_eq!((removed.removed, removed.version), (true, 3));
        assert_eq!(removed.remove(5), None);
        assert!(matches!(
            removed.update(&cheaper, 5),
            Err(ItemRefused::Removed(_))
        ));
        let back = removed
            .add_again(item.content(), 6)
            .expect("ok")
            .expect("added");
        assert_eq!(
            (back.removed, back.version, back.price),
            (false, 4, eur(1250))
        );
        assert_eq!(back.add_again(item.content(), 7), Ok(None));
        let other = ItemContent {
            name: "Marinara".into(),
            ..item.content()
        };
        assert!(matches!(
            back.add_again(other, 7),
            Err(ItemRefused::Taken(_))
        ));
    }

    #[test]
    fn a_store_update_that_changes_nothing_is_none() {
        let new = NewStore::parse("s-1", "olga", "Olga's", "EUR", true).expect("valid");
        let store = Store::create(new.clone(), 1);
        assert!(store.is_same(&new));
        assert_eq!(store.update(Some("Olga's"), Some(true), 2), None);
        let closed = store.update(None, Some(false), 2).expect("changed");
        assert_eq!((closed.open, closed.version), (false, 2));
        let bad = NewStore::parse("S 1", "", "", "eur", true).expect_err("invalid");
        let fields: Vec<_> = bad.iter().map(|v| v.field.as_str()).collect();
        assert_eq!(fields, ["store_id", "owner_id", "name", "currency_code"]);
    }
}
