//! pactum as an order management system (OMS) of the EOSC Marketplace
//! (`docs/adr/0020`): project items ordered in the Marketplace become pactum
//! orders, and what happens to an order in pactum goes back to its item.
//!
//! Start at [`sync::Sync::pass`], one pass of the adapter:
//!
//! 1. **Pull** the Marketplace's events feed from the cursor
//!    (`GET /oms/{id}/events`): a new project item becomes an order
//!    ([`mapping`]) or is answered with an internal message naming what is
//!    missing; a customer's public message becomes a public comment on its
//!    order, or the answer to its open question.
//! 2. **Follow** pactum's log from where it was followed to: each event of an
//!    order that came from an item plans what to tell the Marketplace
//!    ([`outbound`]): the item's status, the staff's public words.
//! 3. **Push** the plans, per item in order; one that fails waits with
//!    doubling backoff while the others go on.
//!
//! Everything the adapter must not do twice is an event of the `eosc`
//! aggregate ([`ledger`]): the feed's cursor, each item's order (appended
//! with the order's submission), each imported message (with its comment),
//! each push (keyed by the order event that caused it) and how far the log
//! was followed. A restart resumes from them; a repeated page of the feed or
//! a re-read stretch of the log finds them done.
//!
//! [`client`] speaks the Marketplace's Ordering API. `pactum serve
//! --eosc-url URL --eosc-oms-id N` runs [`sync::run`] beside the server
//! (woken by `POST /v1/integrations/eosc/trigger`, the poll interval, the
//! log moving, a retry falling due); `pactum eosc sync` runs one pass.

pub mod client;
pub mod ledger;
pub mod mapping;
pub mod outbound;
pub mod sync;

use std::sync::{Arc, Mutex};
use std::time::Duration;

use jiff::Timestamp;
use sha2::{Digest, Sha256};
use tokio::sync::Notify;

pub use mapping::Mapping;

/// How long the Marketplace is left alone between polls of its events feed
/// when nothing wakes the sync (`--eosc-poll`).
pub const DEFAULT_POLL: Duration = Duration::from_secs(10);

/// The first wait before a failed push is tried again; it doubles up to
/// [`RETRY_MAX`].
pub const RETRY_MIN: Duration = Duration::from_secs(1);
pub const RETRY_MAX: Duration = Duration::from_secs(300);

/// The sender of the messages pactum posts, unless configured.
pub const DEFAULT_AUTHOR_EMAIL: &str = "oms@pactum.invalid";

/// Where the Marketplace is and how pactum acts as its OMS.
#[derive(Clone, Debug)]
pub struct EoscConfig {
    /// The Marketplace's root URL (`/api/v1/...` is appended).
    pub url: String,
    /// The OMS id the Marketplace gave pactum.
    pub oms_id: String,
    /// The OMS user's token (`X-User-Token`).
    pub token: Secret,
    pub mapping: Mapping,
    /// How often the events feed is read when nothing wakes the sync.
    pub poll_every: Duration,
    /// The credentials the Marketplace's trigger calls carry (HTTP Basic);
    /// without them `POST /v1/integrations/eosc/trigger` is not served.
    pub trigger: Option<Credentials>,
    /// The e-mail address of the messages pactum posts (role `mediator`).
    pub author_email: String,
    pub retry_min: Duration,
    pub retry_max: Duration,
}

impl EoscConfig {
    pub fn new(
        url: impl Into<String>,
        oms_id: impl Into<String>,
        token: impl Into<String>,
    ) -> Self {
        Self {
            url: url.into(),
            oms_id: oms_id.into(),
            token: Secret(token.into()),
            mapping: Mapping::none(),
            poll_every: DEFAULT_POLL,
            trigger: None,
            author_email: DEFAULT_AUTHOR_EMAIL.to_owned(),
            retry_min: RETRY_MIN,
            retry_max: RETRY_MAX,
        }
    }
}

/// A value never shown in logs or `Debug`.
#[derive(Clone, PartialEq, Eq)]
pub struct Secret(pub String);

impl std::fmt::Debug for Secret {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("<secret>")
    }
}

/// A user and password of HTTP Basic.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Credentials {
    pub user: String,
    pub password: Secret,
}

impl Credentials {
    pub fn new(user: impl Into<String>, password: impl Into<String>) -> Self {
        Self {
            user: user.into(),
            password: Secret(password.into()),
        }
    }

    /// Whether `user` and `password` are these, compared in constant time
    /// (the digests of both, byte by byte, to the end).
    pub fn admit(&self, user: &str, password: &str) -> bool {
        let digest = |user: &str, password: &str| {
            let mut hasher = Sha256::new();
            hasher.update((user.len() as u64).to_be_bytes());
            hasher.update(user.as_bytes());
            hasher.update(password.as_bytes());
            hasher.finalize()
        };
        let (given, expected) = (digest(user, password), digest(&self.user, &self.password.0));
        given
            .iter()
            .zip(expected.iter())
            .fold(0u8, |differ, (a, b)| differ | (a ^ b))
            == 0
    }
}

/// A push waiting to be delivered, as the console and metrics show it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PendingPush {
    /// `project_id/project_item_id`.
    pub item: String,
    pub order_id: String,
    /// `status` or `message`.
    pub kind: &'static str,
    /// The position of the order event that caused it.
    pub cause: u64,
    /// Failed attempts so far.
    pub attempts: u32,
    pub last_error: Option<String>,
}

/// What the sync did last, for the console.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct SyncStatus {
    /// When the last pass ended.
    pub last_pass: Option<Timestamp>,
    /// Why the last pass failed, if it did.
    pub last_error: Option<String>,
    pub pending: Vec<PendingPush>,
    /// Items that became orders, and items that could not.
    pub linked: usize,
    pub unmapped: usize,
}

/// The running sync, as the rest of the server reaches it: wake it (the
/// trigger), check the trigger's credentials, read its status.
#[derive(Clone, Debug)]
pub struct EoscHandle {
    inner: Arc<Inner>,
}

#[derive(Debug)]
struct Inner {
    url: String,
    oms_id: String,
    trigger: Option<Credentials>,
    wake: Notify,
    status: Mutex<SyncStatus>,
}

/// What a trigger call's credentials are.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Trigger {
    /// No trigger credentials are configured: the endpoint is not served.
    Off,
    Refused,
    Admitted,
}

impl EoscHandle {
    pub fn new(config: &EoscConfig) -> Self {
        Self {
            inner: Arc::new(Inner {
                url: config.url.clone(),
                oms_id: config.oms_id.clone(),
                trigger: config.trigger.clone(),
                wake: Notify::new(),
                status: Mutex::new(SyncStatus::default()),
            }),
        }
    }

    pub fn url(&self) -> &str {
        &self.inner.url
    }

    pub fn oms_id(&self) -> &str {
        &self.inner.oms_id
    }

    /// Asks the sync to read the Marketplace's events now.
    pub fn wake(&self) {
        self.inner.wake.notify_one();
    }

    pub(crate) async fn woken(&self) {
        self.inner.wake.notified().await;
    }

    /// Checks a trigger call's HTTP Basic credentials (`None`: none sent).
    pub fn check_trigger(&self, basic: Option<(&str, &str)>) -> Trigger {
        match (&self.inner.trigger, basic) {
            (None, _) => Trigger::Off,
            (Some(expected), Some((user, password))) if expected.admit(user, password) => {
                Trigger::Admitted
            }
            (Some(_), _) => Trigger::Refused,
        }
    }

    pub fn status(&self) -> SyncStatus {
        self.lock().clone()
    }

    pub(crate) fn update(&self, change: impl FnOnce(&mut SyncStatus)) {
        change(&mut self.lock());
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, SyncStatus> {
        self.inner
            .status
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn trigger_credentials_must_match_whole() {
        let credentials = Credentials::new("marketplace", "s3cret");
        assert!(credentials.admit("marketplace", "s3cret"));
        for (user, password) in [
            ("marketplace", "s3cre"),
            ("marketplace", "s3cret "),
            ("marketplac", "es3cret"),
            ("", ""),
        ] {
            assert!(!credentials.admit(user, password), "{user}:{password}");
        }
        let mut config = EoscConfig::new("http://x", "1", "t");
        assert_eq!(EoscHandle::new(&config).check_trigger(None), Trigger::Off);
        config.trigger = Some(credentials);
        let handle = EoscHandle::new(&config);
        assert_eq!(handle.check_trigger(None), Trigger::Refused);
        assert_eq!(
            handle.check_trigger(Some(("marketplace", "s3cret"))),
            Trigger::Admitted
        );
    }

    #[test]
    fn secrets_stay_out_of_debug_output() {
        let config = EoscConfig::new("http://x", "1", "token-value");
        assert!(!format!("{config:?}").contains("token-value"));
    }
}
