//! Expand/contract: during a canary v1 and v2 pods share one database, so the version before
//! must run on the schema of the version after, and every migration only expands.

use std::borrow::Cow;

use fd_chassis::db::{expand_only_violations, with_chassis_tables};
use fd_proto::order::v1 as order;
use fd_testkit::{both_backends, Backend};
use sqlx::migrate::{Migration, MigrationType, Migrator};

use fd_system_tests::{definition, System, SERVICES};

#[test]
fn every_migration_of_every_service_only_expands() {
    for name in SERVICES {
        let def = definition(name).expect("definition");
        for m in with_chassis_tables(def.migrator).iter() {
            let found = expand_only_violations(&m.sql);
            assert!(
                found.is_empty(),
                "{name} migration {} ({}) would break the version before it during a canary: \
                 {found:?}; split it into an expanding migration now and a `-- contract:` one \
                 once no older pod runs",
                m.version,
                m.description
            );
        }
    }
}

/// What the next version of order might add: a column and a table.
const NEXT: &str = "ALTER TABLE orders ADD COLUMN coupon_code TEXT;\n\
                    CREATE TABLE order_coupons (order_id TEXT PRIMARY KEY, code TEXT NOT NULL);";

async fn the_version_before_runs_on_the_next_versions_schema(backend: Backend) {
    let mut sys = System::start(backend).await;
    let before = sys.place("nina", "before-the-canary").await;
    // The canary (the next version) starts and migrates the shared database.
    sys.stop("order").await;
    {
        sqlx::any::install_default_drivers();
        let pool = sqlx::AnyPool::connect(sys.database_url("order"))
            .await
            .expect("order's database");
        let mut next: Vec<Migration> = with_chassis_tables(::order::SERVICE.migrator)
            .iter()
            .cloned()
            .collect();
        next.push(Migration::new(
            99_999_999,
            Cow::Borrowed("the next version's expansion"),
            MigrationType::Simple,
            Cow::Borrowed(NEXT),
            false,
        ));
        Migrator {
            migrations: Cow::Owned(next),
            ..Migrator::DEFAULT
        }
        .run(&pool)
        .await
        .expect("the next version migrates");
        assert!(expand_only_violations(NEXT).is_empty());
        pool.close().await;
    }
    // This version (the one before) restarts on that schema — a v1 pod rescheduled mid-canary,
    // or the rollback — and works: old orders are read, new ones placed and cancelled.
    sys.restart("order").await;
    assert_eq!(sys.get(&before.order_id).await.order_id, before.order_id);
    let after = sys.place("nina", "during-the-canary").await;
    sys.order_as("nina")
        .await
        .cancel_order(order::CancelOrderRequest {
            order_id: after.order_id.clone(),
            reason: "rollback drill".into(),
        })
        .await
        .expect("cancel");
    assert_eq!(
        sys.get(&after.order_id).await.state(),
        order::OrderState::Cancelled
    );
}

both_backends!(the_version_before_runs_on_the_next_versions_schema);
