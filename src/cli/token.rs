//! `pactum token create | list | revoke`.

use std::process::ExitCode;

use clap::{Args, Subcommand};
use jiff::{SignedDuration, Timestamp};

use super::StorageArgs;
use crate::access::tokens::{self, IssueError, TokenRequest};
use crate::clock::{Clock, SystemClock};
use crate::execute::CommandMeta;

#[derive(Debug, Subcommand)]
pub enum TokenCommand {
    /// Mint a token. It is printed once, alone on the last line of standard
    /// output; only its SHA-256 is stored.
    Create(CreateArgs),
    /// List tokens (never the secrets).
    List(StorageArgs),
    /// Revoke a token by id; it stops working at once.
    Revoke(RevokeArgs),
}

#[derive(Debug, Args)]
pub struct CreateArgs {
    /// Who the token authenticates (user name, e-mail, OIDC subject).
    #[arg(long)]
    subject: String,
    /// customer, shifter, provider, auditor or admin.
    #[arg(long)]
    role: String,
    /// The customer's organisation (role customer).
    #[arg(long)]
    org: Option<String>,
    /// An order-type group the shifter works (role shifter; repeatable).
    #[arg(long = "group")]
    groups: Vec<String>,
    /// The resource provider (role provider).
    #[arg(long)]
    provider: Option<String>,
    /// Lifetime, e.g. 90d, 12h or P1Y (default: no expiry).
    #[arg(long)]
    expires_in: Option<String>,
    /// Where notification mail for this subject goes (default: the subject,
    /// if it is an e-mail address).
    #[arg(long)]
    email: Option<String>,
    #[command(flatten)]
    storage: StorageArgs,
}

#[derive(Debug, Args)]
pub struct RevokeArgs {
    /// The token id shown by `token create` and `token list` (tok_...).
    token_id: String,
    #[arg(long)]
    reason: Option<String>,
    #[command(flatten)]
    storage: StorageArgs,
}

const OPERATOR: &str = "pactum-cli";

pub async fn run(command: TokenCommand) -> Result<ExitCode, String> {
    match command {
        TokenCommand::Create(args) => create(args).await,
        TokenCommand::List(storage) => list(storage).await,
        TokenCommand::Revoke(args) => revoke(args).await,
    }
}

/// A token's lifetime from `now`: `90d`, `12h`, or ISO 8601 (`PT30M`, `P1Y`;
/// years and months count on the calendar from `now`, in UTC).
fn parse_lifetime(text: &str, now: Timestamp) -> Result<SignedDuration, String> {
    let text = text.trim();
    let days = text
        .strip_suffix('d')
        .and_then(|d| d.parse::<i64>().ok())
        .map(|d| SignedDuration::from_hours(d * 24));
    let parsed = days
        .or_else(|| text.parse::<SignedDuration>().ok())
        .or_else(|| {
            let span: jiff::Span = text.parse().ok()?;
            span.to_duration(&now.to_zoned(jiff::tz::TimeZone::UTC))
                .ok()
        });
    match parsed {
        Some(d) if d.is_positive() => Ok(d),
        _ => Err(format!("--expires-in {text:?}: use e.g. 90d, 12h or P1Y")),
    }
}

async fn create(args: CreateArgs) -> Result<ExitCode, String> {
    // A command-line tool has no manual clock: the machine's time.
    let now = SystemClock.now();
    let expires_at = args
        .expires_in
        .as_deref()
        .map(|text| parse_lifetime(text, now))
        .transpose()?
        .map(|d| now.saturating_add(d).expect("a duration in range"));
    let app = args.storage.open().await?;
    let request = TokenRequest {
        subject: args.subject,
        role: args.role,
        org: args.org,
        groups: args.groups,
        provider: args.provider,
        expires_at,
        email: args.email,
    };
    let result = tokens::issue(
        &app.store,
        &*app.catalogue().await.map_err(|e| e.to_string())?,
        &request,
        &CommandMeta::system(OPERATOR, app.now()),
    )
    .await;
    app.store.close().await;
    let issued = match result {
        Ok(issued) => issued,
        Err(IssueError::Invalid(errors)) => {
            for error in errors {
                // The request's field names, as this command's options.
                let option = match error.field.as_str() {
                    "groups" => "group",
                    "expires_at" => "expires-in",
                    other => other,
                };
                eprintln!("error: --{option}: {}", error.message);
            }
            return Ok(ExitCode::from(2));
        }
        Err(other) => return Err(other.to_string()),
    };
    eprintln!(
        "created token {} for {} ({}); it is shown once, store it now:",
        issued.token_id,
        issued.principal.subject,
        issued.principal.role_name(),
    );
    println!("{}", issued.token);
    Ok(ExitCode::SUCCESS)
}

async fn list(storage: StorageArgs) -> Result<ExitCode, String> {
    let app = storage.open().await?;
    let rows = tokens::list(app.store.reader())
        .await
        .map_err(|e| e.to_string())?;
    println!("TOKEN_ID\tSUBJECT\tROLE\tSCOPE\tISSUED\tEXPIRES\tSTATUS");
    let show = |us: Option<i64>| {
        us.and_then(|us| Timestamp::from_microsecond(us).ok())
            .map_or("-".to_owned(), |t| {
                t.strftime("%Y-%m-%dT%H:%M:%SZ").to_string()
            })
    };
    let now = SystemClock.now().as_microsecond();
    for row in rows {
        let status = match (row.revoked_at, row.expires_at) {
            (Some(_), _) => "revoked",
            (None, Some(expires)) if expires <= now => "expired",
            _ => "active",
        };
        println!(
            "{}\t{}\t{}\t{}\t{}\t{}\t{}",
            row.token_id,
            row.subject,
            row.role,
            if row.scope.is_empty() {
                "-"
            } else {
                &row.scope
            },
            show(Some(row.issued_at)),
            show(row.expires_at),
            status
        );
    }
    app.store.close().await;
    Ok(ExitCode::SUCCESS)
}

async fn revoke(args: RevokeArgs) -> Result<ExitCode, String> {
    let app = args.storage.open().await?;
    let result = tokens::revoke(
        &app.store,
        &args.token_id,
        args.reason,
        &CommandMeta::system(OPERATOR, app.now()),
    )
    .await;
    app.store.close().await;
    result.map_err(|e| format!("{}: {e}", args.token_id))?;
    eprintln!("revoked {}", args.token_id);
    Ok(ExitCode::SUCCESS)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lifetimes() {
        let now: Timestamp = "2027-01-01T00:00:00Z".parse().unwrap();
        assert_eq!(
            parse_lifetime("90d", now).unwrap(),
            SignedDuration::from_hours(90 * 24)
        );
        assert_eq!(
            parse_lifetime("12h", now).unwrap(),
            SignedDuration::from_hours(12)
        );
        assert_eq!(
            parse_lifetime("PT30M", now).unwrap(),
            SignedDuration::from_mins(30)
        );
        // A year on the calendar: 365 days from 2027, 366 across 29 February 2028.
        assert_eq!(
            parse_lifetime("P1Y", now).unwrap(),
            SignedDuration::from_hours(365 * 24)
        );
        let leap: Timestamp = "2028-01-01T00:00:00Z".parse().unwrap();
        assert_eq!(
            parse_lifetime("P1Y", leap).unwrap(),
            SignedDuration::from_hours(366 * 24)
        );
        assert!(parse_lifetime("-1d", now).is_err());
        assert!(parse_lifetime("P0D", now).is_err());
        assert!(parse_lifetime("soon", now).is_err());
    }
}
