use std::process::{Child, Command, Stdio};

use tempfile::TempDir;

use crate::{free_port, wait_for_port};

/// A nats-server with JetStream, storing in a throwaway directory. Stopped (and
/// its directory removed) on drop; [`Nats::stop`] and [`Nats::start`] restart it
/// on the same port and data.
pub struct Nats {
    dir: TempDir,
    port: u16,
    child: Option<Child>,
}

impl Nats {
    pub fn start() -> Self {
        let mut nats = Self {
            dir: TempDir::new().expect("a temp dir"),
            port: free_port(),
            child: None,
        };
        nats.restart();
        nats
    }

    pub fn url(&self) -> String {
        format!("nats://127.0.0.1:{}", self.port)
    }

    /// Kills the server (SIGKILL: nothing flushed).
    pub fn stop(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }

    /// Starts it again (after [`Nats::stop`]) on the same port and store.
    pub fn restart(&mut self) {
        self.stop();
        let child = Command::new(binary())
            .args([
                "-js",
                "-a",
                "127.0.0.1",
                "-p",
                &self.port.to_string(),
                "-sd",
            ])
            .arg(self.dir.path())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("nats-server runs (Debian package nats-server; scripts/test installs it)");
        self.child = Some(child);
        wait_for_port(self.port, "nats-server");
    }
}

impl Drop for Nats {
    fn drop(&mut self) {
        self.stop();
    }
}

fn binary() -> &'static str {
    if std::path::Path::new("/usr/sbin/nats-server").exists() {
        "/usr/sbin/nats-server"
    } else {
        "nats-server"
    }
}
