//! End-to-end tests of the `bt` binary: one binary, one module per topic.

mod api;
mod data_commands;
mod deploy;
mod indicators_cmd;
mod run_bundle;
mod sample_data;
mod worker;

use std::path::{Path, PathBuf};
use std::process::{Child, Command};

/// Output of one `bt` run.
#[derive(Debug)]
pub struct Run {
    pub ok: bool,
    pub stdout: String,
    pub stderr: String,
}

pub fn bt(args: &[&str], cwd: &Path) -> Run {
    let out = Command::new(env!("CARGO_BIN_EXE_bt"))
        .args(args)
        .current_dir(cwd)
        .env_remove("BT_CATALOG")
        .env_remove("BT_LOG")
        .output()
        .expect("run bt");
    Run {
        ok: out.status.success(),
        stdout: String::from_utf8_lossy(&out.stdout).into_owned(),
        stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
    }
}

pub fn repo_root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("..")
}

/// A child process, killed when dropped, and the file its stderr goes to.
#[derive(Debug)]
pub struct Proc(pub Child, pub PathBuf);

impl Proc {
    pub fn logs(&self) -> String {
        std::fs::read_to_string(&self.1).unwrap_or_default()
    }
}

impl Drop for Proc {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}
