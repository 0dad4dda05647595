//! The console in a real browser: `tests/browser/console.mjs` drives Debian's
//! chromium (playwright-core, no downloaded browser) through pactum signed in at
//! a real OpenID provider, and measures every page with axe-core. A shifter
//! finds a new order at the top of the queue without reloading, comments
//! internally and approves by keyboard; a customer makes a typed mistake, sees
//! it at its field, orders, and downloads the SLA; a provider marks its step
//! done; an auditor opens an order as it was yesterday, the log and the report;
//! an admin adds a shifter to a group. Screenshots are kept in
//! `target/browser-artifacts/`.

use std::sync::Arc;

use pactum::clock::ManualClock;
use pactum::signin::{OidcConfig, RoleMap};
use pactum::startup::ClockConfig;
use pactum_testkit::{CLIENT_ID, CLIENT_SECRET, OidcProvider, free_port};
use serde_json::json;

use crate::backend::{Backend, backend};
use crate::helpers::*;

#[tokio::test]
async fn the_console_works_in_a_real_browser_for_every_role() {
    // One run is enough: the store behind the pages is the API's, tested on both.
    if backend() == Backend::Postgres {
        return;
    }
    let root = std::path::PathBuf::from(env!("CARGO_MANIFEST_DIR"));
    let scripts = root.join("tests/browser");
    assert!(
        scripts.join("node_modules/playwright-core").exists(),
        "the browser tests are not installed: scripts/test runs `npm ci` in tests/browser"
    );
    let chromium = std::env::var("CHROMIUM").unwrap_or_else(|_| "/usr/bin/chromium".into());
    assert!(
        std::path::Path::new(&chromium).exists(),
        "chromium is not installed (Debian package chromium; scripts/test installs it)"
    );
    let port = free_port();
    let public = format!("http://127.0.0.1:{port}");
    let entitled = |subject: &str, entitlement: &str| {
        json!({"voperson_id": format!("{subject}@egi.eu"), "email": format!("{subject}@example.org"),
               "eduperson_entitlement": [format!("{entitlement}#aai.egi.eu")]})
    };
    let provider = OidcProvider::start(
        &[format!("{public}/auth/callback")],
        json!({
            "sam": entitled("sam", "urn:mace:egi.eu:group:ops.egi.eu:compute:role=shifter"),
            "carol": entitled("carol", "urn:mace:egi.eu:group:acme:role=member"),
            "olga": entitled("olga", "urn:mace:egi.eu:group:ops.egi.eu:providers:cesnet-mcc:role=operator"),
            "audrey": entitled("audrey", "urn:mace:egi.eu:group:ops.egi.eu:role=auditor"),
            "ada": entitled("ada", "urn:mace:egi.eu:group:ops.egi.eu:role=admin"),
        }),
        3600,
    );
    let app = spawn_app_with(Options {
        clock: ClockConfig::Manual(Arc::new(ManualClock::starting_at(jiff::Timestamp::now()))),
        listen: Some(format!("127.0.0.1:{port}")),
        signin: Some(OidcConfig {
            issuer: provider.issuer(),
            client_id: CLIENT_ID.into(),
            client_secret: Some(CLIENT_SECRET.into()),
            public_url: public.clone(),
            roles: RoleMap::shipped(),
        }),
        ..Options::default()
    })
    .await;
    let shifter = app.shifter("sam-api", &["compute"]).await;
    let customer = app.customer("alice", "acme").await;
    let admin = app.role("ada", "admin").await;
    let artifacts = root.join("target/browser-artifacts");
    let output = tokio::process::Command::new("node")
        .arg("console.mjs")
        .current_dir(&scripts)
        .env("PACTUM_URL", &public)
        .env("OIDC_ISSUER", provider.issuer())
        .env("SHIFTER_TOKEN", &shifter)
        .env("CUSTOMER_TOKEN", &customer)
        .env("ADMIN_TOKEN", &admin)
        .env("ARTIFACTS", &artifacts)
        .env("CHROMIUM", &chromium)
        .output()
        .await
        .expect("node runs");
    let stdout = String::from_utf8_lossy(&output.stdout);
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(output.status.success(), "{stdout}\n{stderr}");
    assert!(stdout.contains("pages measured by axe-core"), "{stdout}");
}
