//! Sends the outbox: a task of `pactum serve` that wakes when the log moves and
//! when the next retry falls due, claims each due mail (a compare-and-set through
//! the writer, so two nodes never both send one), sends it, and records the
//! outcome. A failure is retried after 5 s, doubling up to an hour, and given up
//! after [`MAX_ATTEMPTS`]. Delivery runs on the server's one clock, like every
//! timer: under `serve --manual-clock` a retry falls due when the clock is moved
//! past it.

use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use jiff::Timestamp;
use lettre::message::header::{ContentTransferEncoding, ContentType};
use lettre::message::{Body, Mailbox, Message};
use lettre::transport::smtp::AsyncSmtpTransport;
use lettre::{AsyncTransport, Tokio1Executor};
use tokio_util::sync::CancellationToken;

use super::queries::{self, Mail};
use crate::clock::Clock;
use crate::store::{AppendError, EventStore, StoreError};

/// The `From:` address unless `--mail-from` says otherwise.
pub const DEFAULT_FROM: &str = "pactum@localhost";

/// Attempts before a mail is marked failed.
pub const MAX_ATTEMPTS: i64 = 10;

/// How long a claimed mail is someone's before another node may try it.
const LEASE: Duration = Duration::from_secs(60);

/// The least time between rounds woken by commits.
const COMMIT_RECHECK: Duration = Duration::from_millis(250);

/// Mails handled per round.
const ROUND: i64 = 50;

/// Where mail goes.
#[derive(Clone, Debug)]
pub enum Transport {
    /// `.eml` files (RFC 5322) written into this directory.
    Files(PathBuf),
    /// An SMTP server, `smtp://host:port` (plain, as a local relay speaks).
    Smtp { host: String, port: u16 },
}

#[derive(Clone, Debug)]
pub struct MailConfig {
    pub transport: Transport,
    /// The `From:` address.
    pub from: String,
    /// The wait after a first failure (then doubling, at most an hour).
    pub retry_after: Duration,
}

impl MailConfig {
    /// SMTP when `smtp_url` is given, files in `dir` otherwise.
    pub fn new(smtp_url: Option<&str>, dir: PathBuf, from: &str) -> Result<Self, String> {
        from.parse::<Mailbox>()
            .map_err(|e| format!("--mail-from {from:?}: {e}"))?;
        let transport = match smtp_url {
            None => Transport::Files(dir),
            Some(url) => {
                let rest = url
                    .strip_prefix("smtp://")
                    .ok_or_else(|| format!("--smtp-url {url:?}: use smtp://host:port"))?;
                let (host, port) = rest
                    .trim_end_matches('/')
                    .rsplit_once(':')
                    .unwrap_or((rest, "25"));
                let port = port
                    .parse()
                    .map_err(|_| format!("--smtp-url {url:?}: bad port"))?;
                Transport::Smtp {
                    host: host.to_owned(),
                    port,
                }
            }
        };
        Ok(Self {
            transport,
            from: from.to_owned(),
            retry_after: Duration::from_secs(5),
        })
    }
}

/// Why a round of delivery stopped (it is tried again later).
#[derive(Debug, thiserror::Error)]
pub enum DeliveryError {
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error(transparent)]
    Append(#[from] AppendError),
}

/// Runs until cancelled (see [`crate::timers`]): a round when the log moves (at
/// most every [`COMMIT_RECHECK`]), when the next retry falls due, and when a
/// manual clock jumps.
pub async fn run(
    store: EventStore,
    clock: Arc<dyn Clock>,
    config: MailConfig,
    cancel: CancellationToken,
) {
    crate::timers::run_rechecking(
        &store,
        clock.as_ref(),
        cancel,
        "mail delivery",
        COMMIT_RECHECK,
        || {
            let (store, clock, config) = (store.clone(), clock.clone(), config.clone());
            async move { round(&store, clock.as_ref(), &config).await }
        },
    )
    .await
}

/// Delivers what is due; returns when the next mail falls due.
pub async fn round(
    store: &EventStore,
    clock: &dyn Clock,
    config: &MailConfig,
) -> Result<Option<Timestamp>, DeliveryError> {
    let due = queries::due(store, clock.now(), ROUND).await?;
    for mail in &due {
        if !claim(store, clock, mail).await? {
            continue;
        }
        let outcome = send(config, mail).await;
        record(store, clock, config, mail, outcome).await?;
    }
    if due.len() as i64 == ROUND {
        return Ok(Some(clock.now()));
    }
    Ok(queries::next_due(store).await?)
}

/// Takes the mail for [`LEASE`], unless another delivery took it first.
async fn claim(store: &EventStore, clock: &dyn Clock, mail: &Mail) -> Result<bool, DeliveryError> {
    let (id, seen) = (mail.id.clone(), mail.next_attempt_at);
    let until = clock.now().as_microsecond() + LEASE.as_micros() as i64;
    let claimed = store
        .write(move |conn| Box::pin(async move { queries::claim(conn, &id, seen, until).await }))
        .await??;
    Ok(claimed)
}

/// Records a delivery, a retry, or giving up.
async fn record(
    store: &EventStore,
    clock: &dyn Clock,
    config: &MailConfig,
    mail: &Mail,
    outcome: Result<(), String>,
) -> Result<(), DeliveryError> {
    let id = mail.id.clone();
    let attempts = mail.attempts + 1;
    let retry_after = config.retry_after;
    let now = clock.now().as_microsecond();
    store
        .write(move |conn| {
            Box::pin(async move {
                match outcome {
                    Ok(()) => queries::delivered(conn, &id, now).await,
                    Err(error) => {
                        tracing::warn!(mail = %id, attempts, %error, "mail not delivered");
                        let (status, next) = if attempts >= MAX_ATTEMPTS {
                            ("failed", None)
                        } else {
                            let wait = backoff(retry_after, attempts);
                            ("pending", Some(now + wait.as_micros() as i64))
                        };
                        queries::failed_attempt(conn, &id, status, next, &error).await
                    }
                }
            })
        })
        .await??;
    Ok(())
}

/// `first` after the first failure, doubling, at most an hour.
pub fn backoff(first: Duration, attempts: i64) -> Duration {
    let doublings = u32::try_from(attempts.saturating_sub(1).clamp(0, 20)).unwrap_or(20);
    first
        .saturating_mul(2u32.saturating_pow(doublings))
        .min(Duration::from_secs(3600))
}

/// The mail as a message.
fn message(config: &MailConfig, mail: &Mail) -> Result<Message, String> {
    let from: Mailbox = config.from.parse().map_err(|e| format!("from: {e}"))?;
    let to: Mailbox = mail
        .recipient
        .parse()
        .map_err(|e| format!("to {:?}: {e}", mail.recipient))?;
    let date = Timestamp::from_microsecond(mail.created_at).unwrap_or(Timestamp::UNIX_EPOCH);
    let builder = Message::builder()
        .from(from)
        .to(to)
        .subject(&mail.subject_line)
        .message_id(Some(format!("<{}@pactum>", mail.id)))
        .date(std::time::SystemTime::from(date))
        .header(ContentType::TEXT_PLAIN);
    // 8bit keeps the text readable in an .eml file; lines too long for it (the
    // outbox wraps at 76, but a long word may remain) go quoted-printable.
    match Body::new_with_encoding(mail.body.clone(), ContentTransferEncoding::EightBit) {
        Ok(body) => builder.body(body),
        Err(_) => builder.body(mail.body.clone()),
    }
    .map_err(|e| e.to_string())
}

async fn send(config: &MailConfig, mail: &Mail) -> Result<(), String> {
    let message = message(config, mail)?;
    match &config.transport {
        Transport::Files(dir) => {
            let dir = dir.clone();
            let name = format!("{}.eml", mail.id);
            let bytes = message.formatted();
            tokio::task::spawn_blocking(move || -> std::io::Result<()> {
                std::fs::create_dir_all(&dir)?;
                // Written whole or not at all: a reader never sees half a mail.
                let temp = dir.join(format!(".{name}.tmp"));
                std::fs::write(&temp, &bytes)?;
                std::fs::rename(&temp, dir.join(&name))
            })
            .await
            .map_err(|e| e.to_string())?
            .map_err(|e| e.to_string())
        }
        Transport::Smtp { host, port } => {
            let transport = AsyncSmtpTransport::<Tokio1Executor>::builder_dangerous(host.as_str())
                .port(*port)
                .timeout(Some(Duration::from_secs(20)))
                .build();
            transport
                .send(message)
                .await
                .map(drop)
                .map_err(|e| e.to_string())
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn retries_back_off_from_five_seconds_to_an_hour() {
        let first = Duration::from_secs(5);
        assert_eq!(backoff(first, 1), Duration::from_secs(5));
        assert_eq!(backoff(first, 2), Duration::from_secs(10));
        assert_eq!(backoff(first, 5), Duration::from_secs(80));
        assert_eq!(backoff(first, 30), Duration::from_secs(3600));
    }

    #[test]
    fn smtp_urls_and_senders_are_checked() {
        let config = MailConfig::new(
            Some("smtp://127.0.0.1:2525"),
            "x".into(),
            "pactum@localhost",
        )
        .unwrap();
        assert!(
            matches!(config.transport, Transport::Smtp { ref host, port: 2525 } if host == "127.0.0.1")
        );
        assert!(MailConfig::new(Some("http://x"), "x".into(), "pactum@localhost").is_err());
        assert!(MailConfig::new(None, "x".into(), "not an address").is_err());
    }
}
