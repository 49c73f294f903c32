-- The order context's replica of the stores' menus (menu.rs), fed by the store context's
-- events. A row is replaced only by a newer version, so redelivered or late events never bring
-- back an older state; a removed item stays as a row with removed = 1.
CREATE TABLE menu_stores (
    store_id  TEXT PRIMARY KEY,
    name      TEXT NOT NULL,
    is_open   BIGINT NOT NULL,
    version   BIGINT NOT NULL
);

CREATE TABLE menu_items (
    store_id       TEXT NOT NULL,
    menu_item_id   TEXT NOT NULL,
    name           TEXT NOT NULL,
    price_minor    BIGINT NOT NULL,
    currency_code  TEXT NOT NULL,
    available      BIGINT NOT NULL,
    removed        BIGINT NOT NULL,
    version        BIGINT NOT NULL,
    PRIMARY KEY (store_id, menu_item_id)
);
