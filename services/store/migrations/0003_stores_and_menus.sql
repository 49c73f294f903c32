-- Stores and their menus (catalog.rs). A removed menu item stays as a row with removed = 1 so
-- its version keeps growing if it is added again: the order context's replica applies only
-- newer versions.
CREATE TABLE stores (
    store_id       TEXT PRIMARY KEY,
    owner_id       TEXT NOT NULL,
    name           TEXT NOT NULL,
    currency_code  TEXT NOT NULL,
    is_open        BIGINT NOT NULL,
    created_at_ms  BIGINT NOT NULL,
    updated_at_ms  BIGINT NOT NULL,
    version        BIGINT NOT NULL
);

CREATE TABLE menu_items (
    store_id       TEXT NOT NULL,
    menu_item_id   TEXT NOT NULL,
    name           TEXT NOT NULL,
    description    TEXT NOT NULL,
    price_minor    BIGINT NOT NULL,
    currency_code  TEXT NOT NULL,
    available      BIGINT NOT NULL,
    removed        BIGINT NOT NULL,
    updated_at_ms  BIGINT NOT NULL,
    version        BIGINT NOT NULL,
    PRIMARY KEY (store_id, menu_item_id)
);
