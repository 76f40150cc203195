//! The SQL store: one implementation over sqlx's `Any` driver, for SQLite (one file per node,
//! WAL) and PostgreSQL. Both run the same statements (`$1…` placeholders); only the migrations
//! and a few settings differ. Values cross as integers, text and bytes: JSON as text, times as
//! milliseconds, hashes as 32 bytes.

use std::future::Future;
use std::str::FromStr;
use std::sync::Arc;
use std::time::Duration;

use sqlx::any::{AnyConnectOptions, AnyPoolOptions, AnyRow};
use sqlx::{AnyPool, Row};

use crate::{
    Append, Chains, Conflict, Delivered, Delivery, Enrolment, EventRow, Hash, Head, Identities,
    MAX_PAGE, Op, Outbox, ProcessRow, Processes, RowState, Scenarios, SeenSignatures, StoreError,
    WorkKind, WorkQueue, WorkRow,
};

/// Which database a [`SqlStore`] talks to.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Backend {
    /// SQLite, embedded.
    Sqlite,
    /// PostgreSQL.
    Postgres,
}

/// The migrations, in order, for each backend: (version, SQL).
const SQLITE_MIGRATIONS: &[(i64, &str)] = &[
    (1, include_str!("../migrations/sqlite/0001_initial.sql")),
    (2, include_str!("../migrations/sqlite/0002_outbox.sql")),
    (
        3,
        include_str!("../migrations/sqlite/0003_addresses_and_guards.sql"),
    ),
    (4, include_str!("../migrations/sqlite/0004_enrolled.sql")),
];
const POSTGRES_MIGRATIONS: &[(i64, &str)] = &[
    (1, include_str!("../migrations/postgres/0001_initial.sql")),
    (2, include_str!("../migrations/postgres/0002_outbox.sql")),
    (
        3,
        include_str!("../migrations/postgres/0003_addresses_and_guards.sql"),
    ),
    (4, include_str!("../migrations/postgres/0004_enrolled.sql")),
];

/// How SQLite commits reach the disk.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum Durability {
    /// `synchronous=NORMAL` in WAL mode: a committed transaction survives the process being
    /// killed; the last ones before a power cut may be lost. The default.
    #[default]
    Process,
    /// `synchronous=FULL`: every commit is synced to disk before it returns.
    Power,
}

/// A store in SQLite or PostgreSQL.
#[derive(Clone, Debug)]
pub struct SqlStore {
    pool: AnyPool,
    /// Where every write goes: for SQLite, a pool of one connection kept for it.
    writer: AnyPool,
    /// SQLite: the task that copies the WAL back into the database file.
    checkpointer: Option<Arc<Checkpointer>>,
    backend: Backend,
}

/// SQLite: the checkpoint task's connection; the task stops when the last clone of the store
/// is dropped (its `stop` sender with it) or the store is closed.
#[derive(Debug)]
struct Checkpointer {
    connection: AnyPool,
    _stop: tokio::sync::oneshot::Sender<()>,
}

/// SQLite: how often the WAL is copied back into the database file.
const CHECKPOINT_EVERY: Duration = Duration::from_millis(100);

/// SQLite: WAL frames (pages) beyond which a checkpoint also makes the next commit write the
/// WAL from its start (64 MiB at 4 KiB pages). Passive checkpoints never hold a commit back,
/// but under steady writes the WAL only grows with them alone: a commit restarts the WAL only
/// when it begins with every frame copied. Each restart held commits back for 7–17 ms under
/// `accord bench node`; a bound four times larger, which a 10,000-action run barely reaches,
/// was up to 15% faster there, at the cost of a WAL file of 256 MiB.
const WAL_RESTART_FRAMES: i64 = 16_384;

/// SQLite checkpoints, off the commit path. A commit appends its pages to the WAL; this task
/// copies them into the database file (and syncs it) every [`CHECKPOINT_EVERY`] without
/// blocking commits (`PASSIVE`), and restarts the WAL once it holds more than
/// [`WAL_RESTART_FRAMES`] frames. With SQLite's default instead (the commit that takes the WAL past
/// 1,000 pages runs the checkpoint itself), the single writer spent much of its time in
/// checkpoints: 20–30% fewer actions a second under `accord bench node` (BENCHMARKS.md).
async fn checkpoints(connection: AnyPool, mut stop: tokio::sync::oneshot::Receiver<()>) {
    let mut tick = tokio::time::interval(CHECKPOINT_EVERY);
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    // Warn when checkpoints start failing and when they recover, not on every attempt.
    let mut failing = false;
    loop {
        tokio::select! {
            _ = &mut stop => return,
            _ = tick.tick() => {}
        }
        let mut result = checkpoint(&connection, "PASSIVE").await;
        if matches!(result, Ok(frames) if frames > WAL_RESTART_FRAMES) {
            result = restart(&connection).await;
        }
        match result {
            Ok(_) if failing => {
                failing = false;
                tracing::info!("SQLite checkpoints work again");
            }
            Ok(_) => {}
            Err(sqlx::Error::PoolClosed) => return,
            Err(err) if !failing => {
                failing = true;
                tracing::warn!(error = %err, "SQLite checkpoint failed; the WAL grows until one succeeds");
            }
            Err(_) => {}
        }
    }
}

/// Runs one checkpoint; the WAL's length in frames.
async fn checkpoint(connection: &AnyPool, mode: &str) -> Result<i64, sqlx::Error> {
    let row = sqlx::query(sqlx::AssertSqlSafe(format!(
        "PRAGMA wal_checkpoint({mode})"
    )))
    .fetch_one(connection)
    .await?;
    // (busy, frames in the WAL, frames copied); -1 when not in WAL mode.
    row.try_get::<i64, _>(1)
}

/// A checkpoint that makes the next commit write the WAL from its start. It holds commits
/// back while it copies what the last passive one left and waits for readers on the WAL, for
/// at most a second (then it gives up, to try again at the next tick).
async fn restart(connection: &AnyPool) -> Result<i64, sqlx::Error> {
    let mut conn = connection.acquire().await?;
    sqlx::raw_sql("PRAGMA busy_timeout = 1000")
        .execute(&mut *conn)
        .await?;
    let row = sqlx::query("PRAGMA wal_checkpoint(RESTART)")
        .fetch_one(&mut *conn)
        .await?;
    row.try_get::<i64, _>(1)
}

/// What went wrong inside an operation, before [`during`] says which operation it was.
enum Fault {
    Database(sqlx::Error),
    Corrupt {
        column: &'static str,
        value: String,
        expected: &'static str,
    },
    Conflict(Conflict),
}

impl From<sqlx::Error> for Fault {
    fn from(err: sqlx::Error) -> Fault {
        Fault::Database(err)
    }
}

impl From<Conflict> for Fault {
    fn from(conflict: Conflict) -> Fault {
        Fault::Conflict(conflict)
    }
}

impl Fault {
    fn during(self, op: Op) -> StoreError {
        let op = Box::new(op);
        match self {
            Fault::Database(err) => StoreError::Database {
                op,
                source: Box::new(err),
            },
            Fault::Corrupt {
                column,
                value,
                expected,
            } => StoreError::Corrupt {
                op,
                column,
                value,
                expected,
            },
            Fault::Conflict(conflict) => StoreError::Conflict { op, conflict },
        }
    }
}

/// Runs one operation's statements; a failure says it was `op` (made only then).
async fn during<T>(
    op: impl FnOnce() -> Op,
    work: impl Future<Output = Result<T, Fault>>,
) -> Result<T, StoreError> {
    work.await.map_err(|fault| fault.during(op()))
}

/// Integers are stored as i64: values from the chain (timestamps, lengths) stay below 2^63.
fn int(v: u64) -> i64 {
    i64::try_from(v).unwrap_or(i64::MAX)
}

/// The column's name in the row, for a `table.column`.
fn name(column: &'static str) -> &'static str {
    column.rsplit('.').next().unwrap_or(column)
}

fn uint(row: &AnyRow, column: &'static str) -> Result<u64, Fault> {
    let v: i64 = row.try_get(name(column))?;
    u64::try_from(v).map_err(|_| Fault::Corrupt {
        column,
        value: v.to_string(),
        expected: "a count (0 or more)",
    })
}

fn to_hash(column: &'static str, v: Vec<u8>) -> Result<Hash, Fault> {
    Hash::try_from(v.as_slice()).map_err(|_| Fault::Corrupt {
        column,
        value: format!("{} bytes", v.len()),
        expected: "32 bytes",
    })
}

fn hash(row: &AnyRow, column: &'static str) -> Result<Hash, Fault> {
    to_hash(column, row.try_get(name(column))?)
}

fn opt_hash(row: &AnyRow, column: &'static str) -> Result<Option<Hash>, Fault> {
    let v: Option<Vec<u8>> = row.try_get(name(column))?;
    v.map(|v| to_hash(column, v)).transpose()
}

/// A name stored as text ([`WorkKind`], [`RowState`]); one this build does not know is corrupt.
fn named<T: FromStr>(
    row: &AnyRow,
    column: &'static str,
    expected: &'static str,
) -> Result<T, Fault> {
    let v: String = row.try_get(name(column))?;
    v.parse().map_err(|_| Fault::Corrupt {
        column,
        value: format!("{v:?}"),
        expected,
    })
}

const WORK_KINDS: &str = "a work kind (nop, http, event, broken, timer)";
const ROW_STATES: &str = "a row state (pending, done, dead)";

fn head_of(row: &AnyRow) -> Result<Head, Fault> {
    let start = match (
        opt_hash(row, "chains.start_hash")?,
        opt_hash(row, "chains.start_state")?,
    ) {
        (Some(h), Some(s)) => Some((h, s)),
        (None, None) => None,
        (hash, _) => {
            return Err(Fault::Corrupt {
                column: "chains.start_state",
                value: if hash.is_some() { "NULL" } else { "set" }.into(),
                expected: "set exactly when chains.start_hash is",
            });
        }
    };
    Ok(Head {
        chain: row.try_get("id")?,
        length: uint(row, "chains.length")?,
        tip: hash(row, "chains.tip")?,
        state: hash(row, "chains.state")?,
        start,
        timestamp: uint(row, "chains.tip_timestamp")?,
    })
}

fn event_of(row: &AnyRow) -> Result<EventRow, Fault> {
    Ok(EventRow {
        seq: uint(row, "events.seq")?,
        hash: hash(row, "events.hash")?,
        state: hash(row, "events.state")?,
        timestamp: uint(row, "events.timestamp")?,
        signer: row.try_get("signer")?,
        json: row.try_get("json")?,
    })
}

fn process_of(row: &AnyRow) -> Result<ProcessRow, Fault> {
    Ok(ProcessRow {
        id: row.try_get("id")?,
        chain: row.try_get("chain_id")?,
        json: row.try_get("json")?,
    })
}

fn work_of(row: &AnyRow) -> Result<WorkRow, Fault> {
    Ok(WorkRow {
        id: row.try_get("id")?,
        kind: named(row, "work.kind", WORK_KINDS)?,
        chain: row.try_get("chain_id")?,
        payload: row.try_get("payload")?,
        state: named(row, "work.state", ROW_STATES)?,
        due_at: uint(row, "work.due_at")?,
        attempts: u32::try_from(uint(row, "work.attempts")?).unwrap_or(u32::MAX),
    })
}

fn delivery_of(row: &AnyRow) -> Result<Delivery, Fault> {
    Ok(Delivery {
        id: row.try_get("id")?,
        peer: row.try_get("peer")?,
        chain: row.try_get("chain_id")?,
        wanted: uint(row, "outbox.wanted")?,
        sent: uint(row, "outbox.sent")?,
        state: named(row, "outbox.state", ROW_STATES)?,
        attempts: u32::try_from(uint(row, "outbox.attempts")?).unwrap_or(u32::MAX),
        due_at: uint(row, "outbox.due_at")?,
        error: row.try_get("error")?,
    })
}

const DELIVERY_COLUMNS: &str = "id, peer, chain_id, wanted, sent, state, attempts, due_at, error";

fn page(limit: u32) -> i64 {
    i64::from(limit.clamp(1, MAX_PAGE))
}

/// Whether an error is a unique-key violation (another writer got there first).
fn is_unique_violation(err: &sqlx::Error) -> bool {
    match err {
        sqlx::Error::Database(e) => e.is_unique_violation(),
        _ => false,
    }
}

impl SqlStore {
    /// Opens (creating if needed) the database at `url` and brings its schema up to date.
    ///
    /// `sqlite:PATH` (or `sqlite://PATH`) for a file, created when missing; `postgres://…` or
    /// `postgresql://…` for a server.
    pub async fn open(url: &str, durability: Durability) -> Result<SqlStore, StoreError> {
        Self::open_upto(url, durability, i64::MAX).await
    }

    /// As [`SqlStore::open`], bringing the schema only up to `version`: for tests of the
    /// migrations, which fill an older schema and then open it with this build.
    #[doc(hidden)]
    pub async fn open_upto(
        url: &str,
        durability: Durability,
        version: i64,
    ) -> Result<SqlStore, StoreError> {
        sqlx::any::install_default_drivers();
        let backend = if url.starts_with("sqlite:") {
            Backend::Sqlite
        } else if url.starts_with("postgres:") || url.starts_with("postgresql:") {
            Backend::Postgres
        } else {
            return Err(StoreError::UnknownUrl { url: url.into() });
        };
        let url = match backend {
            Backend::Sqlite if !url.contains('?') => format!("{url}?mode=rwc"),
            _ => url.to_string(),
        };
        let opening = |err: sqlx::Error| Fault::from(err).during(Op::Open);
        let options = AnyConnectOptions::from_str(&url).map_err(opening)?;
        let synchronous = match durability {
            Durability::Process => "NORMAL",
            Durability::Power => "FULL",
        };
        // SQLite's page cache: 8 MiB a connection. Every commit walks the cache's whole hash
        // table (pcache1TruncateUnsafe), so a bigger cache made each commit dearer: at 64 MiB
        // that walk was 3% of the node's CPU under `accord bench node`, and 8 MiB gave 10–17%
        // more actions a second in runs side by side (BENCHMARKS.md).
        let pool_of = |connections: u32| {
            AnyPoolOptions::new()
                .max_connections(connections)
                .acquire_timeout(Duration::from_secs(30))
                .after_connect(move |conn, _meta| {
                    Box::pin(async move {
                        if backend == Backend::Sqlite {
                            for pragma in [
                                "PRAGMA journal_mode = WAL".to_string(),
                                format!("PRAGMA synchronous = {synchronous}"),
                                "PRAGMA busy_timeout = 10000".to_string(),
                                "PRAGMA cache_size = -8192".to_string(),
                                // Checkpoints run on a connection of their own
                                // (`checkpoints`), never inside a commit.
                                "PRAGMA wal_autocheckpoint = 0".to_string(),
                            ] {
                                sqlx::raw_sql(sqlx::AssertSqlSafe(pragma))
                                    .execute(&mut *conn)
                                    .await?;
                            }
                        }
                        Ok(())
                    })
                })
        };
        let pool = pool_of(match backend {
            Backend::Sqlite => 4,
            Backend::Postgres => 16,
        })
        .connect_with(options.clone())
        .await
        .map_err(opening)?;
        // SQLite: writes (the pipeline's commits, and the queues' claims and outcomes) go
        // through one connection of their own. A connection drops its page cache whenever
        // another one has written to the file, so with commits spread over the pool every
        // commit read its pages back from the file; and writers on one connection wait their
        // turn in line instead of in SQLite's busy handler.
        let writer = match backend {
            Backend::Sqlite => pool_of(1)
                .connect_with(options.clone())
                .await
                .map_err(opening)?,
            Backend::Postgres => pool.clone(),
        };
        let checkpointer = match backend {
            Backend::Sqlite => {
                let connection = pool_of(1).connect_with(options).await.map_err(opening)?;
                let (stop, stopped) = tokio::sync::oneshot::channel();
                tokio::spawn(checkpoints(connection.clone(), stopped));
                Some(Arc::new(Checkpointer {
                    connection,
                    _stop: stop,
                }))
            }
            Backend::Postgres => None,
        };
        let store = SqlStore {
            pool,
            writer,
            checkpointer,
            backend,
        };
        store.migrate(version).await?;
        Ok(store)
    }

    /// Which database this is.
    pub fn backend(&self) -> Backend {
        self.backend
    }

    /// Runs one statement as it is, outside the store's own tables: for administration such
    /// as creating a database on a PostgreSQL server.
    pub async fn execute(&self, sql: &str) -> Result<(), StoreError> {
        during(|| Op::Execute, async {
            sqlx::raw_sql(sqlx::AssertSqlSafe(sql.to_string()))
                .execute(&self.pool)
                .await?;
            Ok(())
        })
        .await
    }

    /// Closes every connection.
    pub async fn close(&self) {
        if let Some(c) = &self.checkpointer {
            c.connection.close().await;
        }
        self.writer.close().await;
        self.pool.close().await;
    }

    /// Brings the schema up to date in one transaction. On PostgreSQL an advisory lock makes
    /// nodes that start at once against one database take turns; SQLite's write lock does the
    /// same for processes sharing a file.
    async fn migrate(&self, upto: i64) -> Result<(), StoreError> {
        let migrations = match self.backend {
            Backend::Sqlite => SQLITE_MIGRATIONS,
            Backend::Postgres => POSTGRES_MIGRATIONS,
        };
        let fail = |e: sqlx::Error| Fault::from(e).during(Op::Migrate);
        let mut tx = self.pool.begin().await.map_err(fail)?;
        if self.backend == Backend::Postgres {
            // "accord" in ASCII: one lock id for every Accord node on the server.
            sqlx::query("SELECT pg_advisory_xact_lock(97990111114100)")
                .execute(&mut *tx)
                .await
                .map_err(fail)?;
        }
        sqlx::raw_sql(
            "CREATE TABLE IF NOT EXISTS accord_schema (version BIGINT PRIMARY KEY, applied_at BIGINT NOT NULL)",
        )
        .execute(&mut *tx)
        .await
        .map_err(fail)?;
        let current: Option<i64> = sqlx::query_scalar("SELECT MAX(version) FROM accord_schema")
            .fetch_one(&mut *tx)
            .await
            .map_err(fail)?;
        let current = current.unwrap_or(0);
        let known = migrations.last().map_or(0, |m| m.0);
        if current > known {
            return Err(StoreError::NewerSchema {
                found: current,
                known,
            });
        }
        for &(version, sql) in migrations.iter().filter(|m| m.0 > current && m.0 <= upto) {
            let fail = |e: sqlx::Error| Fault::from(e).during(Op::Migration { version });
            sqlx::raw_sql(sqlx::AssertSqlSafe(sql))
                .execute(&mut *tx)
                .await
                .map_err(fail)?;
            sqlx::query("INSERT INTO accord_schema (version, applied_at) VALUES ($1, $2)")
                .bind(version)
                .bind(0_i64)
                .execute(&mut *tx)
                .await
                .map_err(fail)?;
        }
        tx.commit().await.map_err(fail)
    }

    /// The commit's statements, in one transaction. A unique key a chain or an event runs
    /// into, or a head that moved, is a [`Conflict`] (and the transaction is dropped: nothing
    /// is written).
    async fn write(&self, appends: &[Append], now: u64) -> Result<(), Fault> {
        let now = int(now);
        let mut tx = self.writer.begin().await?;
        for a in appends {
            let h = &a.head;
            let (start_hash, start_state) = match h.start {
                Some((hash, state)) => (Some(hash.to_vec()), Some(state.to_vec())),
                None => (None, None),
            };
            if a.expected == 0 {
                sqlx::query(
                    "INSERT INTO chains (id, length, tip, state, start_hash, start_state, updated_at, tip_timestamp) VALUES ($1, $2, $3, $4, $5, $6, $7, $8)",
                )
                .bind(&h.chain)
                .bind(int(h.length))
                .bind(h.tip.to_vec())
                .bind(h.state.to_vec())
                .bind(start_hash)
                .bind(start_state)
                .bind(now)
                .bind(int(h.timestamp))
                .execute(&mut *tx)
                .await
                .map_err(|err| {
                    if is_unique_violation(&err) {
                        Fault::Conflict(Conflict::ChainExists {
                            chain: h.chain.clone(),
                        })
                    } else {
                        Fault::Database(err)
                    }
                })?;
            } else {
                let done = sqlx::query(
                    "UPDATE chains SET length = $1, tip = $2, state = $3, updated_at = $4, tip_timestamp = $7 WHERE id = $5 AND length = $6",
                )
                .bind(int(h.length))
                .bind(h.tip.to_vec())
                .bind(h.state.to_vec())
                .bind(now)
                .bind(&h.chain)
                .bind(int(a.expected))
                .bind(int(h.timestamp))
                .execute(&mut *tx)
                .await?;
                if done.rows_affected() != 1 {
                    return Err(Fault::Conflict(Conflict::Moved {
                        chain: h.chain.clone(),
                        expected: a.expected,
                    }));
                }
            }
            for e in &a.events {
                sqlx::query(
                    "INSERT INTO events (chain_id, seq, hash, state, timestamp, signer, json) VALUES ($1, $2, $3, $4, $5, $6, $7)",
                )
                .bind(&h.chain)
                .bind(int(e.seq))
                .bind(e.hash.to_vec())
                .bind(e.state.to_vec())
                .bind(int(e.timestamp))
                .bind(&e.signer)
                .bind(&e.json)
                .execute(&mut *tx)
                .await
                .map_err(|err| {
                    if is_unique_violation(&err) {
                        Fault::Conflict(Conflict::EventExists {
                            chain: h.chain.clone(),
                            seq: e.seq,
                        })
                    } else {
                        Fault::Database(err)
                    }
                })?;
            }
            for key in &a.parties {
                sqlx::query(
                    "INSERT INTO parties (chain_id, key) VALUES ($1, $2) ON CONFLICT DO NOTHING",
                )
                .bind(&h.chain)
                .bind(key)
                .execute(&mut *tx)
                .await?;
            }
            for p in &a.processes {
                sqlx::query(
                    "INSERT INTO processes (id, chain_id, json) VALUES ($1, $2, $3) ON CONFLICT (chain_id, id) DO UPDATE SET json = excluded.json",
                )
                .bind(&p.id)
                .bind(&p.chain)
                .bind(&p.json)
                .execute(&mut *tx)
                .await?;
            }
            // One statement for all of a chain's peers: each is a round trip to the database.
            if !a.deliveries.is_empty() {
                let rows: Vec<String> = (0..a.deliveries.len())
                    .map(|n| format!("(${}, $1, $2, 0, 'pending', 0, $3, NULL, $3)", n + 4))
                    .collect();
                let sql = format!(
                    "INSERT INTO outbox (peer, chain_id, wanted, sent, state, attempts, due_at, error, updated_at) VALUES {} \
                     ON CONFLICT (peer, chain_id) DO UPDATE SET \
                     wanted = CASE WHEN excluded.wanted > outbox.wanted THEN excluded.wanted ELSE outbox.wanted END, \
                     state = CASE WHEN outbox.state = 'dead' THEN 'dead' ELSE 'pending' END, \
                     due_at = CASE WHEN outbox.state = 'done' THEN excluded.due_at ELSE outbox.due_at END, \
                     updated_at = excluded.updated_at",
                    rows.join(", ")
                );
                let mut query = sqlx::query(sqlx::AssertSqlSafe(sql))
                    .bind(&h.chain)
                    .bind(int(h.length))
                    .bind(now);
                for peer in &a.deliveries {
                    query = query.bind(peer);
                }
                query.execute(&mut *tx).await?;
            }
            if !a.confirmed.is_empty() {
                let rows: Vec<String> = (0..a.confirmed.len())
                    .map(|n| {
                        let (peer, length) = (2 * n + 3, 2 * n + 4);
                        format!("(${peer}, $1, ${length}, ${length}, 'done', 0, $2, NULL, $2)")
                    })
                    .collect();
                let sql = format!(
                    "INSERT INTO outbox (peer, chain_id, wanted, sent, state, attempts, due_at, error, updated_at) VALUES {} \
                     ON CONFLICT (peer, chain_id) DO UPDATE SET \
                     sent = CASE WHEN excluded.sent > outbox.sent THEN excluded.sent ELSE outbox.sent END, \
                     wanted = CASE WHEN excluded.wanted > outbox.wanted THEN excluded.wanted ELSE outbox.wanted END, \
                     state = CASE WHEN outbox.state = 'pending' AND excluded.sent >= outbox.wanted THEN 'done' ELSE outbox.state END, \
                     updated_at = excluded.updated_at",
                    rows.join(", ")
                );
                let mut query = sqlx::query(sqlx::AssertSqlSafe(sql))
                    .bind(&h.chain)
                    .bind(now);
                for (peer, length) in &a.confirmed {
                    query = query.bind(peer).bind(int(*length));
                }
                query.execute(&mut *tx).await?;
            }
            for w in &a.work {
                sqlx::query(
                    "INSERT INTO work (kind, chain_id, payload, state, due_at, attempts, created_at) VALUES ($1, $2, $3, 'pending', $4, 0, $5)",
                )
                .bind(w.kind.as_str())
                .bind(&w.chain)
                .bind(&w.payload)
                .bind(int(w.due_at))
                .bind(now)
                .execute(&mut *tx)
                .await?;
            }
        }
        Ok(tx.commit().await?)
    }
}

impl Chains for SqlStore {
    async fn head(&self, chain: &str) -> Result<Option<Head>, StoreError> {
        let op = || Op::Head {
            chain: chain.into(),
        };
        during(op, async {
            let row = sqlx::query(
                "SELECT id, length, tip, state, start_hash, start_state, tip_timestamp FROM chains WHERE id = $1",
            )
            .bind(chain)
            .fetch_optional(&self.pool)
            .await?;
            row.as_ref().map(head_of).transpose()
        })
        .await
    }

    async fn events(
        &self,
        chain: &str,
        from: u64,
        limit: u32,
    ) -> Result<Vec<EventRow>, StoreError> {
        let op = || Op::Events {
            chain: chain.into(),
            from,
        };
        during(op, async {
            let rows = sqlx::query(
                "SELECT seq, hash, state, timestamp, signer, json FROM events WHERE chain_id = $1 AND seq >= $2 ORDER BY seq LIMIT $3",
            )
            .bind(chain)
            .bind(int(from))
            .bind(page(limit))
            .fetch_all(&self.pool)
            .await?;
            rows.iter().map(event_of).collect()
        })
        .await
    }

    async fn find_event(&self, chain: &str, hash: &Hash) -> Result<Option<u64>, StoreError> {
        let op = || Op::FindEvent {
            chain: chain.into(),
        };
        during(op, async {
            let row = sqlx::query("SELECT seq FROM events WHERE chain_id = $1 AND hash = $2")
                .bind(chain)
                .bind(hash.to_vec())
                .fetch_optional(&self.pool)
                .await?;
            row.as_ref().map(|r| uint(r, "events.seq")).transpose()
        })
        .await
    }

    async fn commit(&self, appends: &[Append], now: u64) -> Result<(), StoreError> {
        during(|| Op::commit(appends), async {
            for a in appends {
                a.check()?;
            }
            self.write(appends, now).await
        })
        .await
    }

    async fn is_party(&self, chain: &str, key: &str) -> Result<bool, StoreError> {
        let op = || Op::IsParty {
            chain: chain.into(),
            key: key.into(),
        };
        during(op, async {
            let row = sqlx::query("SELECT 1 AS one FROM parties WHERE chain_id = $1 AND key = $2")
                .bind(chain)
                .bind(key)
                .fetch_optional(&self.pool)
                .await?;
            Ok(row.is_some())
        })
        .await
    }

    async fn chains_of(
        &self,
        key: &str,
        after: Option<&str>,
        limit: u32,
    ) -> Result<Vec<Head>, StoreError> {
        during(|| Op::ChainsOf { key: key.into() }, async {
            let rows = sqlx::query(
                "SELECT c.id, c.length, c.tip, c.state, c.start_hash, c.start_state, c.tip_timestamp FROM parties p JOIN chains c ON c.id = p.chain_id WHERE p.key = $1 AND p.chain_id > $2 ORDER BY p.chain_id LIMIT $3",
            )
            .bind(key)
            .bind(after.unwrap_or(""))
            .bind(page(limit))
            .fetch_all(&self.pool)
            .await?;
            rows.iter().map(head_of).collect()
        })
        .await
    }
}

impl Processes for SqlStore {
    async fn process(&self, chain: &str, id: &str) -> Result<Option<ProcessRow>, StoreError> {
        let op = || Op::Process {
            chain: chain.into(),
            id: id.into(),
        };
        during(op, async {
            let row = sqlx::query(
                "SELECT id, chain_id, json FROM processes WHERE chain_id = $1 AND id = $2",
            )
            .bind(chain)
            .bind(id)
            .fetch_optional(&self.pool)
            .await?;
            row.as_ref().map(process_of).transpose()
        })
        .await
    }

    async fn process_chains(&self, id: &str) -> Result<Vec<String>, StoreError> {
        during(|| Op::ProcessChains { id: id.into() }, async {
            Ok(
                sqlx::query_scalar(
                    "SELECT chain_id FROM processes WHERE id = $1 ORDER BY chain_id",
                )
                .bind(id)
                .fetch_all(&self.pool)
                .await?,
            )
        })
        .await
    }

    async fn processes_on(&self, chain: &str) -> Result<Vec<ProcessRow>, StoreError> {
        let op = || Op::ProcessesOn {
            chain: chain.into(),
        };
        during(op, async {
            let rows = sqlx::query(
                "SELECT id, chain_id, json FROM processes WHERE chain_id = $1 ORDER BY id",
            )
            .bind(chain)
            .fetch_all(&self.pool)
            .await?;
            rows.iter().map(process_of).collect()
        })
        .await
    }

    async fn processes_of(
        &self,
        key: &str,
        after: Option<(&str, &str)>,
        limit: u32,
    ) -> Result<Vec<ProcessRow>, StoreError> {
        during(|| Op::ProcessesOf { key: key.into() }, async {
            let (after_id, after_chain) = after.unwrap_or(("", ""));
            let rows = sqlx::query(
                "SELECT pr.id, pr.chain_id, pr.json FROM parties p JOIN processes pr ON pr.chain_id = p.chain_id WHERE p.key = $1 AND (pr.id > $2 OR (pr.id = $2 AND pr.chain_id > $3)) ORDER BY pr.id, pr.chain_id LIMIT $4",
            )
            .bind(key)
            .bind(after_id)
            .bind(after_chain)
            .bind(page(limit))
            .fetch_all(&self.pool)
            .await?;
            rows.iter().map(process_of).collect()
        })
        .await
    }
}

impl Scenarios for SqlStore {
    async fn put_scenario(&self, id: &str, json: &str, now: u64) -> Result<bool, StoreError> {
        during(|| Op::PutScenario { id: id.into() }, async {
            let done = sqlx::query(
                "INSERT INTO scenarios (id, json, created_at) VALUES ($1, $2, $3) ON CONFLICT (id) DO NOTHING",
            )
            .bind(id)
            .bind(json)
            .bind(int(now))
            .execute(&self.writer)
            .await?;
            if done.rows_affected() == 1 {
                return Ok(true);
            }
            let stored: Option<String> =
                sqlx::query_scalar("SELECT json FROM scenarios WHERE id = $1")
                    .bind(id)
                    .fetch_optional(&self.pool)
                    .await?;
            match stored {
                Some(stored) if stored == json => Ok(false),
                Some(_) => Err(Conflict::ScenarioDiffers { id: id.into() }.into()),
                None => Err(Conflict::ScenarioRemoved { id: id.into() }.into()),
            }
        })
        .await
    }

    async fn scenario(&self, id: &str) -> Result<Option<String>, StoreError> {
        during(|| Op::Scenario { id: id.into() }, async {
            Ok(
                sqlx::query_scalar("SELECT json FROM scenarios WHERE id = $1")
                    .bind(id)
                    .fetch_optional(&self.pool)
                    .await?,
            )
        })
        .await
    }
}

impl Identities for SqlStore {
    async fn put_identity(
        &self,
        id: &str,
        json: &str,
        keys: &[String],
        enrolment: Enrolment,
        now: u64,
    ) -> Result<bool, StoreError> {
        during(|| Op::PutIdentity { id: id.into() }, async {
            let mut tx = self.writer.begin().await?;
            let existed = sqlx::query("SELECT 1 AS one FROM identities WHERE id = $1")
                .bind(id)
                .fetch_optional(&mut *tx)
                .await?
                .is_some();
            sqlx::query(
                "INSERT INTO identities (id, json, updated_at, enrolled) VALUES ($1, $2, $3, $4) ON CONFLICT (id) DO UPDATE SET json = excluded.json, updated_at = excluded.updated_at, enrolled = excluded.enrolled",
            )
            .bind(id)
            .bind(json)
            .bind(int(now))
            .bind(enrolled(enrolment))
            .execute(&mut *tx)
            .await?;
            sqlx::query("DELETE FROM identity_keys WHERE identity_id = $1")
                .bind(id)
                .execute(&mut *tx)
                .await?;
            for key in keys {
                sqlx::query(
                    "INSERT INTO identity_keys (key, identity_id) VALUES ($1, $2) ON CONFLICT DO NOTHING",
                )
                .bind(key)
                .bind(id)
                .execute(&mut *tx)
                .await?;
            }
            tx.commit().await?;
            Ok(!existed)
        })
        .await
    }

    async fn enrolled_identities_of_key(&self, key: &str) -> Result<Vec<String>, StoreError> {
        during(|| Op::EnrolledIdentitiesOfKey { key: key.into() }, async {
            Ok(sqlx::query_scalar(
                "SELECT k.identity_id FROM identity_keys k JOIN identities i ON i.id = k.identity_id WHERE k.key = $1 AND i.enrolled = 1 ORDER BY k.identity_id",
            )
            .bind(key)
            .fetch_all(&self.pool)
            .await?)
        })
        .await
    }

    async fn count_identities(&self, enrolment: Enrolment) -> Result<u64, StoreError> {
        during(|| Op::CountIdentities { enrolment }, async {
            let n: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM identities WHERE enrolled = $1")
                .bind(enrolled(enrolment))
                .fetch_one(&self.pool)
                .await?;
            Ok(u64::try_from(n).unwrap_or(0))
        })
        .await
    }

    async fn identities_of_key(&self, key: &str) -> Result<Vec<String>, StoreError> {
        during(|| Op::IdentitiesOfKey { key: key.into() }, async {
            Ok(sqlx::query_scalar(
                "SELECT identity_id FROM identity_keys WHERE key = $1 ORDER BY identity_id",
            )
            .bind(key)
            .fetch_all(&self.pool)
            .await?)
        })
        .await
    }

    async fn identity(&self, id: &str) -> Result<Option<String>, StoreError> {
        during(|| Op::Identity { id: id.into() }, async {
            Ok(
                sqlx::query_scalar("SELECT json FROM identities WHERE id = $1")
                    .bind(id)
                    .fetch_optional(&self.pool)
                    .await?,
            )
        })
        .await
    }

    async fn identities(
        &self,
        after: Option<&str>,
        limit: u32,
    ) -> Result<Vec<(String, String)>, StoreError> {
        during(|| Op::Identities, async {
            let rows =
                sqlx::query("SELECT id, json FROM identities WHERE id > $1 ORDER BY id LIMIT $2")
                    .bind(after.unwrap_or(""))
                    .bind(page(limit))
                    .fetch_all(&self.pool)
                    .await?;
            rows.iter()
                .map(|r| Ok((r.try_get("id")?, r.try_get("json")?)))
                .collect()
        })
        .await
    }

    async fn delete_identity(&self, id: &str) -> Result<bool, StoreError> {
        during(|| Op::DeleteIdentity { id: id.into() }, async {
            let mut tx = self.writer.begin().await?;
            let done = sqlx::query("DELETE FROM identities WHERE id = $1")
                .bind(id)
                .execute(&mut *tx)
                .await?;
            sqlx::query("DELETE FROM identity_keys WHERE identity_id = $1")
                .bind(id)
                .execute(&mut *tx)
                .await?;
            tx.commit().await?;
            Ok(done.rows_affected() > 0)
        })
        .await
    }
}

impl SeenSignatures for SqlStore {
    async fn remember_signature(
        &self,
        signature: &[u8],
        expires_at: u64,
    ) -> Result<bool, StoreError> {
        during(|| Op::RememberSignature, async {
            let done = sqlx::query(
                "INSERT INTO seen_signatures (signature, expires_at) VALUES ($1, $2) ON CONFLICT DO NOTHING",
            )
            .bind(signature.to_vec())
            .bind(int(expires_at))
            .execute(&self.writer)
            .await?;
            Ok(done.rows_affected() == 1)
        })
        .await
    }

    async fn remembered_signatures(&self, now: u64) -> Result<Vec<(Vec<u8>, u64)>, StoreError> {
        during(|| Op::RememberedSignatures, async {
            let rows = sqlx::query(
                "SELECT signature, expires_at FROM seen_signatures WHERE expires_at >= $1",
            )
            .bind(int(now))
            .fetch_all(&self.pool)
            .await?;
            rows.iter()
                .map(|r| {
                    Ok((
                        r.try_get("signature")?,
                        uint(r, "seen_signatures.expires_at")?,
                    ))
                })
                .collect()
        })
        .await
    }

    async fn forget_signatures(&self, now: u64) -> Result<u64, StoreError> {
        during(|| Op::ForgetSignatures, async {
            let done = sqlx::query("DELETE FROM seen_signatures WHERE expires_at < $1")
                .bind(int(now))
                .execute(&self.writer)
                .await?;
            Ok(done.rows_affected())
        })
        .await
    }
}

impl WorkQueue for SqlStore {
    async fn claim_work(
        &self,
        kind: WorkKind,
        now: u64,
        limit: u32,
        retry_at: u64,
    ) -> Result<Vec<WorkRow>, StoreError> {
        during(|| Op::ClaimWork { kind }, async {
            let lock = match self.backend {
                Backend::Sqlite => "",
                Backend::Postgres => " FOR UPDATE SKIP LOCKED",
            };
            let sql = format!(
                "UPDATE work SET attempts = attempts + 1, due_at = $1 WHERE id IN (SELECT id FROM work WHERE state = 'pending' AND kind = $2 AND due_at <= $3 ORDER BY due_at, id LIMIT $4{lock}) RETURNING id, kind, chain_id, payload, state, due_at, attempts"
            );
            let rows = sqlx::query(sqlx::AssertSqlSafe(sql))
                .bind(int(retry_at))
                .bind(kind.as_str())
                .bind(int(now))
                .bind(page(limit))
                .fetch_all(&self.writer)
                .await?;
            let mut out = rows.iter().map(work_of).collect::<Result<Vec<_>, _>>()?;
            out.sort_by_key(|w| w.id);
            Ok(out)
        })
        .await
    }

    async fn finish_work(&self, id: i64, state: RowState) -> Result<(), StoreError> {
        during(|| Op::FinishWork { id, state }, async {
            sqlx::query("UPDATE work SET state = $1 WHERE id = $2")
                .bind(state.as_str())
                .bind(id)
                .execute(&self.writer)
                .await?;
            Ok(())
        })
        .await
    }

    async fn work_of(&self, chain: &str) -> Result<Vec<WorkRow>, StoreError> {
        let op = || Op::WorkOf {
            chain: chain.into(),
        };
        during(op, async {
            let rows = sqlx::query(
                "SELECT id, kind, chain_id, payload, state, due_at, attempts FROM work WHERE chain_id = $1 ORDER BY id",
            )
            .bind(chain)
            .fetch_all(&self.pool)
            .await?;
            rows.iter().map(work_of).collect()
        })
        .await
    }
}

impl Outbox for SqlStore {
    async fn claim_deliveries(
        &self,
        now: u64,
        limit: u32,
        lease_until: u64,
        skip: &[String],
    ) -> Result<Vec<Delivery>, StoreError> {
        during(|| Op::ClaimDeliveries, async {
            let lock = match self.backend {
                Backend::Sqlite => "",
                Backend::Postgres => " FOR UPDATE SKIP LOCKED",
            };
            // Placeholders only: the peers are bound, never written into the statement.
            let skipping = if skip.is_empty() {
                String::new()
            } else {
                let marks: Vec<String> = (0..skip.len()).map(|n| format!("${}", n + 4)).collect();
                format!(" AND peer NOT IN ({})", marks.join(", "))
            };
            let sql = format!(
                "UPDATE outbox SET attempts = attempts + 1, due_at = $1 WHERE id IN (SELECT id FROM outbox WHERE state = 'pending' AND due_at <= $2{skipping} ORDER BY due_at, id LIMIT $3{lock}) RETURNING {DELIVERY_COLUMNS}"
            );
            let mut query = sqlx::query(sqlx::AssertSqlSafe(sql))
                .bind(int(lease_until))
                .bind(int(now))
                .bind(page(limit));
            for peer in skip {
                query = query.bind(peer.as_str());
            }
            let rows = query.fetch_all(&self.writer).await?;
            let mut out = rows
                .iter()
                .map(delivery_of)
                .collect::<Result<Vec<_>, _>>()?;
            out.sort_by_key(|d| d.id);
            Ok(out)
        })
        .await
    }

    async fn release_delivery(&self, claimed: &Delivery, now: u64) -> Result<(), StoreError> {
        during(|| Op::ReleaseDelivery { id: claimed.id }, async {
            sqlx::query(
                "UPDATE outbox SET due_at = $1, attempts = CASE WHEN attempts > 0 THEN attempts - 1 ELSE 0 END WHERE id = $2 AND state = 'pending' AND due_at = $3",
            )
            .bind(int(now))
            .bind(claimed.id)
            .bind(int(claimed.due_at))
            .execute(&self.writer)
            .await?;
            Ok(())
        })
        .await
    }

    async fn release_delivery_leases(&self, now: u64) -> Result<u64, StoreError> {
        during(|| Op::ReleaseDeliveryLeases, async {
            let done = sqlx::query(
                "UPDATE outbox SET due_at = $1 WHERE state = 'pending' AND due_at > $1",
            )
            .bind(int(now))
            .execute(&self.writer)
            .await?;
            Ok(done.rows_affected())
        })
        .await
    }

    async fn finish_delivery(
        &self,
        claimed: &Delivery,
        outcome: &Delivered,
        now: u64,
    ) -> Result<(), StoreError> {
        during(|| Op::FinishDelivery { id: claimed.id }, async {
            let (id, lease) = (claimed.id, int(claimed.due_at));
            let query = match outcome {
                Delivered::Reached { length } => sqlx::query(
                    "UPDATE outbox SET sent = $1, state = CASE WHEN $1 >= wanted THEN 'done' ELSE 'pending' END, attempts = 0, due_at = $2, error = NULL, updated_at = $2 WHERE id = $3 AND state = 'pending' AND due_at = $4",
                )
                .bind(int(*length))
                .bind(int(now))
                .bind(id)
                .bind(lease),
                Delivered::Retry { error, retry_at } => sqlx::query(
                    "UPDATE outbox SET due_at = $1, error = $2, updated_at = $3 WHERE id = $4 AND state = 'pending' AND due_at = $5",
                )
                .bind(int(*retry_at))
                .bind(error.as_str())
                .bind(int(now))
                .bind(id)
                .bind(lease),
                Delivered::Dead { error } => sqlx::query(
                    "UPDATE outbox SET state = 'dead', error = $1, updated_at = $2 WHERE id = $3 AND state = 'pending' AND due_at = $4",
                )
                .bind(error.as_str())
                .bind(int(now))
                .bind(id)
                .bind(lease),
            };
            query.execute(&self.writer).await?;
            Ok(())
        })
        .await
    }

    async fn outbox(
        &self,
        state: Option<RowState>,
        after: i64,
        limit: u32,
    ) -> Result<Vec<Delivery>, StoreError> {
        during(|| Op::Outbox { state }, async {
            let rows = match state {
                Some(state) => sqlx::query(sqlx::AssertSqlSafe(format!(
                    "SELECT {DELIVERY_COLUMNS} FROM outbox WHERE state = $1 AND id > $2 ORDER BY id LIMIT $3"
                )))
                .bind(state.as_str())
                .bind(after)
                .bind(page(limit)),
                None => sqlx::query(sqlx::AssertSqlSafe(format!(
                    "SELECT {DELIVERY_COLUMNS} FROM outbox WHERE id > $1 ORDER BY id LIMIT $2"
                )))
                .bind(after)
                .bind(page(limit)),
            }
            .fetch_all(&self.pool)
            .await?;
            rows.iter().map(delivery_of).collect()
        })
        .await
    }

    async fn replay_delivery(&self, id: i64, now: u64) -> Result<bool, StoreError> {
        during(|| Op::ReplayDelivery { id }, async {
            let done = sqlx::query(
                "UPDATE outbox SET state = 'pending', attempts = 0, due_at = $1, error = NULL, updated_at = $1 WHERE id = $2 AND state = 'dead'",
            )
            .bind(int(now))
            .bind(id)
            .execute(&self.writer)
            .await?;
            Ok(done.rows_affected() == 1)
        })
        .await
    }

    async fn outbox_counts(&self) -> Result<Vec<(String, RowState, u64)>, StoreError> {
        during(|| Op::OutboxCounts, async {
            let rows = sqlx::query(
                "SELECT peer, state, COUNT(*) AS n FROM outbox GROUP BY peer, state ORDER BY peer, state",
            )
            .fetch_all(&self.pool)
            .await?;
            rows.iter()
                .map(|r| {
                    Ok((
                        r.try_get("peer")?,
                        named(r, "outbox.state", ROW_STATES)?,
                        uint(r, "outbox.n")?,
                    ))
                })
                .collect()
        })
        .await
    }
}

/// `identities.enrolled`: 1 for an identity an administrator registered, 0 otherwise.
fn enrolled(enrolment: Enrolment) -> i64 {
    match enrolment {
        Enrolment::Enrolled => 1,
        Enrolment::SelfRegistered => 0,
    }
}
