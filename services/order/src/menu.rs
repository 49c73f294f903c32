//! The order context's replica of the stores' menus, and pricing from it (pure).
//!
//! The store context owns menus; order keeps a copy fed by the store's events
//! ([`crate::policies::MenuReplica`]) so that it prices and checks orders by itself, also while
//! the store service is down. The replica is *eventually* consistent: a change reaches it
//! when the store's outbox relay has published the event and order's consumer has applied it
//! (milliseconds normally; see docs/using.md "When the menu replica is behind"). Until then
//! orders are priced as the replica has it, and v1 clients that send the new price are told the
//! price the order service knows.

use std::collections::HashMap;

use fd_chassis::money::Money;

use crate::domain::LineItem;

/// A store as the replica knows it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MenuStore {
    pub store_id: String,
    pub name: String,
    pub open: bool,
    pub version: i64,
}

/// A menu item as the replica knows it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MenuEntry {
    pub menu_item_id: String,
    pub name: String,
    pub price: Option<Money>,
    pub available: bool,
    pub removed: bool,
    pub version: i64,
}

/// What the replica knows about one store and the items an order asks for.
#[derive(Debug, Clone, Default)]
pub struct Menu {
    pub store: Option<MenuStore>,
    pub items: HashMap<String, MenuEntry>,
}

/// One line a client asks for; `claimed` is the unit price a v1 client sent.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Wanted {
    pub menu_item_id: String,
    pub quantity: i32,
    pub claimed: Option<Money>,
}

/// One thing wrong with an order against the menu (a `google.rpc.PreconditionFailure`
/// violation: `kind` is its type, `subject` the request field).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Problem {
    pub kind: &'static str,
    pub subject: String,
    pub description: String,
}

/// Why the menu refuses an order: FAILED_PRECONDITION, the first problem's kind as the
/// `ErrorInfo` reason.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Refusal {
    pub problems: Vec<Problem>,
}

impl Refusal {
    /// The machine-readable reason (the first problem's kind).
    pub fn reason(&self) -> &'static str {
        self.problems.first().map_or("MENU_REFUSED", |p| p.kind)
    }

    /// One readable sentence for the status message.
    pub fn message(&self) -> String {
        let all: Vec<&str> = self
            .problems
            .iter()
            .map(|p| p.description.as_str())
            .collect();
        format!("{}; nothing was charged or stored", all.join("; "))
    }
}

/// Lines priced from the menu, and their total.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Priced {
    pub items: Vec<LineItem>,
    pub total: Money,
}

impl Menu {
    /// Prices `wanted` (the request's list field is `list`, e.g. "items" in v1, "lines" in v2)
    /// from the menu of `store_id`, reporting every problem at once.
    pub fn price(&self, store_id: &str, list: &str, wanted: &[Wanted]) -> Result<Priced, Refusal> {
        let mut problems = Vec::new();
        let store = match &self.store {
            None => {
                return Err(Refusal {
                    problems: vec![Problem {
                        kind: "STORE_UNKNOWN",
                        subject: "store_id".into(),
                        description: format!("there is no store {store_id}"),
                    }],
                })
            }
            Some(s) => s,
        };
        if !store.open {
            problems.push(Problem {
                kind: "STORE_CLOSED",
                subject: "store_id".into(),
                description: format!("{} is closed and takes no orders now", store.name),
            });
        }
        let mut items = Vec::with_capacity(wanted.len());
        let mut total: Option<Money> = None;
        for (i, w) in wanted.iter().enumerate() {
            let entry = self
                .items
                .get(&w.menu_item_id)
                .filter(|e| !e.removed)
                .and_then(|e| Some((e, e.price?)));
            let Some((entry, price)) = entry else {
                problems.push(Problem {
                    kind: "MENU_ITEM_UNKNOWN",
                    subject: format!("{list}[{i}].menu_item_id"),
                    description: format!(
                        "{} has no item {} on its menu",
                        store.name, w.menu_item_id
                    ),
                });
                continue;
            };
            if !entry.available {
                problems.push(Problem {
                    kind: "MENU_ITEM_UNAVAILABLE",
                    subject: format!("{list}[{i}].menu_item_id"),
                    description: format!("{} is not available right now", entry.name),
                });
            }
            if let Some(claimed) = w.claimed {
                if claimed != price {
                    problems.push(Problem {
                        kind: "PRICE_CHANGED",
                        subject: format!("{list}[{i}].unit_price"),
                        description: format!(
                            "{} costs {} now, not {}",
                            entry.name,
                            price.human(),
                            claimed.human()
                        ),
                    });
                }
            }
            let line = price.times(i64::from(w.quantity));
            total = match (total, line) {
                (None, Some(l)) => Some(l),
                (Some(t), Some(l)) => t.plus(&l),
                _ => None,
            };
            if total.is_none() {
                problems.push(Problem {
                    kind: "ORDER_TOO_LARGE",
                    subject: format!("{list}[{i}].quantity"),
                    description: "the order's total is larger than one payment can be".into(),
                });
            }
            items.push(LineItem {
                menu_item_id: w.menu_item_id.clone(),
                name: entry.name.clone(),
                quantity: w.quantity,
                unit_price: price,
            });
        }
        match total {
            Some(total) if problems.is_empty() => Ok(Priced { items, total }),
            _ => Err(Refusal { problems }),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn eur(minor: i64) -> Money {
        Money::parse(minor, "EUR", "price").expect("valid")
    }

    fn menu(open: bool) -> Menu {
        let entry = |id: &str, name: &str, minor, available, removed| MenuEntry {
            menu_item_id: id.into(),
            name: name.into(),
            price: Some(eur(minor)),
            available,
            removed,
            version: 1,
        };
        Menu {
            store: Some(MenuStore {
                store_id: "s".into(),
                name: "Luigi's".into(),
                open,
                version: 1,
            }),
            items: [
                entry("pizza", "Margherita", 1250, true, false),
                entry("cola", "Cola", 400, true, false),
                entry("tiramisu", "Tiramisu", 600, false, false),
                entry("calzone", "Calzone", 1400, true, true),
            ]
            .into_iter()
            .map(|e| (e.menu_item_id.clone(), e))
            .collect(),
        }
    }

    fn want(id: &str, quantity: i32, claimed: Option<i64>) -> Wanted {
        Wanted {
            menu_item_id: id.into(),
            quantity,
            claimed: claimed.map(eur),
        }
    }

    #[test]
    fn prices_come_from_the_menu() {
        let p = menu(true)
            .price(
                "s",
                "lines",
                &[want("pizza", 2, None), want("cola", 1, None)],
            )
            .expect("priced");
        assert_eq!(p.total, eur(2900));
        assert_eq!(p.items[0].name, "Margherita");
        assert_eq!(p.items[0].unit_price, eur(1250));
    }

    #[test]
    fn a_claimed_price_must_be_the_menu_price() {
        let r = menu(true)
            .price("s", "items", &[want("pizza", 100, Some(1))])
            .expect_err("tampered");
        assert_eq!(r.reason(), "PRICE_CHANGED");
        assert_eq!(r.problems[0].subject, "items[0].unit_price");
        assert!(r
            .message()
            .contains("Margherita costs 12.50 EUR now, not 0.01 EUR"));
        assert!(menu(true)
            .price("s", "items", &[want("pizza", 1, Some(1250))])
            .is_ok());
    }

    #[test]
    fn every_problem_is_named() {
        let r = menu(false)
            .price(
                "s",
                "lines",
                &[
                    want("tiramisu", 1, None),
                    want("calzone", 1, None),
                    want("sushi", 1, None),
                ],
            )
            .expect_err("refused");
        let kinds: Vec<_> = r
            .problems
            .iter()
            .map(|p| (p.kind, p.subject.as_str()))
            .collect();
        assert_eq!(
            kinds,
            [
                ("STORE_CLOSED", "store_id"),
                ("MENU_ITEM_UNAVAILABLE", "lines[0].menu_item_id"),
                ("MENU_ITEM_UNKNOWN", "lines[1].menu_item_id"),
                ("MENU_ITEM_UNKNOWN", "lines[2].menu_item_id"),
            ]
        );
        let unknown = Menu::default().price("nowhere", "lines", &[want("pizza", 1, None)]);
        assert_eq!(unknown.expect_err("no store").reason(), "STORE_UNKNOWN");
    }
}
