//! [`Session`]: a worker's liveness connection. One PostgreSQL session holds
//! the advisory lock (key = job id) of every job the worker runs; the claim
//! takes each lock in the same statement that marks the job running. While the
//! session lives the rescuer leaves those jobs alone; when the process dies the
//! session, and every lock with it, ends at once.

use sqlx::Connection;
use sqlx::postgres::{PgConnectOptions, PgConnection};

use crate::store::claim_on;
use crate::types::{Execution, Job, StoreError};

type Result<T, E = StoreError> = std::result::Result<T, E>;

/// See the module documentation. Any error leaves the session in an unknown
/// state (a failed claim may have taken locks of jobs it did not claim):
/// drop it and connect again, then [`Session::relock`] the jobs still held.
#[derive(Debug)]
pub struct Session {
    conn: PgConnection,
}

impl Session {
    pub async fn connect(options: &PgConnectOptions) -> Result<Self> {
        Ok(Self { conn: PgConnection::connect_with(options).await? })
    }

    /// Claims up to `n` jobs of `lanes` for `worker`, taking each one's lock
    /// in the claim, and marks their bundles running (one transaction). Each
    /// job comes with whether its lock was taken (`false`: another session
    /// still holds it, e.g. a previous run that has not noticed it was
    /// rescued; the job then runs on heartbeats alone).
    pub async fn claim(&mut self, worker: &str, n: i64, lanes: &[Execution]) -> Result<Vec<(Job, bool)>> {
        claim_on(&mut self.conn, worker, n, lanes, true).await
    }

    /// Running jobs assigned to `worker` that are not in `known` and whose
    /// lock nobody holds (taken now), at most `n`: claims whose reply was
    /// lost with the connection. The worker runs them as claimed (their
    /// attempt still fences every write).
    pub async fn adopt(&mut self, worker: &str, known: &[i64], n: i64) -> Result<Vec<Job>> {
        Ok(sqlx::query_as::<_, Job>(sql!("adopt"))
            .bind(worker)
            .bind(known)
            .bind(n)
            .fetch_all(&mut self.conn)
            .await?)
    }

    /// Takes the locks of `jobs` (after a reconnect) and clears the
    /// rescuer's mark on each one taken. Returns, per job, whether this
    /// session holds its lock now.
    pub async fn relock(&mut self, jobs: &[i64]) -> Result<Vec<(i64, bool)>> {
        if jobs.is_empty() {
            return Ok(Vec::new());
        }
        Ok(sqlx::query_as::<_, (i64, bool)>(sql!("relock")).bind(jobs).fetch_all(&mut self.conn).await?)
    }

    /// Lets job `id`'s lock go.
    pub async fn unlock(&mut self, id: i64) -> Result<()> {
        sqlx::query(sql!("job_unlock")).bind(id).execute(&mut self.conn).await?;
        Ok(())
    }

    /// A round trip: fails when the session is gone.
    pub async fn ping(&mut self) -> Result<()> {
        self.conn.ping().await?;
        Ok(())
    }

    /// This session's server process id (tests cut it with `pg_terminate_backend`).
    pub async fn backend_pid(&mut self) -> Result<i32> {
        Ok(sqlx::query_scalar("SELECT pg_backend_pid()").fetch_one(&mut self.conn).await?)
    }
}
