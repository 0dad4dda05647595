//! The JSON JIRA's REST search answers with `expand=changelog` (API version 2):
//! `{"issues": [...]}`, a bare array of issues, or several such pages in one
//! array. Only the fields the import reads are declared; everything else is
//! ignored. Each issue is decoded on its own, so a bad one is named by its key
//! and the path of the field that is wrong, and the others are still checked.

use std::collections::HashMap;

use jiff::Timestamp;
use serde::Deserialize;
use serde_json::{Map, Value};

use super::TicketError;

/// One ticket.
#[derive(Clone, Debug, Deserialize)]
pub struct Issue {
    pub key: String,
    pub fields: Fields,
    #[serde(default)]
    pub changelog: Option<Changelog>,
}

#[derive(Clone, Debug, Deserialize)]
pub struct Fields {
    #[serde(default)]
    pub summary: Option<String>,
    pub status: Status,
    #[serde(default)]
    pub assignee: Option<User>,
    #[serde(default)]
    pub reporter: Option<User>,
    pub created: String,
    /// A string in API version 2 (the legacy order string); version 3's
    /// document format is refused by the import with a hint.
    #[serde(default)]
    pub description: Option<Value>,
    #[serde(default)]
    pub comment: Option<Comments>,
    /// Every other field, for the organisation field of the mapping.
    #[serde(flatten)]
    pub other: Map<String, Value>,
}

#[derive(Clone, Debug, Deserialize)]
pub struct Status {
    pub name: String,
}

/// A JIRA user: Server and Data Center name it by `name` and `key`, Cloud by
/// `accountId`.
#[derive(Clone, Debug, Default, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct User {
    #[serde(default)]
    pub name: Option<String>,
    #[serde(default)]
    pub key: Option<String>,
    #[serde(default)]
    pub account_id: Option<String>,
    #[serde(default)]
    pub email_address: Option<String>,
    #[serde(default)]
    pub display_name: Option<String>,
}

impl User {
    /// The name it is known by in pactum unless the mapping says otherwise:
    /// its `name`, else its `accountId`, else its `key`.
    pub fn id(&self) -> Option<&str> {
        [&self.name, &self.account_id, &self.key]
            .into_iter()
            .flatten()
            .map(|s| s.trim())
            .find(|s| !s.is_empty())
    }

    /// Every name a changelog or the mapping may call it by.
    pub fn aliases(&self) -> impl Iterator<Item = &str> {
        [&self.name, &self.key, &self.account_id, &self.email_address]
            .into_iter()
            .flatten()
            .map(|s| s.trim())
            .filter(|s| !s.is_empty())
    }
}

#[derive(Clone, Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Comments {
    #[serde(default)]
    pub comments: Vec<Comment>,
    /// How many comments the ticket has; more than listed means the export
    /// left some out.
    #[serde(default)]
    pub total: Option<u64>,
}

#[derive(Clone, Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Comment {
    #[serde(default)]
    pub id: Option<String>,
    #[serde(default)]
    pub author: Option<User>,
    #[serde(default)]
    pub body: String,
    pub created: String,
    /// Set (to a role or group) on a restricted comment.
    #[serde(default)]
    pub visibility: Option<Value>,
    /// JIRA Service Management: `false` on an internal comment.
    #[serde(default)]
    pub jsd_public: Option<bool>,
}

impl Comment {
    /// A comment restricted to a role or group, or internal in a service desk.
    pub fn is_restricted(&self) -> bool {
        self.visibility.as_ref().is_some_and(|v| !v.is_null()) || self.jsd_public == Some(false)
    }
}

#[derive(Clone, Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Changelog {
    #[serde(default)]
    pub histories: Vec<History>,
    /// How many entries the ticket's changelog has; more than listed means the
    /// export left some out.
    #[serde(default)]
    pub total: Option<u64>,
}

/// One change of a ticket: who, when, and the fields it changed.
#[derive(Clone, Debug, Deserialize)]
pub struct History {
    #[serde(default)]
    pub id: Option<String>,
    #[serde(default)]
    pub author: Option<User>,
    pub created: String,
    #[serde(default)]
    pub items: Vec<Item>,
}

#[derive(Clone, Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Item {
    pub field: String,
    /// For a user field, the user's key (Server) or accountId (Cloud).
    #[serde(default)]
    pub from: Option<String>,
    #[serde(default)]
    pub from_string: Option<String>,
    #[serde(default)]
    pub to: Option<String>,
    #[serde(default)]
    pub to_string: Option<String>,
}

/// Reads every issue of an export; every issue that cannot be read is named.
/// An issue listed twice (overlapping pages) is kept once if both copies are
/// the same, and is an error if they differ.
pub fn read(content: &str) -> Result<Vec<Issue>, Vec<TicketError>> {
    let whole = |message: String| vec![TicketError::new("(file)", "", message)];
    let value: Value =
        serde_json::from_str(content).map_err(|e| whole(format!("not JSON: {e}")))?;
    let mut values = Vec::new();
    collect(value, &mut values).map_err(whole)?;
    let mut issues = Vec::with_capacity(values.len());
    let mut errors = Vec::new();
    let mut seen: HashMap<String, usize> = HashMap::new();
    for (index, value) in values.into_iter().enumerate() {
        let name = match value.get("key").and_then(Value::as_str) {
            Some(key) if !key.trim().is_empty() => key.to_owned(),
            _ => {
                errors.push(TicketError::new(
                    format!("issue #{}", index + 1),
                    "key",
                    "missing: every issue needs its key",
                ));
                continue;
            }
        };
        if let Some(&first) = seen.get(&name) {
            if values_equal(&issues, first, &value) {
                continue;
            }
            errors.push(TicketError::new(
                &name,
                "key",
                "listed twice with different contents",
            ));
            continue;
        }
        match serde_path_to_error::deserialize::<_, Issue>(&value) {
            Ok(issue) => {
                seen.insert(name, issues.len());
                issues.push((value, issue));
            }
            Err(error) => {
                let message = error.inner().to_string();
                let mut field = error.path().to_string();
                // A missing field is reported at the object that lacks it.
                if let Some(missing) = message
                    .strip_prefix("missing field `")
                    .and_then(|rest| rest.split('`').next())
                {
                    field = match field.as_str() {
                        "." => missing.to_owned(),
                        parent => format!("{parent}.{missing}"),
                    };
                }
                errors.push(TicketError::new(&name, field, message));
            }
        }
    }
    if errors.is_empty() {
        Ok(issues.into_iter().map(|(_, issue)| issue).collect())
    } else {
        Err(errors)
    }
}

fn values_equal(issues: &[(Value, Issue)], index: usize, value: &Value) -> bool {
    issues.get(index).is_some_and(|(first, _)| first == value)
}

/// The issues of a search page (`{"issues": [...]}`), of an array of issues,
/// or of an array of pages.
fn collect(value: Value, into: &mut Vec<Value>) -> Result<(), String> {
    match value {
        Value::Object(mut page) if page.contains_key("issues") => {
            match page.remove("issues") {
                Some(Value::Array(issues)) => into.extend(issues),
                _ => return Err("\"issues\" is not an array".into()),
            }
            Ok(())
        }
        Value::Array(items) => {
            for item in items {
                match item {
                    Value::Object(ref object) if object.contains_key("issues") => {
                        collect(item, into)?
                    }
                    // An issue, or something meant as one (named when read).
                    Value::Object(_) => into.push(item),
                    _ => return Err("an array holds something that is not an issue".into()),
                }
            }
            Ok(())
        }
        _ => Err(
            "expected JIRA's search answer ({\"issues\": [...]}), an array of issues, or an \
             array of such answers"
                .into(),
        ),
    }
}

/// A time as JIRA writes it (`2019-12-02T10:15:30.000+0100`), or RFC 3339.
pub fn parse_time(text: &str) -> Result<Timestamp, String> {
    let text = text.trim();
    if let Ok(at) = text.parse::<Timestamp>() {
        return Ok(at);
    }
    jiff::fmt::strtime::parse("%Y-%m-%dT%H:%M:%S%.f%z", text)
        .and_then(|parsed| parsed.to_timestamp())
        .map_err(|_| {
            format!(
                "unreadable time {text:?}: expected JIRA's 2019-12-02T10:15:30.000+0100 or RFC 3339"
            )
        })
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn issue(key: &str) -> Value {
        json!({
            "key": key,
            "fields": {
                "status": {"name": "Open"},
                "created": "2019-12-02T10:15:30.000+0100",
                "description": "x",
            },
        })
    }

    #[test]
    fn pages_arrays_and_arrays_of_pages_are_read() {
        let page = json!({"startAt": 0, "total": 2, "issues": [issue("A-1"), issue("A-2")]});
        let keys = |value: Value| {
            read(&value.to_string())
                .unwrap()
                .into_iter()
                .map(|i| i.key)
                .collect::<Vec<_>>()
        };
        assert_eq!(keys(page.clone()), ["A-1", "A-2"]);
        assert_eq!(keys(json!([issue("A-1"), issue("A-2")])), ["A-1", "A-2"]);
        let second = json!({"issues": [issue("A-2"), issue("A-3")]});
        // Overlapping pages: the same issue twice is read once.
        assert_eq!(keys(json!([page, second])), ["A-1", "A-2", "A-3"]);
        assert!(read("{\"total\": 0}").is_err());
        assert!(read("not json").is_err());
    }

    #[test]
    fn a_bad_issue_is_named_by_its_key_and_field() {
        let mut bad = issue("A-2");
        bad["fields"]["status"] = json!({"id": "1"});
        let mut twice = issue("A-1");
        twice["fields"]["summary"] = json!("changed");
        let errors =
            read(&json!([issue("A-1"), bad, twice, {"fields": {}}]).to_string()).unwrap_err();
        let named: Vec<(String, String)> = errors
            .iter()
            .map(|e| (e.key.clone(), e.field.clone()))
            .collect();
        assert_eq!(
            named,
            [
                ("A-2".to_owned(), "fields.status.name".to_owned()),
                ("A-1".to_owned(), "key".to_owned()),
                ("issue #4".to_owned(), "key".to_owned()),
            ]
        );
    }

    #[test]
    fn times_as_jira_writes_them() {
        for (text, expected) in [
            ("2019-12-02T10:15:30.000+0100", "2019-12-02T09:15:30Z"),
            ("2019-12-02T10:15:30.123-0500", "2019-12-02T15:15:30.123Z"),
            ("2019-12-02T10:15:30+0000", "2019-12-02T10:15:30Z"),
            ("2019-12-02T10:15:30Z", "2019-12-02T10:15:30Z"),
            ("2019-12-02T10:15:30.5+01:00", "2019-12-02T09:15:30.5Z"),
        ] {
            assert_eq!(
                parse_time(text).unwrap(),
                expected.parse::<Timestamp>().unwrap(),
                "{text}"
            );
        }
        assert!(parse_time("02/Dec/19 10:15 AM").is_err());
        assert!(parse_time("yesterday").is_err());
    }

    #[test]
    fn restricted_comments_are_those_with_a_visibility_or_not_public() {
        let comment = |extra: Value| {
            let mut value = json!({"body": "x", "created": "2019-12-02T10:15:30.000+0100"});
            value
                .as_object_mut()
                .unwrap()
                .extend(extra.as_object().unwrap().clone());
            serde_json::from_value::<Comment>(value).unwrap()
        };
        assert!(!comment(json!({})).is_restricted());
        assert!(
            comment(json!({"visibility": {"type": "role", "value": "Administrators"}}))
                .is_restricted()
        );
        assert!(
            comment(json!({"visibility": {"type": "group", "value": "staff"}})).is_restricted()
        );
        assert!(comment(json!({"jsdPublic": false})).is_restricted());
        assert!(!comment(json!({"jsdPublic": true, "visibility": null})).is_restricted());
    }
}
