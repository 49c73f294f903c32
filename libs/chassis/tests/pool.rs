//! The connection pool against a PostgreSQL server of its own that restarts.

use std::time::Duration;

use fd_testkit::postgres::LocalPostgres;

static NO_MIGRATIONS: sqlx::migrate::Migrator = sqlx::migrate::Migrator::DEFAULT;

async fn answer(pool: &sqlx::AnyPool) -> Result<i64, sqlx::Error> {
    sqlx::query_scalar::<_, i64>("SELECT CAST(41 + 1 AS BIGINT)")
        .fetch_one(pool)
        .await
}

/// A busy connection is not pinged before each use (that costs a round trip per statement),
/// but one that sat idle is: after the server restarted, the first statement still succeeds,
/// on a new connection, instead of failing on the dead one.
#[tokio::test]
async fn after_a_server_restart_an_idle_pool_answers_the_first_statement() {
    let dir = tempfile::tempdir().expect("tempdir");
    let mut pg = LocalPostgres::start(dir.path()).await.expect("postgres");
    let url = pg.create_database("pool").await.expect("database");
    let db = fd_chassis::db::connect(&url, &NO_MIGRATIONS)
        .await
        .expect("connect");
    // Several connections in the pool, all of them used.
    let all = futures::future::join_all((0..4).map(|_| answer(&db.pool))).await;
    assert!(all.iter().all(|a| matches!(a, Ok(42))), "{all:?}");

    pg.stop_server().await;
    pg.start_server().await.expect("restart");
    tokio::time::sleep(Duration::from_millis(1_200)).await;

    for i in 0..8 {
        let got = answer(&db.pool).await;
        assert!(
            matches!(got, Ok(42)),
            "statement {i} after the restart: {got:?}"
        );
    }
}
