//! A PostgreSQL server of the test's own (initdb + pg_ctl in a temporary
//! folder, on a free port of 127.0.0.1, trust authentication), for tests that
//! stop and restart the database: the shared server on 5432 is never touched.
//! Dropping a [`PgServer`] stops it (immediate shutdown) and deletes its
//! folder, also when the test panics.

use std::io::Write;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::Command;

use tempfile::TempDir;

/// How `pg_ctl stop` ends the server's sessions.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum StopMode {
    /// Sessions get 57P01 (admin shutdown), then a shutdown checkpoint.
    Fast,
    /// Processes are killed at once; crash recovery at the next start.
    Immediate,
}

impl StopMode {
    fn as_str(self) -> &'static str {
        match self {
            Self::Fast => "fast",
            Self::Immediate => "immediate",
        }
    }
}

/// See the module documentation.
#[derive(Debug)]
pub struct PgServer {
    bin: PathBuf,
    dir: TempDir,
    addr: SocketAddr,
    /// Run the binaries as the `postgres` OS user (initdb refuses root).
    as_postgres: bool,
}

/// The newest PostgreSQL server binaries found (`initdb`, `pg_ctl` and
/// `postgres` in one folder), or why there are none.
pub fn server_binaries() -> Result<PathBuf, String> {
    let mut dirs: Vec<PathBuf> = std::fs::read_dir("/usr/lib/postgresql")
        .map(|d| d.filter_map(|e| e.ok()).map(|e| e.path().join("bin")).collect())
        .unwrap_or_default();
    // Newest major version first (numerically: 9.6 < 10 < 15 < 16).
    dirs.sort_by_key(|d| {
        let v = d.parent().and_then(Path::file_name).and_then(|n| n.to_str()).unwrap_or("");
        std::cmp::Reverse(v.split('.').map(|p| p.parse::<u32>().unwrap_or(0)).collect::<Vec<_>>())
    });
    if let Ok(out) = Command::new("pg_config").arg("--bindir").output()
        && out.status.success()
    {
        dirs.push(PathBuf::from(String::from_utf8_lossy(&out.stdout).trim()));
    }
    dirs.into_iter()
        .find(|d| ["initdb", "pg_ctl", "postgres"].iter().all(|b| d.join(b).is_file()))
        .ok_or_else(|| {
            "no PostgreSQL server binaries (initdb, pg_ctl, postgres) under /usr/lib/postgresql/*/bin \
             or pg_config --bindir"
                .to_owned()
        })
}

fn is_root() -> bool {
    Command::new("id").arg("-u").output().is_ok_and(|o| String::from_utf8_lossy(&o.stdout).trim() == "0")
}

impl PgServer {
    /// Creates a cluster (not started); `None`, after saying why, when the
    /// server binaries are absent. Any other failure panics.
    pub fn init() -> Option<Self> {
        let bin = match server_binaries() {
            Ok(b) => b,
            Err(why) => {
                // Straight to stderr (not the captured print macros): shown in every run.
                let _ = writeln!(std::io::stderr(), "skipped: {why}");
                return None;
            }
        };
        let as_postgres = is_root();
        let dir = tempfile::Builder::new().prefix("bt-pg-").tempdir().expect("temporary folder");
        if as_postgres {
            let ok = Command::new("chown")
                .args(["postgres:", dir.path().to_str().expect("utf-8")])
                .status()
                .expect("chown")
                .success();
            assert!(ok, "chown postgres {}", dir.path().display());
        }
        let addr = crate::worker::free_addr();
        let server = Self { bin, dir, addr, as_postgres };
        let data = server.data();
        server.run(
            "initdb",
            &["-D", &data, "--auth=trust", "--username=postgres", "--encoding=UTF8", "--no-sync"],
        );
        // fsync off loses nothing when only the server's processes die (the
        // kernel keeps their writes); synchronous_commit stays on, since off
        // would lose the last commits in an immediate shutdown.
        let conf = format!(
            "\n# bt tests\nlisten_addresses = '127.0.0.1'\nport = {}\nunix_socket_directories = ''\n\
             shared_buffers = 16MB\nmax_connections = 100\nfsync = off\nfull_page_writes = off\n",
            addr.port()
        );
        let path = server.dir.path().join("data/postgresql.conf");
        let mut text = std::fs::read_to_string(&path).expect("postgresql.conf");
        text.push_str(&conf);
        std::fs::write(&path, text).expect("write postgresql.conf");
        Some(server)
    }

    fn data(&self) -> String {
        self.dir.path().join("data").to_str().expect("utf-8").to_owned()
    }

    fn log_path(&self) -> String {
        self.dir.path().join("server.log").to_str().expect("utf-8").to_owned()
    }

    /// Runs one of the server's binaries (as `postgres` when we are root);
    /// panics with its output and the server log when it fails.
    fn run(&self, program: &str, args: &[&str]) {
        let exe = self.bin.join(program);
        let mut cmd = if self.as_postgres {
            let mut c = Command::new("runuser");
            c.args(["-u", "postgres", "--"]).arg(&exe);
            c
        } else {
            Command::new(&exe)
        };
        let out = cmd.args(args).current_dir(self.dir.path()).output().expect("run a PostgreSQL binary");
        assert!(
            out.status.success(),
            "{program} {args:?} failed:\n{}\n{}\n--- server log\n{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr),
            self.log()
        );
    }

    fn pg_ctl(&self, action: &str, extra: &[&str]) {
        let (data, log) = (self.data(), self.log_path());
        let mut args = vec![action, "-D", &data, "-l", &log, "-w", "-t", "60"];
        args.extend_from_slice(extra);
        self.run("pg_ctl", &args);
    }

    /// Starts the server and waits until it accepts connections.
    pub fn start(&self) {
        self.pg_ctl("start", &[]);
    }

    /// Stops the server and waits until it is down.
    pub fn stop(&self, mode: StopMode) {
        self.pg_ctl("stop", &["-m", mode.as_str()]);
    }

    /// Stops (in `mode`) and starts again, waiting until it accepts connections.
    pub fn restart(&self, mode: StopMode) {
        self.pg_ctl("restart", &["-m", mode.as_str()]);
    }

    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// URL of the `postgres` database, as user `postgres`.
    pub fn url(&self) -> String {
        format!("postgres://postgres@{}/postgres", self.addr)
    }

    /// The server's log so far.
    pub fn log(&self) -> String {
        std::fs::read_to_string(self.log_path()).unwrap_or_default()
    }
}

impl Drop for PgServer {
    fn drop(&mut self) {
        // Not `run`: no panic while unwinding, and a stopped server is fine.
        let (data, log) = (self.data(), self.log_path());
        let args = ["stop", "-D", &data, "-l", &log, "-m", "immediate", "-w", "-t", "30"];
        let exe = self.bin.join("pg_ctl");
        let _ = if self.as_postgres {
            Command::new("runuser").args(["-u", "postgres", "--"]).arg(&exe).args(args).output()
        } else {
            Command::new(&exe).args(args).output()
        };
    }
}
