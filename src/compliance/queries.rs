//! Every SQL statement of compliance: the inline tables the timers read
//! ([`ComplianceTables`] keeps them in the transaction of each event), and
//! their reads.

use futures::future::BoxFuture;
use jiff::Timestamp;
use pactum_events::RecordedEvent;
use pactum_events::agreement::AgreementEvent;
use pactum_events::monitoring::{ComplianceEvent, EndpointEvent};

use super::aggregate::HEARTBEAT;
use crate::store::{DbConnection, DbPool, InlineProjection, StoreError, decode_own};

/// A bound agreement, as the month-closing timer sees it.
#[derive(Clone, Debug, sqlx::FromRow)]
pub struct BoundAgreement {
    pub agreement_id: String,
    pub time_zone: String,
    pub first_day: String,
    pub last_day: String,
    pub measured_through: Option<String>,
}

/// Every bound agreement.
pub async fn bound_agreements(pool: &DbPool) -> Result<Vec<BoundAgreement>, StoreError> {
    Ok(sqlx::query_as(
        "SELECT agreement_id, time_zone, first_day, last_day, measured_through \
         FROM compliance_bindings ORDER BY agreement_id",
    )
    .fetch_all(pool)
    .await?)
}

/// The agreements `endpoint` delivers.
pub async fn agreements_of(pool: &DbPool, endpoint: &str) -> Result<Vec<String>, StoreError> {
    Ok(sqlx::query_scalar(
        "SELECT agreement_id FROM compliance_endpoints WHERE endpoint = $1 ORDER BY agreement_id",
    )
    .bind(endpoint)
    .fetch_all(pool)
    .await?)
}

/// Endpoints whose heartbeat deadline passed by `now` (at most `limit`), and
/// the next deadline after those.
pub async fn silent(
    pool: &DbPool,
    now: Timestamp,
    limit: i64,
) -> Result<(Vec<String>, Option<Timestamp>), StoreError> {
    let due: Vec<String> = sqlx::query_scalar(
        "SELECT endpoint FROM monitoring_heartbeats WHERE deadline IS NOT NULL AND deadline <= $1 \
         ORDER BY deadline LIMIT $2",
    )
    .bind(now.as_microsecond())
    .bind(limit)
    .fetch_all(pool)
    .await?;
    let next: Option<i64> = sqlx::query_scalar(
        "SELECT MIN(deadline) FROM monitoring_heartbeats WHERE deadline IS NOT NULL AND deadline > $1",
    )
    .bind(now.as_microsecond())
    .fetch_one(pool)
    .await?;
    Ok((due, next.and_then(|m| Timestamp::from_microsecond(m).ok())))
}

/// Keeps `monitoring_heartbeats`, `compliance_bindings` and
/// `compliance_endpoints`.
pub struct ComplianceTables;

async fn fold(conn: &mut DbConnection, event: &RecordedEvent) -> Result<(), StoreError> {
    let id = event.aggregate_id.as_str();
    if let Some(endpoint) = decode_own::<EndpointEvent>(event)? {
        match endpoint {
            EndpointEvent::EndpointDeclared(declared) => match declared.heartbeat {
                Some(heartbeat) => {
                    let period =
                        i64::from(heartbeat.interval_seconds) + i64::from(heartbeat.grace_seconds);
                    sqlx::query(
                        "INSERT INTO monitoring_heartbeats (endpoint, period_s, deadline) \
                         VALUES ($1, $2, NULL) \
                         ON CONFLICT (endpoint) DO UPDATE SET period_s = excluded.period_s",
                    )
                    .bind(id)
                    .bind(period)
                    .execute(&mut *conn)
                    .await?;
                }
                None => {
                    sqlx::query("DELETE FROM monitoring_heartbeats WHERE endpoint = $1")
                        .bind(id)
                        .execute(&mut *conn)
                        .await?;
                }
            },
            EndpointEvent::EndpointStatusRecorded(recorded) if recorded.source == HEARTBEAT => {
                let Some(last) = recorded.points.iter().max_by_key(|p| p.at) else {
                    return Ok(());
                };
                if last.status == "OK" {
                    sqlx::query(
                        "UPDATE monitoring_heartbeats SET deadline = $2 + period_s * 1000000 \
                         WHERE endpoint = $1 AND (deadline IS NULL OR deadline < $2 + period_s * 1000000)",
                    )
                    .bind(id)
                    .bind(last.at.as_microsecond())
                    .execute(&mut *conn)
                    .await?;
                } else {
                    sqlx::query(
                        "UPDATE monitoring_heartbeats SET deadline = NULL WHERE endpoint = $1",
                    )
                    .bind(id)
                    .execute(&mut *conn)
                    .await?;
                }
            }
            _ => {}
        }
        return Ok(());
    }
    if let Some(compliance) = decode_own::<ComplianceEvent>(event)? {
        match compliance {
            ComplianceEvent::MonitoringBound(bound) => {
                sqlx::query(
                    "INSERT INTO compliance_bindings (agreement_id, time_zone, first_day, last_day) \
                     VALUES ($1, $2, $3, $4) \
                     ON CONFLICT (agreement_id) DO UPDATE SET time_zone = excluded.time_zone, \
                     last_day = excluded.last_day",
                )
                .bind(id)
                .bind(&bound.time_zone)
                .bind(bound.from.to_string())
                .bind(bound.until.to_string())
                .execute(&mut *conn)
                .await?;
                sqlx::query("DELETE FROM compliance_endpoints WHERE agreement_id = $1")
                    .bind(id)
                    .execute(&mut *conn)
                    .await?;
                for endpoint in &bound.endpoints {
                    sqlx::query(
                        "INSERT INTO compliance_endpoints (endpoint, agreement_id) VALUES ($1, $2) \
                         ON CONFLICT DO NOTHING",
                    )
                    .bind(endpoint)
                    .bind(id)
                    .execute(&mut *conn)
                    .await?;
                }
            }
            ComplianceEvent::ServiceLevelMeasured(measured) => {
                sqlx::query(
                    "UPDATE compliance_bindings SET measured_through = $2 \
                     WHERE agreement_id = $1 AND (measured_through IS NULL OR measured_through < $2)",
                )
                .bind(id)
                .bind(&measured.month)
                .execute(&mut *conn)
                .await?;
            }
            _ => {}
        }
        return Ok(());
    }
    if let Some(agreement) = decode_own::<AgreementEvent>(event)? {
        let last_day = match agreement {
            AgreementEvent::AgreementAmended(amended) => amended.end,
            AgreementEvent::AgreementExpired(expired) => Some(expired.end),
            AgreementEvent::AgreementTerminated(_) => {
                Some(event.recorded_at.to_zoned(jiff::tz::TimeZone::UTC).date())
            }
            AgreementEvent::AgreementIssued(_) => None,
        };
        if let Some(last_day) = last_day {
            sqlx::query("UPDATE compliance_bindings SET last_day = $2 WHERE agreement_id = $1")
                .bind(id)
                .bind(last_day.to_string())
                .execute(&mut *conn)
                .await?;
        }
    }
    Ok(())
}

impl InlineProjection for ComplianceTables {
    fn apply<'a>(
        &'a self,
        conn: &'a mut DbConnection,
        event: &'a RecordedEvent,
    ) -> BoxFuture<'a, Result<(), StoreError>> {
        Box::pin(fold(conn, event))
    }

    fn check(&self, event: &RecordedEvent) -> Result<(), String> {
        crate::store::check_decodes::<EndpointEvent>(event)?;
        crate::store::check_decodes::<ComplianceEvent>(event)
    }
}
