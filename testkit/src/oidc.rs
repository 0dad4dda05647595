use std::io::{BufRead, BufReader};
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};

use serde_json::{Value, json};
use tempfile::TempDir;

use crate::free_port;

/// The client pactum is registered as at the test provider.
pub const CLIENT_ID: &str = "pactum";
pub const CLIENT_SECRET: &str = "a-test-client-secret";

/// A real OpenID provider (`oidc-provider` from the npm registry, pinned in
/// `tests/oidc/package.json`, installed by `scripts/test`) under the machine's
/// Node.js, on a free loopback port; stopped on drop. Its accounts carry
/// EGI-style claims (`voperson_id`, `email`, `eduperson_entitlement`, the last
/// from UserInfo only).
pub struct OidcProvider {
    pub port: u16,
    child: Child,
    _config: TempDir,
}

impl OidcProvider {
    /// Starts one whose client `pactum` may return to `redirect_uris`, with
    /// `accounts` (`{"sam": {"voperson_id": ..., "eduperson_entitlement": [...]}}`)
    /// and access tokens that live `access_token_ttl` seconds.
    pub fn start(redirect_uris: &[String], accounts: Value, access_token_ttl: u64) -> Self {
        let dir = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../tests/oidc");
        assert!(
            dir.join("node_modules/oidc-provider").exists(),
            "the test OpenID provider is not installed: scripts/test runs `npm ci` in tests/oidc"
        );
        let config = TempDir::new().expect("a temp dir");
        let path = config.path().join("config.json");
        let post_logout: Vec<String> = redirect_uris
            .iter()
            .filter_map(|uri| {
                uri.strip_suffix("/auth/callback")
                    .map(|base| format!("{base}/"))
            })
            .collect();
        std::fs::write(
            &path,
            json!({
                "client_id": CLIENT_ID,
                "client_secret": CLIENT_SECRET,
                "redirect_uris": redirect_uris,
                "post_logout_redirect_uris": post_logout,
                "accounts": accounts,
                "access_token_ttl": access_token_ttl,
            })
            .to_string(),
        )
        .expect("writes the provider's configuration");
        let port = free_port();
        let mut child = Command::new("node")
            .current_dir(&dir)
            .arg("provider.mjs")
            .arg(port.to_string())
            .arg(&path)
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .expect("node runs (the machine's Node.js; scripts/test installs it if missing)");
        let mut lines = BufReader::new(child.stdout.take().expect("piped")).lines();
        match lines.next() {
            Some(Ok(line)) if line.starts_with("ready ") => {}
            other => panic!("the test OpenID provider did not start: {other:?}"),
        }
        Self {
            port,
            child,
            _config: config,
        }
    }

    pub fn issuer(&self) -> String {
        format!("http://127.0.0.1:{}", self.port)
    }
}

impl Drop for OidcProvider {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}
