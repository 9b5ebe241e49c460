//! `dora --store postgres://…`: the deployments every run gathered, kept in PostgreSQL so the
//! figures cover more than one run's reach (a year of an organisation, sources read on
//! different schedules).
//!
//! Migrations as paved-quarantine's store does them: numbered SQL applied in one transaction
//! under an advisory lock, recorded in a table of this store's own (`paved_dora_migrations`,
//! so quarantine and dora can share a database). A deployment is upserted by its source and id:
//! running the same gathering twice stores nothing twice, and an open record that was closed
//! since is updated.

use postgres::{Client, NoTls};

use super::{Deployment, Outcome};
use crate::error::{Error, Result};

const MIGRATIONS: &[(i64, &str)] = &[(
    1,
    "CREATE TABLE dora_deployments (
        source TEXT NOT NULL,
        id TEXT NOT NULL,
        repository TEXT NOT NULL,
        environment TEXT NOT NULL,
        at TEXT NOT NULL,
        at_seconds BIGINT NOT NULL,
        outcome TEXT NOT NULL,
        committed_at TEXT NOT NULL,
        PRIMARY KEY (source, id)
    );
    CREATE INDEX dora_deployments_at ON dora_deployments (at_seconds);",
)];

/// The newest schema version this paved-change knows.
pub const SCHEMA_VERSION: i64 = 1;

/// The advisory lock key that serialises migrations ("paved-d").
const MIGRATION_LOCK: i64 = 0x0070_6176_6564_2d64;

/// A PostgreSQL store of deployments.
pub struct PgStore {
    name: String,
    client: Client,
}

impl std::fmt::Debug for PgStore {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PgStore").field("name", &self.name).finish()
    }
}

fn seconds(at: &str) -> Option<i64> {
    at.parse::<jiff::Timestamp>()
        .ok()
        .map(jiff::Timestamp::as_second)
}

impl PgStore {
    /// Connect to `url` (`postgres://` or `postgresql://`) and bring the schema up to date.
    pub fn open(url: &str) -> Result<PgStore> {
        let name = paved_core::redact::redact_url(url);
        if !(url.starts_with("postgres://") || url.starts_with("postgresql://")) {
            return Err(Error::usage(
                format!("`--store {name}` is not a PostgreSQL URL"),
                "pass `--store postgres://USER@HOST:PORT/DATABASE` (the password in `PGPASSWORD` or the URL)",
            ));
        }
        let client = Client::connect(url, NoTls).map_err(|e| Error::store(&name, e))?;
        let mut store = PgStore { name, client };
        store.migrate()?;
        Ok(store)
    }

    /// The store's URL without credentials.
    pub fn describe(&self) -> &str {
        &self.name
    }

    fn migrate(&mut self) -> Result<()> {
        let name = self.name.clone();
        let err = |e: postgres::Error| Error::store(&name, e);
        let mut tx = self.client.transaction().map_err(err)?;
        tx.execute("SELECT pg_advisory_xact_lock($1)", &[&MIGRATION_LOCK])
            .map_err(err)?;
        tx.batch_execute(
            "CREATE TABLE IF NOT EXISTS paved_dora_migrations (version BIGINT PRIMARY KEY, applied_at BIGINT NOT NULL)",
        )
        .map_err(err)?;
        let current: i64 = tx
            .query_one(
                "SELECT COALESCE(MAX(version), 0) FROM paved_dora_migrations",
                &[],
            )
            .map_err(err)?
            .get(0);
        if current > SCHEMA_VERSION {
            return Err(Error::usage(
                format!(
                    "the DORA store `{name}` has schema version {current}, newer than this paved-change knows ({SCHEMA_VERSION})"
                ),
                "use the paved-change release that wrote it, or a newer one",
            ));
        }
        let now = jiff::Timestamp::now().as_second();
        for (version, sql) in MIGRATIONS.iter().filter(|(v, _)| *v > current) {
            tx.batch_execute(sql).map_err(err)?;
            tx.execute(
                "INSERT INTO paved_dora_migrations (version, applied_at) VALUES ($1, $2)",
                &[version, &now],
            )
            .map_err(err)?;
        }
        tx.commit().map_err(err)
    }

    /// Insert or update `deployments` (keyed by source and id), in one transaction; returns how
    /// many were new.
    pub fn upsert(&mut self, deployments: &[Deployment]) -> Result<usize> {
        let name = self.name.clone();
        let err = |e: postgres::Error| Error::store(&name, e);
        let mut tx = self.client.transaction().map_err(err)?;
        let statement = tx
            .prepare(
                "INSERT INTO dora_deployments
                   (source, id, repository, environment, at, at_seconds, outcome, committed_at)
                 VALUES ($1, $2, $3, $4, $5, $6, $7, $8)
                 ON CONFLICT (source, id) DO UPDATE SET
                   repository = EXCLUDED.repository, environment = EXCLUDED.environment,
                   at = EXCLUDED.at, at_seconds = EXCLUDED.at_seconds,
                   outcome = EXCLUDED.outcome, committed_at = EXCLUDED.committed_at
                 RETURNING (xmax = 0)",
            )
            .map_err(err)?;
        let mut new = 0;
        for d in deployments {
            let Some(at) = seconds(&d.at) else {
                continue;
            };
            let commits = serde_json::to_string(&d.committed_at).unwrap_or_else(|_| "[]".into());
            let row = tx
                .query_one(
                    &statement,
                    &[
                        &d.source,
                        &d.id,
                        &d.repository,
                        &d.environment,
                        &d.at,
                        &at,
                        &d.outcome.as_str(),
                        &commits,
                    ],
                )
                .map_err(err)?;
            if row.get::<_, bool>(0) {
                new += 1;
            }
        }
        tx.commit().map_err(err)?;
        Ok(new)
    }

    /// The deployments stored at `since..=until` (epoch seconds).
    pub fn load(&mut self, since: i64, until: i64) -> Result<Vec<Deployment>> {
        let name = self.name.clone();
        let rows = self
            .client
            .query(
                "SELECT source, id, repository, environment, at, outcome, committed_at
                 FROM dora_deployments WHERE at_seconds BETWEEN $1 AND $2
                 ORDER BY at_seconds, source, id",
                &[&since, &until],
            )
            .map_err(|e| Error::store(&name, e))?;
        Ok(rows
            .iter()
            .filter_map(|r| {
                let outcome = Outcome::parse(r.get::<_, &str>(5))?;
                Some(Deployment {
                    source: r.get(0),
                    id: r.get(1),
                    repository: r.get(2),
                    environment: r.get(3),
                    at: r.get(4),
                    outcome,
                    committed_at: serde_json::from_str(r.get::<_, &str>(6)).unwrap_or_default(),
                })
            })
            .collect())
    }
}
