//! The worker's liveness connection: one PostgreSQL session holding the
//! advisory lock of every job this worker runs. While the session lives the
//! rescuer leaves those jobs alone; when the process dies the session, and
//! every lock with it, ends at once. If the connection drops while the worker
//! lives (the database restarted), the next call reconnects and takes every
//! lock again; a lock someone else took meanwhile means that job was rescued,
//! which its next fenced write finds out.

use std::collections::BTreeSet;

use bt_queue::{JobLock, StoreError, lock_job};
use sqlx::Connection;
use sqlx::postgres::{PgConnectOptions, PgConnection};
use tokio::sync::Mutex;

#[derive(Debug)]
struct State {
    conn: Option<PgConnection>,
    held: BTreeSet<i64>,
}

/// See the module documentation.
#[derive(Debug)]
pub struct Liveness {
    options: PgConnectOptions,
    state: Mutex<State>,
}

impl Liveness {
    pub fn new(options: PgConnectOptions) -> Self {
        Self { options, state: Mutex::new(State { conn: None, held: BTreeSet::new() }) }
    }

    /// Jobs whose lock this worker means to hold.
    pub async fn held(&self) -> Vec<i64> {
        self.state.lock().await.held.iter().copied().collect()
    }

    async fn connected<'a>(&self, st: &'a mut State) -> Result<&'a mut PgConnection, StoreError> {
        if st.conn.is_none() {
            let mut conn = PgConnection::connect_with(&self.options).await?;
            let ids: Vec<i64> = st.held.iter().copied().collect();
            for id in ids {
                if lock_job(&mut conn, id).await?.is_none() {
                    tracing::warn!(job = id, "job lock taken by another session after reconnect");
                }
            }
            st.conn = Some(conn);
        }
        st.conn.as_mut().ok_or_else(|| StoreError::Db(sqlx::Error::PoolClosed))
    }

    /// Takes job `id`'s lock: `Ok(false)` when another session holds it.
    /// The job counts as held even when the database cannot be reached now
    /// (the lock is taken again on reconnect).
    pub async fn lock(&self, id: i64) -> Result<bool, StoreError> {
        let mut st = self.state.lock().await;
        st.held.insert(id);
        let r = match self.connected(&mut st).await {
            Ok(conn) => lock_job(conn, id).await.map(|l| l.is_some()),
            Err(e) => Err(e),
        };
        match r {
            Ok(false) => {
                st.held.remove(&id);
                Ok(false)
            }
            Ok(true) => Ok(true),
            Err(e) => {
                st.conn = None;
                Err(e)
            }
        }
    }

    /// Lets job `id`'s lock go.
    pub async fn unlock(&self, id: i64) {
        let mut st = self.state.lock().await;
        st.held.remove(&id);
        if let Some(conn) = st.conn.as_mut()
            && let Err(e) = (JobLock { job_id: id }).release(conn).await
        {
            tracing::warn!(job = id, error = %e, "releasing a job lock failed; reconnecting");
            st.conn = None;
        }
    }

    /// Checks the session (reconnecting and re-locking when it dropped).
    pub async fn check(&self) -> Result<(), StoreError> {
        let mut st = self.state.lock().await;
        let r = match self.connected(&mut st).await {
            Ok(conn) => conn.ping().await.map_err(StoreError::from),
            Err(e) => Err(e),
        };
        if r.is_err() {
            st.conn = None;
        }
        r
    }
}
