//! The real `pactum` binary: run to completion ([`Pactum::run`]), or serving
//! ([`Pactum::serve`], a [`Node`]). Only the calling test or benchmark knows
//! where cargo built it: `Pactum::new(env!("CARGO_BIN_EXE_pactum"))`.

use std::ffi::{OsStr, OsString};
use std::ops::Deref;
use std::path::PathBuf;
use std::process::{Child, Command, Output, Stdio};
use std::time::{Duration, Instant};

use reqwest::StatusCode;
use serde_json::Value;

use crate::http::Http;

/// The `pactum` binary.
#[derive(Clone, Debug)]
pub struct Pactum {
    program: PathBuf,
}

impl Pactum {
    pub fn new(program: impl Into<PathBuf>) -> Self {
        Self {
            program: program.into(),
        }
    }

    /// A command running the binary, to configure further.
    pub fn command(&self) -> Command {
        Command::new(&self.program)
    }

    /// Runs `pactum ARGS` to completion.
    pub fn run<I, S>(&self, args: I) -> Output
    where
        I: IntoIterator<Item = S>,
        S: AsRef<OsStr>,
    {
        self.command().args(args).output().expect("the binary runs")
    }

    /// Runs `pactum ARGS` and insists it succeeds; returns its standard output.
    pub fn run_ok<I, S>(&self, args: I) -> String
    where
        I: IntoIterator<Item = S>,
        S: AsRef<OsStr>,
    {
        let args: Vec<OsString> = args.into_iter().map(|a| a.as_ref().into()).collect();
        let output = self.run(&args);
        assert!(
            output.status.success(),
            "pactum {args:?}: {}",
            stderr(&output)
        );
        stdout(&output)
    }

    /// `pactum token create ARGS` (the principal's options and the store's, see
    /// [`crate::principals::args`]); returns the token, printed alone on the last
    /// line.
    pub fn token<I, S>(&self, args: I) -> String
    where
        I: IntoIterator<Item = S>,
        S: AsRef<OsStr>,
    {
        let all = [OsString::from("token"), OsString::from("create")]
            .into_iter()
            .chain(args.into_iter().map(|a| a.as_ref().to_owned()));
        let out = self.run_ok(all);
        let token = out.lines().last().expect("a token").trim().to_owned();
        assert!(token.starts_with("pct_") && !token.contains(' '), "{out:?}");
        token
    }

    /// Starts `pactum serve --listen 127.0.0.1:PORT` on a free port, with what
    /// `configure` adds (the store's options or environment, other options), and
    /// waits until it is ready. Its standard output is discarded, and so are its
    /// logs unless `TEST_LOG` is set (then warnings and errors go to stderr);
    /// `configure` may change both.
    pub async fn serve(&self, configure: impl FnOnce(&mut Command)) -> Node {
        let port = crate::free_port();
        let mut command = self.command();
        command
            .args(["serve", "--listen", &format!("127.0.0.1:{port}")])
            .stdout(Stdio::null());
        if std::env::var_os("TEST_LOG").is_some() {
            command.env("RUST_LOG", "warn").stderr(Stdio::inherit());
        } else {
            command.stderr(Stdio::null());
        }
        configure(&mut command);
        let child = command.spawn().expect("serve starts");
        let client = reqwest::Client::builder()
            .timeout(Duration::from_secs(30))
            .build()
            .expect("an HTTP client");
        let mut node = Node {
            child,
            http: Http::new(format!("http://127.0.0.1:{port}"), client),
        };
        node.wait_until_ready().await;
        node
    }
}

/// A process's standard output, as text.
pub fn stdout(output: &Output) -> String {
    String::from_utf8_lossy(&output.stdout).into_owned()
}

/// A process's standard error, as text.
pub fn stderr(output: &Output) -> String {
    String::from_utf8_lossy(&output.stderr).into_owned()
}

/// A `pactum serve` process, killed (SIGKILL) on drop; dereferences to its
/// [`Http`] client.
pub struct Node {
    pub child: Child,
    http: Http,
}

impl Deref for Node {
    type Target = Http;

    fn deref(&self) -> &Http {
        &self.http
    }
}

impl Drop for Node {
    fn drop(&mut self) {
        self.kill();
    }
}

impl Node {
    /// Start-up work (migrations, catalogue seeding) may take a while on a big
    /// store: up to a minute.
    async fn wait_until_ready(&mut self) {
        let deadline = Instant::now() + Duration::from_secs(60);
        while Instant::now() < deadline {
            if let Ok(response) = self.client.get(self.url("/readyz")).send().await
                && response.status() == StatusCode::OK
            {
                return;
            }
            if let Ok(Some(status)) = self.child.try_wait() {
                panic!("pactum serve exited before it was ready: {status}");
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        panic!("pactum serve did not become ready");
    }

    /// SIGKILL: no shutdown, nothing flushed beyond what was committed.
    pub fn kill(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }

    /// The newest committed position, as `/readyz` reports it.
    pub async fn head(&self) -> u64 {
        let response = self
            .client
            .get(self.url("/readyz"))
            .send()
            .await
            .expect("the server answers");
        let body: Value = response.json().await.expect("a JSON body");
        body["head_position"].as_u64().expect("a head position")
    }

    /// The server's peak resident memory so far (Linux `VmHWM`), in MiB.
    pub fn peak_rss_mib(&self) -> Option<f64> {
        let status = std::fs::read_to_string(format!("/proc/{}/status", self.child.id())).ok()?;
        let line = status.lines().find(|l| l.starts_with("VmHWM:"))?;
        let kib: f64 = line.split_whitespace().nth(1)?.parse().ok()?;
        Some(kib / 1024.0)
    }
}
