//! `pactum import-legacy`: bringing the replaced system's orders over, losslessly.
//!
//! Input is either one legacy order string a line (the customer given on the
//! command line) or a CSV export with a header naming the columns for organisation,
//! subject, original submission time and the order string. Every row is checked
//! before anything is written; one bad row stores nothing and every bad row is
//! reported with its line. Each row carries an idempotency key derived from its
//! content, so running the same import again — after a crash, say — adds nothing.

use std::collections::HashMap;

use jiff::Timestamp;
use jiff::civil::{Date, DateTime};
use jiff::tz::TimeZone;
use pactum_events::order::{Customer, OrderSource};
use sha2::{Digest, Sha256};

use crate::catalogue::Catalogue;
use crate::execute::{self, CommandMeta, Idempotency, Loaded};
use crate::orders::aggregate::Order;
use crate::orders::commands::{NewOrder, OrderAction, OrderCommand};
use crate::orders::service;
use crate::runner::Effect;
use crate::store::{AppendError, AppendOutcome, EventStore};
use crate::validation::{self, FieldError};

/// The subject that imports record as their actor.
pub const IMPORTER: &str = "import-legacy";

/// How many orders are committed together.
const CHUNK: usize = 500;

/// One order to import, as read from the file.
#[derive(Clone, Debug, PartialEq)]
pub struct ImportRow {
    pub line: u64,
    pub org: String,
    pub subject: String,
    /// The original submission time, if the file has one.
    pub submitted_at: Option<Timestamp>,
    pub raw: String,
}

/// A problem with one line of the input.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct LineError {
    pub line: u64,
    pub error: FieldError,
}

impl std::fmt::Display for LineError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "line {}: {}", self.line, self.error)
    }
}

/// The customer for rows that do not name one.
#[derive(Clone, Debug, Default)]
pub struct Defaults {
    pub org: Option<String>,
    pub subject: Option<String>,
}

/// Reads one legacy order string a line; blank lines and `#` comments are skipped.
pub fn read_lines(content: &str, defaults: &Defaults) -> Result<Vec<ImportRow>, Vec<LineError>> {
    let mut errors = Vec::new();
    let customer = match (&defaults.org, &defaults.subject) {
        (Some(org), Some(subject)) => Some((org.clone(), subject.clone())),
        _ => {
            errors.push(LineError {
                line: 0,
                error: FieldError::new(
                    "customer",
                    "--org and --subject are required for a file of order strings",
                ),
            });
            None
        }
    };
    let rows = content
        .lines()
        .enumerate()
        .filter(|(_, line)| !line.trim().is_empty() && !line.trim_start().starts_with('#'))
        .filter_map(|(index, line)| {
            let (org, subject) = customer.clone()?;
            Some(ImportRow {
                line: index as u64 + 1,
                org,
                subject,
                submitted_at: None,
                raw: line.trim_end_matches('\r').to_owned(),
            })
        })
        .collect();
    if errors.is_empty() {
        Ok(rows)
    } else {
        Err(errors)
    }
}

/// Reads a CSV export with a header row. Recognised column names (any case):
/// org / organisation / organization; subject / customer / reporter;
/// submitted_at / created_at / created / submitted; order / legacy_order / string /
/// so-1-legacy. Organisation and subject fall back to `defaults`.
pub fn read_csv(content: &str, defaults: &Defaults) -> Result<Vec<ImportRow>, Vec<LineError>> {
    let mut reader = csv::ReaderBuilder::new()
        .flexible(false)
        .from_reader(content.as_bytes());
    let header_error = |message: String| {
        vec![LineError {
            line: 1,
            error: FieldError::new("header", message),
        }]
    };
    let headers = reader
        .headers()
        .map_err(|e| header_error(e.to_string()))?
        .clone();
    let find = |names: &[&str]| {
        headers
            .iter()
            .position(|h| names.iter().any(|n| h.trim().eq_ignore_ascii_case(n)))
    };
    let org_col = find(&["org", "organisation", "organization"]);
    let subject_col = find(&["subject", "customer", "reporter"]);
    let time_col = find(&["submitted_at", "created_at", "created", "submitted"]);
    let Some(order_col) = find(&["order", "legacy_order", "string", "so-1-legacy"]) else {
        return Err(header_error(format!(
            "no order column (name one of order, legacy_order, string, so-1-legacy); found: {}",
            headers.iter().collect::<Vec<_>>().join(", ")
        )));
    };
    let mut rows = Vec::new();
    let mut errors = Vec::new();
    for record in reader.records() {
        let record = match record {
            Ok(record) => record,
            Err(e) => {
                let line = e.position().map_or(0, |p| p.line());
                errors.push(LineError {
                    line,
                    error: FieldError::new("csv", e.to_string()),
                });
                continue;
            }
        };
        let line = record.position().map_or(0, |p| p.line());
        let mut row_error = |field: &str, message: String| {
            errors.push(LineError {
                line,
                error: FieldError::new(field, message),
            })
        };
        let cell = |col: Option<usize>| {
            col.and_then(|c| record.get(c))
                .map(str::trim)
                .filter(|v| !v.is_empty())
                .map(str::to_owned)
        };
        let org = cell(org_col).or_else(|| defaults.org.clone());
        let subject = cell(subject_col).or_else(|| defaults.subject.clone());
        let submitted_at = match cell(time_col) {
            Some(text) => match parse_time(&text) {
                Ok(at) => Some(at),
                Err(message) => {
                    row_error("submitted_at", message);
                    None
                }
            },
            None => None,
        };
        let raw = record.get(order_col).unwrap_or_default().to_owned();
        match (org, subject) {
            (Some(org), Some(subject)) => rows.push(ImportRow {
                line,
                org,
                subject,
                submitted_at,
                raw,
            }),
            (org, _) => row_error(
                if org.is_none() { "org" } else { "subject" },
                "missing: add the column or pass --org / --subject".into(),
            ),
        }
    }
    if errors.is_empty() {
        Ok(rows)
    } else {
        Err(errors)
    }
}

/// Submission times as exports write them: RFC 3339, `YYYY-MM-DD HH:MM[:SS]` and
/// `YYYY-MM-DD` (UTC), and JIRA's `02/Dec/19 10:15 AM` (UTC).
pub fn parse_time(text: &str) -> Result<Timestamp, String> {
    if let Ok(at) = text.parse::<Timestamp>() {
        return Ok(at);
    }
    let utc = |dt: DateTime| dt.to_zoned(TimeZone::UTC).map(|z| z.timestamp());
    for format in [
        "%Y-%m-%d %H:%M:%S",
        "%Y-%m-%d %H:%M",
        "%Y-%m-%dT%H:%M:%S",
        "%d/%b/%y %I:%M %p",
    ] {
        if let Ok(dt) = DateTime::strptime(format, text) {
            return utc(dt).map_err(|e| e.to_string());
        }
    }
    if let Ok(date) = Date::strptime("%Y-%m-%d", text) {
        return utc(date.to_datetime(jiff::civil::Time::midnight())).map_err(|e| e.to_string());
    }
    Err(format!(
        "unreadable time {text:?}: use RFC 3339, YYYY-MM-DD HH:MM:SS (UTC) or 02/Dec/19 10:15 AM"
    ))
}

/// A row checked against the catalogue, ready to append.
pub struct Prepared {
    pub row: ImportRow,
    pub order: NewOrder,
    idempotency_key: String,
}

/// Checks every row; any error means nothing will be imported.
pub fn prepare(
    catalogue: &Catalogue,
    rows: Vec<ImportRow>,
    file_name: &str,
    now: Timestamp,
) -> Result<Vec<Prepared>, Vec<LineError>> {
    let mut errors = Vec::new();
    let mut prepared = Vec::with_capacity(rows.len());
    let mut occurrences: HashMap<String, u32> = HashMap::new();
    for row in rows {
        let mut line_errors = Vec::new();
        let org = validation::identifier("org", &row.org).map_err(|e| line_errors.push(e));
        let subject = validation::subject("subject", &row.subject).map_err(|e| line_errors.push(e));
        let source = OrderSource::LegacyImport {
            raw: row.raw.clone(),
            file: file_name.to_owned(),
            line: row.line,
        };
        let order = match (org, subject) {
            (Ok(org), Ok(subject)) => service::prepare_legacy(
                catalogue,
                Customer { org, subject },
                &row.raw,
                source,
                row.submitted_at.unwrap_or(now),
            )
            .map_err(|e| line_errors.extend(e))
            .ok(),
            _ => None,
        };
        match order {
            Some(order) if line_errors.is_empty() => {
                let identity = format!(
                    "{}\u{1f}{}\u{1f}{:?}\u{1f}{}",
                    row.org, row.subject, row.submitted_at, row.raw
                );
                let seen = occurrences.entry(identity.clone()).or_default();
                *seen += 1;
                let key = hex::encode(Sha256::digest(format!("{identity}\u{1f}{seen}")));
                prepared.push(Prepared {
                    row,
                    order,
                    idempotency_key: key,
                });
            }
            _ => errors.extend(line_errors.into_iter().map(|error| LineError {
                line: row.line,
                error,
            })),
        }
    }
    if errors.is_empty() {
        Ok(prepared)
    } else {
        Err(errors)
    }
}

/// What an import did.
#[derive(Debug, Default, PartialEq, Eq)]
pub struct ImportSummary {
    /// (line, order id) of each order created now.
    pub imported: Vec<(u64, String)>,
    /// (line, order id) of rows an earlier run had imported already.
    pub already_imported: Vec<(u64, String)>,
}

/// Appends prepared orders in chunks, calling `progress` with the number done.
pub async fn import(
    store: &EventStore,
    prepared: Vec<Prepared>,
    now: Timestamp,
    mut progress: impl FnMut(usize),
) -> Result<ImportSummary, AppendError> {
    let correlation = uuid::Uuid::now_v7().to_string();
    let mut summary = ImportSummary::default();
    let mut done = 0;
    for chunk in prepared.chunks(CHUNK) {
        let mut requests = Vec::with_capacity(chunk.len());
        for item in chunk {
            let meta = CommandMeta {
                correlation_id: correlation.clone(),
                idempotency: Some(Idempotency {
                    key: item.idempotency_key.clone(),
                    request_hash: item.idempotency_key.clone(),
                }),
                ..CommandMeta::system(IMPORTER, now)
            };
            let loaded = Loaded::<Order>::fresh(item.order.order_id.clone());
            let command = OrderCommand {
                by: meta.principal.clone(),
                at: now,
                action: OrderAction::Submit(Box::new(item.order.clone())),
            };
            let (events, _) = execute::decide(&loaded, command, &())
                .await
                .expect("the importer may submit any valid order");
            let body = serde_json::json!({ "order_id": item.order.order_id }).to_string();
            requests.push(execute::append_request(
                &loaded,
                &events,
                &meta,
                Some((Effect::Created, body)),
            ));
        }
        let outcomes = store.append_all(requests).await?;
        for (item, outcome) in chunk.iter().zip(outcomes) {
            match outcome {
                AppendOutcome::Committed(_) => summary
                    .imported
                    .push((item.row.line, item.order.order_id.clone())),
                AppendOutcome::Replayed(stored) => {
                    let id = serde_json::from_str::<serde_json::Value>(&stored.body)
                        .ok()
                        .and_then(|v| Some(v.get("order_id")?.as_str()?.to_owned()))
                        .unwrap_or_default();
                    summary.already_imported.push((item.row.line, id));
                }
            }
        }
        done += chunk.len();
        progress(done);
    }
    Ok(summary)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn defaults() -> Defaults {
        Defaults {
            org: Some("acme".into()),
            subject: Some("alice".into()),
        }
    }

    #[test]
    fn lines_skip_blanks_and_comments_and_keep_line_numbers() {
        let rows = read_lines("# header\n\nA?x=1\r\nB?y=2\n", &defaults()).unwrap();
        assert_eq!(rows.len(), 2);
        assert_eq!((rows[0].line, rows[0].raw.as_str()), (3, "A?x=1"));
        assert_eq!((rows[1].line, rows[1].raw.as_str()), (4, "B?y=2"));
    }

    #[test]
    fn lines_need_a_customer() {
        let errors = read_lines("A?x=1\n", &Defaults::default()).unwrap_err();
        assert!(errors[0].error.message.contains("--org and --subject"));
    }

    #[test]
    fn csv_columns_are_found_by_name_and_times_kept() {
        let csv = "Organisation,Reporter,Created,SO-1-legacy\n\
                   acme,alice,2019-11-30 08:15:00,\"Compute/X?a=1&b=2\"\n\
                   globex,bob,02/Dec/19 10:15 AM,\"Compute/X?a=3\"\n";
        let rows = read_csv(csv, &Defaults::default()).unwrap();
        assert_eq!(rows.len(), 2);
        assert_eq!(rows[0].org, "acme");
        assert_eq!(rows[0].raw, "Compute/X?a=1&b=2");
        assert_eq!(
            rows[0].submitted_at,
            Some("2019-11-30T08:15:00Z".parse().unwrap())
        );
        assert_eq!(rows[1].line, 3);
        assert_eq!(
            rows[1].submitted_at,
            Some("2019-12-02T10:15:00Z".parse().unwrap())
        );
    }

    #[test]
    fn csv_reports_every_bad_row() {
        let csv = "org,subject,submitted_at,order\n\
                   acme,alice,yesterday,x\n\
                   ,bob,2019-01-01,y\n";
        let errors = read_csv(csv, &Defaults::default()).unwrap_err();
        assert_eq!(errors.len(), 2, "{errors:?}");
        assert_eq!(
            (errors[0].line, errors[0].error.field.as_str()),
            (2, "submitted_at")
        );
        assert_eq!((errors[1].line, errors[1].error.field.as_str()), (3, "org"));
    }

    #[test]
    fn csv_without_an_order_column_is_refused() {
        let errors = read_csv("org,subject\nacme,alice\n", &defaults()).unwrap_err();
        assert!(errors[0].error.message.contains("no order column"));
    }

    #[test]
    fn times_in_every_supported_format() {
        for (text, expected) in [
            ("2019-11-30T08:15:00Z", "2019-11-30T08:15:00Z"),
            ("2019-11-30T09:15:00+01:00", "2019-11-30T08:15:00Z"),
            ("2019-11-30 08:15", "2019-11-30T08:15:00Z"),
            ("2019-11-30", "2019-11-30T00:00:00Z"),
            ("30/Nov/19 8:15 PM", "2019-11-30T20:15:00Z"),
        ] {
            assert_eq!(
                parse_time(text).unwrap(),
                expected.parse::<Timestamp>().unwrap(),
                "{text}"
            );
        }
        assert!(parse_time("soon").is_err());
    }
}
