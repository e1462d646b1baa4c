//! The worker's liveness session ([`bt_queue::Session`]): one PostgreSQL
//! session that claims jobs and holds the advisory lock of every job this
//! worker runs (each taken in the claim statement itself). While the session
//! lives the rescuer leaves those jobs alone; when the process dies the
//! session, and every lock with it, ends at once. If the connection drops
//! while the worker lives (the database restarted, a connection was cut), the
//! next call (the liveness loop pings every [`PING_EVERY`]) reconnects and
//! takes every lock again, well within the rescuer's second look; a lock
//! someone else took meanwhile means that job was rescued, which its next
//! fenced write finds out.

use std::collections::BTreeSet;
use std::future::Future;
use std::time::Duration;

use bt_queue::{Execution, Job, Session, StoreError};
use sqlx::postgres::PgConnectOptions;
use tokio::sync::Mutex;

/// How often the worker checks its session while it holds locks.
pub const PING_EVERY: Duration = Duration::from_millis(100);

/// Longest wait for a connect, a claim or a ping: past it the session is
/// taken for lost (a half-open connection never answers) and made anew.
const ANSWER_WITHIN: Duration = Duration::from_secs(5);

#[derive(Debug)]
struct State {
    session: Option<Session>,
    /// Jobs whose lock this worker holds (or takes again on reconnect).
    held: BTreeSet<i64>,
    /// Every job this worker runs, locked or not.
    running: BTreeSet<i64>,
    /// A claim failed (or none ran yet): the server may have claimed jobs
    /// whose reply never came; the next claim looks for them first.
    unsure: bool,
}

/// See the module documentation.
#[derive(Debug)]
pub struct Liveness {
    options: PgConnectOptions,
    state: Mutex<State>,
}

async fn within<T>(f: impl Future<Output = Result<T, StoreError>>) -> Result<T, StoreError> {
    tokio::time::timeout(ANSWER_WITHIN, f).await.unwrap_or(Err(StoreError::Timeout(ANSWER_WITHIN)))
}

impl Liveness {
    pub fn new(options: PgConnectOptions) -> Self {
        let state = State { session: None, held: BTreeSet::new(), running: BTreeSet::new(), unsure: true };
        Self { options, state: Mutex::new(state) }
    }

    /// Jobs whose lock this worker means to hold.
    pub async fn held(&self) -> Vec<i64> {
        self.state.lock().await.held.iter().copied().collect()
    }

    async fn connected<'a>(&self, st: &'a mut State) -> Result<&'a mut Session, StoreError> {
        let session = match st.session.take() {
            Some(s) => s,
            None => {
                let mut s = within(Session::connect(&self.options)).await?;
                let ids: Vec<i64> = st.held.iter().copied().collect();
                for (id, got) in within(s.relock(&ids)).await? {
                    if !got {
                        tracing::warn!(job = id, "job lock taken by another session after reconnect");
                    }
                }
                if !ids.is_empty() {
                    tracing::info!(jobs = ids.len(), "liveness session reconnected; job locks taken again");
                }
                s
            }
        };
        Ok(st.session.insert(session))
    }

    /// Runs `f` on the session (connecting first when needed); any error
    /// drops the session (see [`Session`]).
    async fn with<T>(
        &self,
        st: &mut State,
        f: impl AsyncFnOnce(&mut Session) -> Result<T, StoreError>,
    ) -> Result<T, StoreError> {
        let r = match self.connected(st).await {
            Ok(s) => within(f(s)).await,
            Err(e) => Err(e),
        };
        if r.is_err() {
            st.session = None;
        }
        r
    }

    /// Claims up to `n` jobs of `lanes` for `worker`, each with its lock
    /// (the jobs whose lock another session still holds run on heartbeats
    /// alone).
    pub async fn claim(&self, worker: &str, n: i64, lanes: &[Execution]) -> Result<Vec<Job>, StoreError> {
        let mut st = self.state.lock().await;
        let mut jobs = Vec::new();
        if st.unsure {
            let known: Vec<i64> = st.running.iter().copied().collect();
            let adopted = self.with(&mut st, async |s| s.adopt(worker, &known, n).await).await?;
            st.unsure = adopted.len() as i64 == n;
            for job in adopted {
                tracing::warn!(
                    job = job.id,
                    attempt = job.attempt,
                    "running a job claimed before its reply was lost"
                );
                st.held.insert(job.id);
                st.running.insert(job.id);
                jobs.push(job);
            }
        }
        let n = n - jobs.len() as i64;
        if n == 0 {
            return Ok(jobs);
        }
        let claimed = match self.with(&mut st, async |s| s.claim(worker, n, lanes).await).await {
            Ok(c) => c,
            Err(e) => {
                st.unsure = true;
                // Jobs adopted above are this worker's now: run them.
                return if jobs.is_empty() { Err(e) } else { Ok(jobs) };
            }
        };
        for (job, locked) in claimed {
            st.running.insert(job.id);
            if locked {
                st.held.insert(job.id);
            } else {
                tracing::warn!(
                    job = job.id,
                    "another session holds this job's lock; running on heartbeats alone"
                );
            }
            jobs.push(job);
        }
        Ok(jobs)
    }

    /// Lets job `id`'s lock go.
    pub async fn unlock(&self, id: i64) {
        let mut st = self.state.lock().await;
        st.running.remove(&id);
        if !st.held.remove(&id) || st.session.is_none() {
            return;
        }
        if let Err(e) = self.with(&mut st, async |s| s.unlock(id).await).await {
            tracing::warn!(job = id, error = %e, "releasing a job lock failed; reconnecting");
        }
    }

    /// Checks the session (reconnecting and re-locking when it dropped).
    pub async fn check(&self) -> Result<(), StoreError> {
        let mut st = self.state.lock().await;
        self.with(&mut st, async |s| s.ping().await).await
    }
}
