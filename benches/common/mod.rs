//! What the HTTP load benchmarks share, on `pactum-testkit`: the `pactum` binary
//! they run (or `PACTUM_BENCH_BIN`), tokens, the order flow's requests, and
//! latency percentiles.

#![allow(dead_code)] // each benchmark uses its own part

use std::process::Stdio;
use std::time::Duration;

use pactum_testkit::principals;
use pactum_testkit::process::{Node, Pactum};
use serde_json::{Value, json};

/// The `pactum` binary the benchmark runs: the one cargo built, or another build
/// named by `PACTUM_BENCH_BIN` (to compare two versions on the same machine).
pub fn pactum_bin() -> String {
    std::env::var("PACTUM_BENCH_BIN").unwrap_or_else(|_| env!("CARGO_BIN_EXE_pactum").to_owned())
}

fn binary() -> Pactum {
    Pactum::new(pactum_bin())
}

/// Runs `pactum ARGS` to completion; its standard output.
pub fn pactum(args: &[&str]) -> String {
    binary().run_ok(args)
}

/// A customer's and a shifter's token, minted by `pactum token create STORAGE…`.
pub fn cast(storage: &[&str]) -> (String, String) {
    let token = |request| {
        let mut args = principals::args(&request);
        args.extend(storage.iter().map(|s| s.to_string()));
        binary().token(args)
    };
    (
        token(principals::customer("alice", "acme")),
        token(principals::shifter("sam", &["compute"])),
    )
}

/// Starts `pactum serve` on a free port with `storage` arguments; waits until
/// ready. Its errors go to the benchmark's stderr.
pub async fn start_node(storage: &[&str]) -> Node {
    binary()
        .serve(|command| {
            command
                .args(storage)
                .env("RUST_LOG", "error")
                .stderr(Stdio::inherit());
        })
        .await
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

/// A token for `request`, minted by `pactum token create STORAGE…`.
pub fn token(storage: &[&str], request: &pactum::access::tokens::TokenRequest) -> String {
    let mut args = principals::args(request);
    args.extend(storage.iter().map(|s| s.to_string()));
    binary().token(args)
}

/// [`cast`] with e-mail addresses on both tokens, so the flow's events queue
/// mail (`alice@acme.example`, `sam@egi.example`).
pub fn cast_with_mail(storage: &[&str]) -> (String, String) {
    let with_mail = |mut request: pactum::access::tokens::TokenRequest, address: &str| {
        request.email = Some(address.to_owned());
        request
    };
    (
        token(
            storage,
            &with_mail(principals::customer("alice", "acme"), "alice@acme.example"),
        ),
        token(
            storage,
            &with_mail(principals::shifter("sam", &["compute"]), "sam@egi.example"),
        ),
    )
}

/// An admin's token (`ada`), minted like [`cast`]'s.
pub fn admin(storage: &[&str]) -> String {
    token(storage, &principals::role("ada", "admin"))
}

/// Where `program` is on `PATH`, if it is.
pub fn on_path(program: &str) -> Option<std::path::PathBuf> {
    std::env::split_paths(&std::env::var_os("PATH")?)
        .map(|dir| dir.join(program))
        .find(|path| path.is_file())
}
