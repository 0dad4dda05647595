//! The reporting views as a contract: each view's name, the read models it reads,
//! and its columns (name, type, where the value comes from). `docs/reporting.md`
//! documents the same columns; `tests/api/reporting.rs` fails when they drift.
//!
//! A view's columns never change once released: a column removed or changed
//! ships as a new view (`orders_v2`) beside the old one.

use crate::store::Dialect;

/// A column's type, as the reporting contract states it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Kind {
    Text,
    Integer,
    /// Double precision.
    Real,
    /// PostgreSQL `boolean`; SQLite 0 or 1.
    Boolean,
    /// PostgreSQL `date`; SQLite text `YYYY-MM-DD`.
    Date,
    /// PostgreSQL `timestamptz`; SQLite text `YYYY-MM-DDTHH:MM:SS.SSSZ` (UTC).
    Timestamp,
}

impl Kind {
    /// The name `docs/reporting.md` uses.
    pub fn contract_name(self) -> &'static str {
        match self {
            Self::Text => "text",
            Self::Integer => "integer",
            Self::Real => "real",
            Self::Boolean => "boolean",
            Self::Date => "date",
            Self::Timestamp => "timestamp",
        }
    }

    /// The type the database reports for the view's column
    /// (`information_schema.columns.data_type` on PostgreSQL, the declared type
    /// of `PRAGMA table_info` on SQLite).
    pub fn sql_type(self, dialect: Dialect) -> &'static str {
        match (dialect, self) {
            (Dialect::Sqlite, Self::Integer | Self::Boolean) => "INT",
            (Dialect::Sqlite, Self::Real) => "REAL",
            (Dialect::Sqlite, _) => "TEXT",
            (Dialect::Postgres, Self::Text) => "text",
            (Dialect::Postgres, Self::Integer) => "bigint",
            (Dialect::Postgres, Self::Real) => "double precision",
            (Dialect::Postgres, Self::Boolean) => "boolean",
            (Dialect::Postgres, Self::Date) => "date",
            (Dialect::Postgres, Self::Timestamp) => "timestamp with time zone",
        }
    }
}

/// Where a column's value comes from.
#[derive(Clone, Copy, Debug)]
pub enum Source {
    /// A column of a projection table (`alias.column`), as the projection stores
    /// it: times in microseconds since the epoch, flags 0/1, decimals as text.
    Column(&'static str),
    /// A field of a JSON object (`alias.value` of a JSON expansion): times as
    /// RFC 3339 text, flags `true`/`false`.
    Json(&'static str, &'static str),
    /// An expression, one per dialect, in the stored form of [`Source::Column`].
    Expr {
        sqlite: &'static str,
        postgres: &'static str,
    },
}

#[derive(Clone, Copy, Debug)]
pub struct ViewColumn {
    pub name: &'static str,
    pub kind: Kind,
    pub source: Source,
}

/// One stable view.
#[derive(Clone, Copy, Debug)]
pub struct View {
    /// Without its prefix: `reporting.{name}` on PostgreSQL, `reporting_{name}`
    /// on SQLite.
    pub name: &'static str,
    /// The projections whose live tables the view reads; `{name}` in `from`
    /// stands for each one's live table.
    pub reads: &'static [&'static str],
    pub from_sqlite: &'static str,
    pub from_postgres: &'static str,
    /// A condition on the rows, if any.
    pub filter: Option<&'static str>,
    /// The organisation a row belongs to, for organisation-scoped roles; a view
    /// without one shows them nothing.
    pub org: Option<&'static str>,
    pub columns: &'static [ViewColumn],
}

const fn col(name: &'static str, kind: Kind, column: &'static str) -> ViewColumn {
    ViewColumn {
        name,
        kind,
        source: Source::Column(column),
    }
}

const fn json(
    name: &'static str,
    kind: Kind,
    value: &'static str,
    field: &'static str,
) -> ViewColumn {
    ViewColumn {
        name,
        kind,
        source: Source::Json(value, field),
    }
}

use Kind::{Boolean, Date, Integer, Real, Text, Timestamp};

/// The measured months with their agreements, which three views read.
macro_rules! months {
    () => {
        "{service_levels} s JOIN {agreements} a ON a.agreement_id = s.agreement_id"
    };
}
const MONTHS: &str = months!();

/// Every reporting view.
pub static VIEWS: &[View] = &[
    View {
        name: "orders",
        reads: &["order_queue"],
        from_sqlite: "{order_queue} q",
        from_postgres: "{order_queue} q",
        filter: None,
        org: Some("q.org"),
        columns: &[
            col("order_id", Text, "q.order_id"),
            col("org", Text, "q.org"),
            col("group_id", Text, "q.group_id"),
            col("service", Text, "q.service"),
            col("status", Text, "q.status"),
            col("customer_subject", Text, "q.customer_subject"),
            col("assignee", Text, "q.assignee"),
            col("title", Text, "q.title"),
            col("created_at", Timestamp, "q.created_at"),
            col("status_since", Timestamp, "q.status_since"),
            col("waiting_since", Timestamp, "q.waiting_since"),
            col("last_activity_at", Timestamp, "q.last_activity_at"),
            ViewColumn {
                name: "due_at",
                kind: Timestamp,
                source: Source::Expr {
                    sqlite: "NULLIF(q.due_at, 9223372036854775807)",
                    postgres: "NULLIF(q.due_at, 9223372036854775807)",
                },
            },
            col("version", Integer, "q.version"),
            col("reference", Text, "q.reference"),
        ],
    },
    View {
        name: "order_handling",
        reads: &["order_queue"],
        from_sqlite: "{order_queue} q, json_each(q.handling, '$.clocks') c",
        from_postgres: "{order_queue} q CROSS JOIN LATERAL \
             jsonb_each(CAST(q.handling AS jsonb) -> 'clocks') AS c(key, value)",
        filter: None,
        org: Some("q.org"),
        columns: &[
            col("order_id", Text, "q.order_id"),
            col("org", Text, "q.org"),
            col("group_id", Text, "q.group_id"),
            col("service", Text, "q.service"),
            col("order_status", Text, "q.status"),
            ViewColumn {
                name: "targets_key",
                kind: Text,
                source: Source::Expr {
                    sqlite: "json_extract(q.handling, '$.key')",
                    postgres: "(CAST(q.handling AS jsonb) ->> 'key')",
                },
            },
            ViewColumn {
                name: "targets_version",
                kind: Integer,
                source: Source::Expr {
                    sqlite: "json_extract(q.handling, '$.version')",
                    postgres: "(CAST(q.handling AS jsonb) ->> 'version')",
                },
            },
            col("clock", Text, "c.key"),
            json("state", Text, "c.value", "state"),
            json("since", Timestamp, "c.value", "since"),
            json("elapsed_seconds", Integer, "c.value", "elapsed_seconds"),
            json("target_seconds", Integer, "c.value", "target_seconds"),
            json("warn_at", Timestamp, "c.value", "warn_at"),
            json("due_at", Timestamp, "c.value", "due_at"),
            json("warned", Boolean, "c.value", "warned"),
            json("breached", Boolean, "c.value", "breached"),
            json("within_target", Boolean, "c.value", "within_target"),
        ],
    },
    View {
        name: "order_report",
        reads: &["order_report"],
        from_sqlite: "{order_report} r",
        from_postgres: "{order_report} r",
        filter: None,
        org: Some("r.org"),
        columns: &[
            col("order_id", Text, "r.order_id"),
            col("org", Text, "r.org"),
            col("group_id", Text, "r.group_id"),
            col("service", Text, "r.service"),
            col("submitted_at", Timestamp, "r.submitted_at"),
            col("decision", Text, "r.decision"),
            col("decided_at", Timestamp, "r.decided_at"),
            col("approved", Boolean, "r.approved"),
            col("rejected", Boolean, "r.rejected"),
            col("cancelled", Boolean, "r.cancelled"),
            col(
                "first_response_seconds",
                Integer,
                "r.first_response_seconds",
            ),
            col("first_response_within", Boolean, "r.first_response_within"),
            col("decision_seconds", Integer, "r.decision_seconds"),
            col("decision_within", Boolean, "r.decision_within"),
        ],
    },
    View {
        name: "agreements",
        reads: &["agreements"],
        from_sqlite: "{agreements} a",
        from_postgres: "{agreements} a",
        filter: None,
        org: Some("a.org"),
        columns: &[
            col("agreement_id", Text, "a.agreement_id"),
            col("kind", Text, "a.kind"),
            col("reference", Text, "a.reference"),
            col("org", Text, "a.org"),
            col("group_id", Text, "a.group_id"),
            col("provider", Text, "a.provider"),
            col("order_id", Text, "a.order_id"),
            col("service", Text, "a.service"),
            col("status", Text, "a.status"),
            col("version", Integer, "a.version"),
            col("start_date", Date, "a.start_date"),
            col("end_date", Date, "a.end_date"),
            col("issued_at", Timestamp, "a.issued_at"),
            col("updated_at", Timestamp, "a.updated_at"),
        ],
    },
    View {
        name: "service_levels_monthly",
        reads: &["service_levels", "agreements"],
        from_sqlite: MONTHS,
        from_postgres: MONTHS,
        filter: None,
        org: Some("a.org"),
        columns: &[
            col("agreement_id", Text, "s.agreement_id"),
            col("reference", Text, "a.reference"),
            col("kind", Text, "a.kind"),
            col("org", Text, "a.org"),
            col("provider", Text, "a.provider"),
            col("service", Text, "a.service"),
            col("month", Text, "s.month"),
            col("availability", Real, "s.availability"),
            col("reliability", Real, "s.reliability"),
            col("unknown_pct", Real, "s.unknown_pct"),
            col("downtime_pct", Real, "s.downtime_pct"),
            col("target_availability", Real, "s.target_availability"),
            col("target_reliability", Real, "s.target_reliability"),
            col("met", Boolean, "s.met"),
            col("corrections", Integer, "s.corrections"),
            col("measured_at", Timestamp, "s.measured_at"),
            col("updated_at", Timestamp, "s.updated_at"),
        ],
    },
    View {
        name: "service_levels_daily",
        reads: &["service_levels", "agreements"],
        from_sqlite: concat!(months!(), ", json_each(s.days) d"),
        from_postgres: concat!(
            months!(),
            " CROSS JOIN LATERAL jsonb_array_elements(CAST(s.days AS jsonb)) AS d(value)"
        ),
        filter: None,
        org: Some("a.org"),
        columns: &[
            col("agreement_id", Text, "s.agreement_id"),
            col("reference", Text, "a.reference"),
            col("kind", Text, "a.kind"),
            col("org", Text, "a.org"),
            col("provider", Text, "a.provider"),
            col("service", Text, "a.service"),
            json("day", Date, "d.value", "day"),
            col("month", Text, "s.month"),
            json("availability", Real, "d.value", "availability"),
            json("reliability", Real, "d.value", "reliability"),
            json("unknown_pct", Real, "d.value", "unknown_pct"),
            json("downtime_pct", Real, "d.value", "downtime_pct"),
        ],
    },
    View {
        name: "usage_monthly",
        reads: &["service_levels", "agreements"],
        from_sqlite: MONTHS,
        from_postgres: MONTHS,
        filter: Some("s.used_core_hours IS NOT NULL"),
        org: Some("a.org"),
        columns: &[
            col("agreement_id", Text, "s.agreement_id"),
            col("reference", Text, "a.reference"),
            col("org", Text, "a.org"),
            col("provider", Text, "a.provider"),
            col("service", Text, "a.service"),
            col("month", Text, "s.month"),
            col("used_core_hours", Real, "s.used_core_hours"),
            col("committed_core_hours", Real, "s.committed_core_hours"),
            col("used_pct", Real, "s.used_pct"),
            col("flag", Text, "s.usage_flag"),
            col("records", Integer, "s.usage_records"),
        ],
    },
    View {
        name: "usage_records",
        reads: &["usage_records"],
        from_sqlite: "{usage_records} u, json_each(u.records) r",
        from_postgres: "{usage_records} u CROSS JOIN LATERAL \
             jsonb_array_elements(CAST(u.records AS jsonb)) AS r(value)",
        filter: None,
        org: None,
        columns: &[
            col("site", Text, "u.site"),
            json("vm_uuid", Text, "r.value", "vm_uuid"),
            json("local_group", Text, "r.value", "local_group"),
            json("fqan", Text, "r.value", "fqan"),
            json("status", Text, "r.value", "status"),
            json("start_time", Timestamp, "r.value", "start"),
            json("end_time", Timestamp, "r.value", "end"),
            json("wall_seconds", Integer, "r.value", "wall_seconds"),
            json("cpu_seconds", Integer, "r.value", "cpu_seconds"),
            json("cpu_count", Integer, "r.value", "cpu_count"),
            json("memory_mb", Integer, "r.value", "memory_mb"),
            json("disk_gb", Integer, "r.value", "disk_gb"),
        ],
    },
];

impl View {
    /// The view's qualified name.
    pub fn qualified(&self, dialect: Dialect) -> String {
        match dialect {
            Dialect::Sqlite => format!("reporting_{}", self.name),
            Dialect::Postgres => format!("reporting.{}", self.name),
        }
    }

    /// The view's `SELECT`: over the live tables `table_of` names, or, when one
    /// of the projections it reads has none yet, no rows with the same columns.
    pub fn select(&self, dialect: Dialect, table_of: impl Fn(&str) -> Option<String>) -> String {
        let tables: Option<Vec<(&str, String)>> = self
            .reads
            .iter()
            .map(|name| table_of(name).map(|table| (*name, table)))
            .collect();
        let Some(tables) = tables else {
            let columns: Vec<String> = self
                .columns
                .iter()
                .map(|c| format!("CAST(NULL AS {}) AS {}", cast_type(dialect, c.kind), c.name))
                .collect();
            let never = match dialect {
                Dialect::Sqlite => "0",
                Dialect::Postgres => "false",
            };
            return format!("SELECT {} WHERE {never}", columns.join(", "));
        };
        let mut from = match dialect {
            Dialect::Sqlite => self.from_sqlite.to_owned(),
            Dialect::Postgres => self.from_postgres.to_owned(),
        };
        for (name, table) in &tables {
            from = from.replace(&format!("{{{name}}}"), table);
        }
        let columns: Vec<String> = self
            .columns
            .iter()
            .map(|c| format!("{} AS {}", expression(dialect, c), c.name))
            .collect();
        let mut conditions: Vec<String> = self.filter.iter().map(|f| (*f).to_owned()).collect();
        if dialect == Dialect::Postgres {
            conditions.push(scope_condition(self.org));
        }
        let mut sql = format!("SELECT {} FROM {from}", columns.join(", "));
        if !conditions.is_empty() {
            sql.push_str(" WHERE ");
            sql.push_str(&conditions.join(" AND "));
        }
        sql
    }
}

/// On PostgreSQL, a role with organisations in `reporting_scopes` sees only
/// their rows (and nothing of a view without organisation); any other role
/// that may read the view sees every row.
fn scope_condition(org: Option<&str>) -> String {
    let scoped = "EXISTS (SELECT 1 FROM public.reporting_scopes rs WHERE rs.role = current_user)";
    match org {
        Some(org) => format!(
            "(NOT {scoped} OR {org} IN \
             (SELECT rs.org FROM public.reporting_scopes rs WHERE rs.role = current_user))"
        ),
        None => format!("NOT {scoped}"),
    }
}

fn cast_type(dialect: Dialect, kind: Kind) -> &'static str {
    match dialect {
        Dialect::Sqlite => kind.sql_type(dialect),
        Dialect::Postgres => match kind {
            Kind::Timestamp => "timestamptz",
            other => other.sql_type(dialect),
        },
    }
}

/// The column's SQL: its source, converted from the stored form to the
/// contract's type.
fn expression(dialect: Dialect, column: &ViewColumn) -> String {
    let (value, stored_json) = match column.source {
        Source::Column(column) => (column.to_owned(), false),
        Source::Expr { sqlite, postgres } => match dialect {
            Dialect::Sqlite => (sqlite.to_owned(), false),
            Dialect::Postgres => (postgres.to_owned(), false),
        },
        Source::Json(value, field) => match dialect {
            Dialect::Sqlite => (format!("json_extract({value}, '$.{field}')"), true),
            Dialect::Postgres => (format!("({value} ->> '{field}')"), true),
        },
    };
    let ty = cast_type(dialect, column.kind);
    match (dialect, column.kind, stored_json) {
        (Dialect::Sqlite, Kind::Timestamp, false) => {
            format!(
                "CAST(strftime('%Y-%m-%dT%H:%M:%fZ', {value} / 1000000.0, 'unixepoch') AS TEXT)"
            )
        }
        (Dialect::Sqlite, Kind::Timestamp, true) => {
            format!("CAST(strftime('%Y-%m-%dT%H:%M:%fZ', {value}) AS TEXT)")
        }
        (Dialect::Postgres, Kind::Timestamp, false) => {
            format!("CAST(TIMESTAMPTZ 'epoch' + {value} * INTERVAL '1 microsecond' AS timestamptz)")
        }
        (Dialect::Postgres, Kind::Boolean, false) => format!("(CAST({value} AS bigint) <> 0)"),
        _ => format!("CAST({value} AS {ty})"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_view_over_a_missing_table_has_the_same_columns_and_no_rows() {
        let view = VIEWS.iter().find(|v| v.name == "orders").unwrap();
        let empty = view.select(Dialect::Postgres, |_| None);
        assert!(empty.starts_with("SELECT CAST(NULL AS text) AS order_id"));
        assert!(empty.ends_with("WHERE false"));
        let live = view.select(Dialect::Postgres, |name| {
            (name == "order_queue").then(|| "proj_order_queue_g3".to_owned())
        });
        assert!(live.contains("FROM proj_order_queue_g3 q"), "{live}");
        assert!(live.contains("rs.role = current_user"), "{live}");
        let sqlite = view.select(Dialect::Sqlite, |_| Some("proj_order_queue_g1".to_owned()));
        assert!(!sqlite.contains("current_user"), "{sqlite}");
    }

    #[test]
    fn view_and_column_names_are_unique() {
        let mut names: Vec<&str> = VIEWS.iter().map(|v| v.name).collect();
        names.sort_unstable();
        names.dedup();
        assert_eq!(names.len(), VIEWS.len());
        for view in VIEWS {
            let mut columns: Vec<&str> = view.columns.iter().map(|c| c.name).collect();
            columns.sort_unstable();
            columns.dedup();
            assert_eq!(columns.len(), view.columns.len(), "{}", view.name);
        }
    }
}
