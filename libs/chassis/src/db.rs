//! The database of a service: SQLite by default, PostgreSQL when `DATABASE_URL` says so.
//!
//! Both sit behind sqlx's `Any` driver so that one set of queries (portable SQL with `$1`
//! placeholders, `BIGINT` and `TEXT` columns) and one set of embedded migrations serve both.
//! SQLite files are created on first use and switched to WAL, so readers never wait on the
//! writer.

use std::path::Path;
use std::str::FromStr;
use std::time::Duration;

use sqlx::any::AnyPoolOptions;
use sqlx::migrate::Migrator;
use sqlx::sqlite::{SqliteConnectOptions, SqliteJournalMode};
use sqlx::{AnyPool, ConnectOptions, Connection};

/// Error opening or migrating a database.
#[derive(Debug, thiserror::Error)]
pub enum DbError {
    /// The URL is neither `sqlite:` nor `postgres:`.
    #[error("unsupported DATABASE_URL {0:?}: expected sqlite://PATH or postgres://USER@HOST/DB")]
    UnsupportedUrl(String),
    /// The SQLite directory could not be created.
    #[error("cannot create database directory {path}: {source}")]
    Directory {
        /// The directory.
        path: String,
        /// Why.
        source: std::io::Error,
    },
    /// Connecting failed.
    #[error("cannot open database {url}: {source}")]
    Connect {
        /// The URL, without password.
        url: String,
        /// Why.
        source: sqlx::Error,
    },
    /// A migration failed.
    #[error("migrating database {url} failed: {source}")]
    Migrate {
        /// The URL, without password.
        url: String,
        /// Why.
        source: sqlx::migrate::MigrateError,
    },
}

/// Which engine a pool talks to, for the rare query that must differ.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Backend {
    /// SQLite (embedded file).
    Sqlite,
    /// PostgreSQL.
    Postgres,
}

/// An open, migrated database, and the signal that wakes its outbox relay. Reads go to
/// [`Db::pool`]; every write is a unit of work ([`Db::begin`], [`Db::change`] in
/// [`crate::work`]).
#[derive(Debug, Clone)]
pub struct Db {
    /// The connection pool.
    pub pool: AnyPool,
    /// The engine behind it.
    pub backend: Backend,
    /// Wakes the relay after a commit that recorded events.
    pub outbox: crate::outbox::OutboxSignal,
}

fn redact(url: &str) -> String {
    // postgres://user:secret@host/db → postgres://user:***@host/db
    match (url.find("://"), url.rfind('@')) {
        (Some(s), Some(at)) if at > s => {
            let creds = &url[s + 3..at];
            match creds.find(':') {
                Some(c) => format!("{}{}:***{}", &url[..s + 3], &creds[..c], &url[at..]),
                None => url.to_string(),
            }
        }
        _ => url.to_string(),
    }
}

/// A pooled connection idle at least this long is pinged before it is used again.
const PING_IF_IDLE_FOR: Duration = Duration::from_secs(1);

/// Opens the database at `url`, creating a SQLite file if needed, and runs `migrator`.
pub async fn connect(url: &str, migrator: &Migrator) -> Result<Db, DbError> {
    sqlx::any::install_default_drivers();
    let shown = redact(url);
    let (backend, any_url, max) = if url.starts_with("sqlite:") {
        prepare_sqlite(url).await?;
        let sep = if url.contains('?') { '&' } else { '?' };
        // One writer at a time anyway (WAL); 4 connections serve concurrent reads on 2 cores
        // without a worker thread (and a page cache) per idle connection.
        (Backend::Sqlite, format!("{url}{sep}mode=rwc"), 4)
    } else if url.starts_with("postgres://") || url.starts_with("postgresql://") {
        (Backend::Postgres, url.to_string(), 16)
    } else {
        return Err(DbError::UnsupportedUrl(url.to_string()));
    };
    let sqlite = backend == Backend::Sqlite;
    let pool = AnyPoolOptions::new()
        .max_connections(max)
        // By default sqlx pings every connection it hands out: a round trip to PostgreSQL, a
        // hand-off to the connection's thread on SQLite, before each statement or
        // transaction. Under load a connection was returned moments ago (and sqlx pinged it
        // then, on release), so only one that sat idle, through a server restart say, is
        // pinged now; a dead one is replaced before anyone uses it. One that dies in use
        // fails its statement, as it would anyway, and is dropped when it comes back.
        .test_before_acquire(false)
        .before_acquire(|conn, meta| {
            Box::pin(async move {
                if meta.idle_for >= PING_IF_IDLE_FOR {
                    conn.ping().await?;
                }
                Ok(true)
            })
        })
        .after_connect(move |conn, _meta| {
            Box::pin(async move {
                if sqlite {
                    // SQLite's default page cache is 2 MiB per connection; our working set is
                    // small, and memory is what a service is judged by (`make bench`).
                    sqlx::Executor::execute(&mut *conn, "PRAGMA cache_size = -512").await?;
                }
                Ok(())
            })
        })
        .acquire_timeout(Duration::from_secs(5))
        .connect(&any_url)
        .await
        .map_err(|source| DbError::Connect {
            url: shown.clone(),
            source,
        })?;
    with_chassis_tables(migrator)
        .run(&pool)
        .await
        .map_err(|source| DbError::Migrate { url: shown, source })?;
    Ok(Db {
        pool,
        backend,
        outbox: crate::outbox::OutboxSignal::default(),
    })
}

static CHASSIS: Migrator = sqlx::migrate!("./migrations");

/// The service's migrations plus the chassis's own tables (outbox, processed events), as one
/// history: one `_sqlx_migrations` table per database.
///
/// Expand/contract: during a canary, v1 and v2 pods share a database, and v2 may have applied
/// a migration v1 does not know. v1 must still start (and a rollback must work), so migrations
/// applied by a newer version are tolerated (`ignore_missing`); a known migration whose text
/// changed is still refused. What keeps this safe is that migrations only expand
/// ([`expand_only_violations`], checked for every service by `tests/system`); contracting
/// changes wait for a release in which no pod of the version before runs.
pub fn with_chassis_tables(service: &Migrator) -> Migrator {
    let mut all: Vec<_> = service.iter().chain(CHASSIS.iter()).cloned().collect();
    all.sort_by_key(|m| m.version);
    Migrator {
        migrations: std::borrow::Cow::Owned(all),
        ignore_missing: true,
        ..Migrator::DEFAULT
    }
}

/// The marker that makes a migration a contracting one: its first line is
/// `-- contract: <why the version before no longer runs>`.
pub const CONTRACT_MARKER: &str = "-- contract:";

/// Why a migration would break the version before it while both run on one database (empty if
/// it only expands): it drops or renames something, changes a column, or adds a NOT NULL
/// column without a default (the older version's inserts would fail). A migration whose first
/// line is [`CONTRACT_MARKER`] may do all that; it ships once no older pod is left.
pub fn expand_only_violations(sql: &str) -> Vec<String> {
    if sql.trim_start().starts_with(CONTRACT_MARKER) {
        return Vec::new();
    }
    let code: String = sql
        .lines()
        .map(|l| l.split("--").next().unwrap_or(""))
        .collect::<Vec<_>>()
        .join(" ");
    let mut found = Vec::new();
    for statement in code.split(';') {
        let words: Vec<String> = statement
            .split_whitespace()
            .map(str::to_ascii_uppercase)
            .collect();
        if words.is_empty() {
            continue;
        }
        let text = words.join(" ");
        let has = |w: &str| words.iter().any(|x| x == w);
        let short: String = text.chars().take(80).collect();
        if has("DROP") {
            found.push(format!("drops something: {short}"));
        }
        if has("RENAME") {
            found.push(format!("renames something: {short}"));
        }
        if text.starts_with("ALTER TABLE") && text.contains(" ALTER COLUMN ") {
            found.push(format!("changes a column: {short}"));
        }
        if text.starts_with("ALTER TABLE")
            && text.contains(" ADD ")
            && text.contains("NOT NULL")
            && !has("DEFAULT")
        {
            found.push(format!(
                "adds a NOT NULL column without a default (older inserts fail): {short}"
            ));
        }
    }
    found
}

/// Creates the SQLite file and its directory and switches it to WAL (a persistent setting of
/// the file), once, before the pool opens its connections.
async fn prepare_sqlite(url: &str) -> Result<(), DbError> {
    let connect_err = |source| DbError::Connect {
        url: url.to_string(),
        source,
    };
    let opts = SqliteConnectOptions::from_str(url)
        .map_err(connect_err)?
        .create_if_missing(true)
        .journal_mode(SqliteJournalMode::Wal);
    if let Some(dir) = opts
        .get_filename()
        .parent()
        .filter(|d| !d.as_os_str().is_empty())
    {
        std::fs::create_dir_all(dir).map_err(|source| DbError::Directory {
            path: Path::new(dir).display().to_string(),
            source,
        })?;
    }
    let conn = opts.connect().await.map_err(connect_err)?;
    conn.close().await.map_err(connect_err)?;
    Ok(())
}

/// Begins a write transaction. On SQLite it is `BEGIN IMMEDIATE`: a deferred transaction that
/// reads and then writes fails at once with SQLITE_BUSY when another writer committed in
/// between (the busy timeout does not apply to that case); taking the write lock up front
/// makes concurrent writers wait their turn instead. On PostgreSQL it is a plain `BEGIN`.
pub async fn begin(pool: &AnyPool) -> Result<sqlx::Transaction<'static, sqlx::Any>, sqlx::Error> {
    match pool.backend() {
        Backend::Sqlite => pool.begin_with("BEGIN IMMEDIATE").await,
        Backend::Postgres => pool.begin().await,
    }
}

/// Begins a transaction planned without bitmap scans: on PostgreSQL `BEGIN; SET LOCAL
/// enable_bitmapscan = off`, sent together (one round trip); on SQLite a plain `BEGIN`. For the
/// queue-like reads that take the oldest few rows from a partial index whose rows leave it soon
/// after they enter (the outbox's unsent rows, notification's pending ones): the planner takes a
/// bitmap scan and a sort whenever it expects fewer rows than the LIMIT (a new table, a quiet
/// one), and a bitmap scan visits the index entry of every row that left since the last vacuum
/// without ever marking it dead. An index scan marks the dead entries it passes, so the next read
/// skips them. Under load that was 1.3 ms per outbox read against 0.04 (issue 19,
/// docs/performance.md).
pub async fn begin_queue_read(
    pool: &AnyPool,
) -> Result<sqlx::Transaction<'static, sqlx::Any>, sqlx::Error> {
    match pool.backend() {
        Backend::Postgres => {
            pool.begin_with("BEGIN; SET LOCAL enable_bitmapscan = off")
                .await
        }
        Backend::Sqlite => pool.begin().await,
    }
}

/// Anything queries can run on: the pool, or a connection inside a transaction. It knows its
/// engine, for [`sql_for`].
pub trait Exec<'e>: sqlx::Executor<'e, Database = sqlx::Any> + Engine {}
impl<'e, T: sqlx::Executor<'e, Database = sqlx::Any> + Engine> Exec<'e> for T {}

/// Which engine a pool or connection talks to.
pub trait Engine {
    /// SQLite or PostgreSQL.
    fn backend(&self) -> Backend;
}

impl Engine for sqlx::AnyConnection {
    fn backend(&self) -> Backend {
        if self.backend_name() == "PostgreSQL" {
            Backend::Postgres
        } else {
            Backend::Sqlite
        }
    }
}

impl Engine for AnyPool {
    fn backend(&self) -> Backend {
        if self.connect_options().database_url.scheme() == "sqlite" {
            Backend::Sqlite
        } else {
            Backend::Postgres
        }
    }
}

impl<T: Engine + ?Sized> Engine for &T {
    fn backend(&self) -> Backend {
        (**self).backend()
    }
}

impl<T: Engine + ?Sized> Engine for &mut T {
    fn backend(&self) -> Backend {
        (**self).backend()
    }
}

/// `sql` as `backend` should get it. PostgreSQL gets it as it is. On SQLite, its `$1, $2, …`
/// become plain `?` when they appear in that order, each once (the placeholders of
/// [`values`] and of every statement that numbers its parameters as it goes do); a statement
/// that uses one twice or out of order keeps its `$N`. SQLite keeps a statement's named
/// parameters in a list it searches from the start, for each one while it parses the statement
/// and again (through sqlx) for each value bound: for a multi-row statement of 1,000 parameters
/// that is about a million steps per execution. Plain `?` are numbered as they come, with no
/// list (issue 19: `sqlite3_bind_parameter_name` and `strncmp` were 9 % of order's CPU).
pub fn sql_for(backend: Backend, sql: String) -> String {
    if backend == Backend::Postgres {
        return sql;
    }
    let b = sql.as_bytes();
    let mut out = String::with_capacity(sql.len());
    let (mut next, mut copied, mut i, mut quoted) = (1_usize, 0, 0, false);
    while i < b.len() {
        match b[i] {
            b'\'' => quoted = !quoted,
            b'$' if !quoted => {
                let digits = b[i + 1..].iter().take_while(|c| c.is_ascii_digit()).count();
                if digits > 0 {
                    if sql[i + 1..i + 1 + digits].parse::<usize>().ok() != Some(next) {
                        return sql;
                    }
                    out.push_str(&sql[copied..i]);
                    out.push('?');
                    next += 1;
                    i += 1 + digits;
                    copied = i;
                    continue;
                }
            }
            _ => {}
        }
        i += 1;
    }
    out.push_str(&sql[copied..]);
    out
}

/// The `VALUES` of a multi-row statement: `rows` tuples of `cols` numbered placeholders,
/// starting after `first - 1` (`values(2, 3, 1)` = `($1, $2, $3), ($4, $5, $6)`). Also the
/// list of an `IN (...)` with `cols` = 1, without the parentheses around each.
pub fn values(rows: usize, cols: usize, first: usize) -> String {
    let mut out = String::with_capacity(rows * cols * 5);
    for r in 0..rows {
        if r > 0 {
            out.push_str(", ");
        }
        if cols > 1 {
            out.push('(');
        }
        for c in 0..cols {
            if c > 0 {
                out.push_str(", ");
            }
            out.push('$');
            out.push_str(&(first + r * cols + c).to_string());
        }
        if cols > 1 {
            out.push(')');
        }
    }
    out
}

/// True if `e` is a unique-constraint violation (a concurrent insert of the same key won).
pub fn is_unique_violation(e: &sqlx::Error) -> bool {
    matches!(e, sqlx::Error::Database(d) if d.is_unique_violation())
}

#[cfg(test)]
mod migration_rules {
    use super::*;

    #[test]
    fn multi_row_placeholders_are_numbered_row_by_row() {
        assert_eq!(values(2, 3, 1), "($1, $2, $3), ($4, $5, $6)");
        assert_eq!(values(3, 1, 2), "$2, $3, $4");
        assert_eq!(values(1, 2, 5), "($5, $6)");
    }

    #[test]
    fn sqlite_gets_plain_placeholders_when_they_come_in_order() {
        let sql = format!("UPDATE t SET a = $1 WHERE id IN ({})", values(3, 1, 2));
        assert_eq!(
            sql_for(Backend::Sqlite, sql.clone()),
            "UPDATE t SET a = ? WHERE id IN (?, ?, ?)"
        );
        assert_eq!(sql_for(Backend::Postgres, sql.clone()), sql);
        for kept in [
            "SELECT $1 WHERE a = $1",           // used twice
            "SELECT $2, $1",                    // out of order
            "SELECT $1, $3",                    // one missing
            "UPDATE t SET a = $2 WHERE b = $1", // out of order
        ] {
            assert_eq!(sql_for(Backend::Sqlite, kept.into()), kept);
        }
        assert_eq!(
            sql_for(Backend::Sqlite, "SELECT '$1', $1, x$y, $10".into()),
            "SELECT '$1', $1, x$y, $10",
            "out of order once the literal is skipped: $1 then $10"
        );
        assert_eq!(
            sql_for(Backend::Sqlite, "SELECT '$9', $1, $2".into()),
            "SELECT '$9', ?, ?"
        );
    }

    #[test]
    fn only_expanding_migrations_pass_unless_marked_as_contracting() {
        assert!(expand_only_violations(
            "-- a comment that says DROP\nCREATE TABLE t (a TEXT NOT NULL);\n\
             ALTER TABLE t ADD COLUMN b TEXT NOT NULL DEFAULT '';\n\
             ALTER TABLE t ADD COLUMN c TEXT;\nCREATE INDEX t_c ON t (c);"
        )
        .is_empty());
        for bad in [
            "DROP TABLE t;",
            "ALTER TABLE t DROP COLUMN a;",
            "ALTER TABLE t RENAME COLUMN a TO b;",
            "ALTER TABLE t RENAME TO u;",
            "ALTER TABLE t ALTER COLUMN a TYPE BIGINT;",
            "ALTER TABLE t ADD COLUMN d TEXT NOT NULL;",
            "DROP INDEX t_c;",
        ] {
            assert_eq!(expand_only_violations(bad).len(), 1, "{bad}");
        }
        assert!(expand_only_violations("-- contract: v1 retired in 0.3\nDROP TABLE t;").is_empty());
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    static EMPTY: Migrator = Migrator::DEFAULT;

    #[test]
    fn passwords_are_redacted() {
        assert_eq!(
            redact("postgres://app:hunter2@db:5432/order"),
            "postgres://app:***@db:5432/order"
        );
        assert_eq!(redact("sqlite://data/order.db"), "sqlite://data/order.db");
    }

    #[tokio::test]
    async fn sqlite_file_is_created_in_wal_mode() {
        let dir = tempfile::tempdir().expect("tempdir");
        let path = dir.path().join("nested/dir/svc.db");
        let db = connect(&format!("sqlite://{}", path.display()), &EMPTY)
            .await
            .expect("connect");
        assert_eq!(db.backend, Backend::Sqlite);
        assert!(path.exists());
        let mode: String = sqlx::query_scalar("PRAGMA journal_mode")
            .fetch_one(&db.pool)
            .await
            .expect("pragma");
        assert_eq!(mode, "wal");
    }

    #[tokio::test]
    async fn unsupported_scheme_is_a_clear_error() {
        let err = connect("mysql://x/y", &EMPTY).await.expect_err("mysql");
        assert!(err.to_string().contains("unsupported DATABASE_URL"));
    }
}
