//! What the HTTP load benchmarks share: running the real `pactum` binary, minting
//! tokens, the order flow's requests, and latency percentiles.

#![allow(dead_code)] // each benchmark uses its own part

use std::process::{Child, Command, Stdio};
use std::time::Duration;

use serde_json::{Value, json};

/// The `pactum` binary the benchmark runs: the one cargo built, or another build
/// named by `PACTUM_BENCH_BIN` (to compare two versions on the same machine).
pub fn pactum_bin() -> String {
    std::env::var("PACTUM_BENCH_BIN").unwrap_or_else(|_| env!("CARGO_BIN_EXE_pactum").to_owned())
}

/// Runs `pactum ARGS` to completion; its standard output.
pub fn pactum(args: &[&str]) -> String {
    let output = Command::new(pactum_bin())
        .args(args)
        .output()
        .expect("pactum runs");
    assert!(
        output.status.success(),
        "pactum {args:?}: {}",
        String::from_utf8_lossy(&output.stderr)
    );
    String::from_utf8_lossy(&output.stdout).into_owned()
}

/// `pactum token create STORAGE… ARGS…`; the token.
pub fn token(storage: &[&str], args: &[&str]) -> String {
    let mut all = vec!["token", "create"];
    all.extend_from_slice(storage);
    all.extend_from_slice(args);
    pactum(&all).lines().last().unwrap().trim().to_owned()
}

/// A customer's and a shifter's token.
pub fn cast(storage: &[&str]) -> (String, String) {
    (
        token(
            storage,
            &["--subject", "alice", "--role", "customer", "--org", "acme"],
        ),
        token(
            storage,
            &[
                "--subject",
                "sam",
                "--role",
                "shifter",
                "--group",
                "compute",
            ],
        ),
    )
}

/// A `pactum serve` process, killed on drop.
pub struct Node {
    pub child: Child,
    pub base: String,
}

impl Drop for Node {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Node {
    /// Starts `pactum serve` on a free port with `storage` arguments; waits until ready.
    pub async fn start(storage: &[&str]) -> Self {
        let port = pactum_testkit::free_port();
        let child = Command::new(pactum_bin())
            .args(["serve", "--listen", &format!("127.0.0.1:{port}")])
            .args(storage)
            .env("RUST_LOG", "error")
            .stdout(Stdio::null())
            .spawn()
            .expect("serve starts");
        let node = Self {
            child,
            base: format!("http://127.0.0.1:{port}"),
        };
        let client = reqwest::Client::new();
        for _ in 0..1200 {
            if client
                .get(format!("{}/readyz", node.base))
                .send()
                .await
                .is_ok_and(|r| r.status().is_success())
            {
                return node;
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        panic!("pactum serve did not become ready");
    }

    /// The server's peak resident memory so far (Linux `VmHWM`), in MiB.
    pub fn peak_rss_mib(&self) -> Option<f64> {
        let status = std::fs::read_to_string(format!("/proc/{}/status", self.child.id())).ok()?;
        let line = status.lines().find(|l| l.starts_with("VmHWM:"))?;
        let kib: f64 = line.split_whitespace().nth(1)?.parse().ok()?;
        Some(kib / 1024.0)
    }
}

/// The order every benchmark client submits.
pub fn order() -> Value {
    let mut order = pactum_testkit::fixtures::cloud_order();
    order["title"] = json!("Bench");
    order["parameters"]["start_date"] = json!("2027-01-04");
    order
}

/// The `p` quantile (0..=1) of sorted latencies, in milliseconds.
pub fn quantile_ms(sorted: &[Duration], p: f64) -> f64 {
    if sorted.is_empty() {
        return f64::NAN;
    }
    sorted[((sorted.len() as f64 - 1.0) * p).round() as usize].as_secs_f64() * 1e3
}

/// The value after `flag` on the command line, if any.
pub fn arg(flag: &str) -> Option<String> {
    let args: Vec<String> = std::env::args().collect();
    args.iter()
        .position(|a| a == flag)
        .and_then(|i| args.get(i + 1))
        .cloned()
}

/// Whether `flag` is on the command line.
pub fn flag(flag: &str) -> bool {
    std::env::args().any(|a| a == flag)
}
