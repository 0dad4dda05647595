//! Daily availability and reliability per endpoint, imported from the ARGO
//! monitoring web API (API v2, as EGI's ARGO serves it). Start at [`pull`];
//! [`parse`] reads one answer; [`endpoint_name`] is how an ARGO endpoint is
//! named here.
//!
//! What this follows: ARGOeu/argo-web-api, `website/docs/results/results.md`
//! ("A/R results") and the JSON its `app/results/` writes (argo-web-api 1.14.2):
//!
//! - `GET {base}/api/v2/results/{report}/endpoints?start_time=YYYY-MM-DDT00:00:00Z&end_time=YYYY-MM-DDT23:59:59Z&granularity=daily`,
//!   the flat list of every endpoint's A/R in a report (since argo-web-api
//!   v1.9.1), with the tenant's key in `x-api-key` and `Accept:
//!   application/json`. Without `pageSize` ARGO answers everything at once; a
//!   `nextPageToken` in an answer is followed all the same.
//! - The answer: `{"results": [{"name": hostname, "service": service type,
//!   "supergroup": endpoint group, "type": "endpoint", "info": {"Url": ..},
//!   "results": [{"timestamp": "2015-06-22", "availability": "98.26389",
//!   "reliability": "98.26389", "unknown": "0", "uptime": "0.98264",
//!   "downtime": "0"}]}]}`. Numbers arrive as strings; availability and
//!   reliability are percentages, −1 where undefined (nothing known all day);
//!   unknown, uptime and downtime are fractions of the day. `info` is ignored.
//!   [`parse`] also walks the nested answer of
//!   `/results/{report}/{group_type}/{group}[/services/{service}]/endpoints`:
//!   `results[] → serviceflavors[] → endpoints[] → results[]`.
//! - Monthly answers (`"timestamp": "2015-06"`) and custom ones (no timestamp)
//!   are refused: only days are imported; months are ours to compute
//!   ([`super::levels`]).
//! - ARGO answers 404 both for an unknown report and for "No results found for
//!   given query"; both are an [`ArgoError::Status`] naming the body.
//!
//! ARGO lists an endpoint once under each endpoint group it belongs to: the
//! same endpoint and day count once, and a document whose groups disagree on
//! that day's figures is refused rather than one of them picked.

use std::collections::BTreeMap;
use std::collections::btree_map::Entry;
use std::time::Duration;

use jiff::civil::Date;
use reqwest::header::{ACCEPT, HeaderValue};
use reqwest::{StatusCode, Url};
use serde_json::{Map, Value};

/// How long one request to ARGO may take, its answer read whole.
pub const TIMEOUT: Duration = Duration::from_secs(30);

/// Pages followed before an API whose page tokens never end is given up on.
const MAX_PAGES: usize = 1_000;

/// Characters of a refused answer's body an error quotes.
const EXCERPT: usize = 300;

/// How far past 100 % (or 1) a figure may be and still be the bound, rounding's
/// doing.
const SLACK: f64 = 1e-6;

/// One endpoint's figures for one day, as ARGO computed them.
#[derive(Clone, Debug, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct DailyFigure {
    /// [`endpoint_name`] of ARGO's hostname and service type.
    pub endpoint: String,
    /// ARGO's day (UTC).
    pub day: Date,
    /// Percent; `None` where ARGO writes −1 (undefined: nothing known).
    pub availability: Option<f64>,
    /// Percent; `None` where ARGO writes −1 (undefined).
    pub reliability: Option<f64>,
    /// Fraction of the day (0 to 1) with the status unknown or missing.
    pub unknown: f64,
    /// Fraction of the day up.
    pub uptime: f64,
    /// Fraction of the day in scheduled downtime.
    pub downtime: f64,
}

/// Why ARGO's figures could not be had. Paths name the field as in the
/// document, e.g. `results[0].results[5].availability`; from the second page
/// on they start with `page N:`.
#[derive(Debug, thiserror::Error)]
pub enum ArgoError {
    #[error("the A/R document is not JSON: {0}")]
    NotJson(#[source] serde_json::Error),
    #[error("{path}: missing")]
    Missing { path: String },
    /// A field of the wrong kind, or a document of another kind (a group's
    /// A/R rather than endpoints').
    #[error("{path}: expected {expected}, found {found}")]
    Shape {
        path: String,
        expected: &'static str,
        found: String,
    },
    #[error("{path}: {value} is not a number")]
    NotANumber { path: String, value: String },
    #[error("{path}: {value} is out of range ({range})")]
    OutOfRange {
        path: String,
        value: f64,
        range: &'static str,
    },
    #[error("{path}: {value:?} is not a day (YYYY-MM-DD)")]
    NotADay { path: String, value: String },
    #[error("{path}: {value:?} is a month: only daily figures are imported (granularity=daily)")]
    Monthly { path: String, value: String },
    #[error("{path}: no timestamp (custom granularity?): only daily figures are imported")]
    Undated { path: String },
    #[error("{path}: {value:?} cannot name an endpoint: {reason}")]
    BadName {
        path: String,
        value: String,
        reason: &'static str,
    },
    /// The same endpoint and day twice (under two endpoint groups) with
    /// different figures.
    #[error("{endpoint} on {day}: {first} and {second} disagree")]
    Conflict {
        endpoint: String,
        day: Date,
        first: String,
        second: String,
    },
    #[error("{path}: {day} is outside the days asked for, {from} to {to}")]
    OutsideRange {
        path: String,
        day: Date,
        from: Date,
        to: Date,
    },
    #[error("the days asked for run backwards: {from} to {to}")]
    BackwardsRange { from: Date, to: Date },
    #[error("ARGO's base URL {base_url:?} {reason}")]
    BaseUrl {
        base_url: String,
        reason: &'static str,
    },
    #[error("the API key cannot be sent as a header (it holds a character headers cannot carry)")]
    BadKey,
    #[error("ARGO did not answer within {} s", TIMEOUT.as_secs())]
    Timeout,
    #[error("the request to ARGO failed: {0}")]
    Request(#[source] reqwest::Error),
    /// A non-2xx answer, with the start of its body.
    #[error("ARGO answered {status}: {body}")]
    Status { status: StatusCode, body: String },
    #[error("ARGO's answer did not end after {} pages", MAX_PAGES)]
    EndlessPages,
}

/// Pactum's name for ARGO's endpoint `hostname` of service type `service`:
/// `{service}@{hostname}`, e.g. `webdav@se01.example.org`. Endpoint ids may not
/// hold `/`; ARGO tells endpoints apart by the pair, and a hostname may carry
/// several services. [`parse`] refuses parts that are empty or hold `/` or
/// `@`, so the name splits back at its one `@`.
pub fn endpoint_name(hostname: &str, service: &str) -> String {
    format!("{service}@{hostname}")
}

/// The figures of one ARGO endpoint A/R answer (the flat list or the nested
/// one under an endpoint group), one per endpoint and day, in endpoint then
/// day order. The document is taken whole or not at all.
pub fn parse(json: &str) -> Result<Vec<DailyFigure>, ArgoError> {
    let mut days = Days::default();
    days.read(&document(json)?, 1)?;
    Ok(days.into_figures())
}

/// Every endpoint's daily figures in `report` over the days `from` to `to`
/// (both included), from the ARGO web API at `base_url` (its root, e.g.
/// `https://api.argo.example.org`; `/api/v2/results/…` is appended).
#[tracing::instrument(skip(client, api_key))]
pub async fn pull(
    client: &reqwest::Client,
    base_url: &str,
    report: &str,
    api_key: &str,
    from: Date,
    to: Date,
) -> Result<Vec<DailyFigure>, ArgoError> {
    if from > to {
        return Err(ArgoError::BackwardsRange { from, to });
    }
    let mut key = HeaderValue::from_str(api_key).map_err(|_| ArgoError::BadKey)?;
    key.set_sensitive(true);
    let mut days = Days::default();
    let mut token: Option<String> = None;
    for page in 1..=MAX_PAGES {
        let url = endpoints_url(base_url, report, from, to, token.as_deref())?;
        let doc = document(&fetch_page(client, url, &key).await?)?;
        days.read(&doc, page)?;
        match doc.get("nextPageToken").and_then(Value::as_str) {
            Some(next) if !next.is_empty() => token = Some(next.to_owned()),
            _ => return days.within(from, to),
        }
    }
    Err(ArgoError::EndlessPages)
}

/// `{base}/api/v2/results/{report}/endpoints?start_time=…&end_time=…&granularity=daily[&nextPageToken=…]`.
fn endpoints_url(
    base_url: &str,
    report: &str,
    from: Date,
    to: Date,
    page_token: Option<&str>,
) -> Result<Url, ArgoError> {
    let bad = |reason| ArgoError::BaseUrl {
        base_url: base_url.to_owned(),
        reason,
    };
    let mut url = Url::parse(base_url).map_err(|_| bad("is not a URL"))?;
    url.path_segments_mut()
        .map_err(|()| bad("cannot take a path"))?
        .pop_if_empty()
        .extend(["api", "v2", "results", report, "endpoints"]);
    url.set_query(None);
    url.set_fragment(None);
    {
        let mut query = url.query_pairs_mut();
        query
            .append_pair("start_time", &format!("{from}T00:00:00Z"))
            .append_pair("end_time", &format!("{to}T23:59:59Z"))
            .append_pair("granularity", "daily");
        if let Some(token) = page_token {
            query.append_pair("nextPageToken", token);
        }
    }
    Ok(url)
}

/// One page's body, refused unless 2xx.
async fn fetch_page(
    client: &reqwest::Client,
    url: Url,
    key: &HeaderValue,
) -> Result<String, ArgoError> {
    let response = client
        .get(url)
        .header("x-api-key", key.clone())
        .header(ACCEPT, "application/json")
        .timeout(TIMEOUT)
        .send()
        .await
        .map_err(request_error)?;
    let status = response.status();
    let body = response.text().await.map_err(request_error)?;
    if !status.is_success() {
        return Err(ArgoError::Status {
            status,
            body: excerpt(&body),
        });
    }
    Ok(body)
}

fn request_error(error: reqwest::Error) -> ArgoError {
    if error.is_timeout() {
        ArgoError::Timeout
    } else {
        ArgoError::Request(error)
    }
}

/// The start of `body` on one line.
fn excerpt(body: &str) -> String {
    let line = body.split_whitespace().collect::<Vec<_>>().join(" ");
    match line.char_indices().nth(EXCERPT) {
        Some((cut, _)) => format!("{}…", &line[..cut]),
        None => line,
    }
}

fn document(json: &str) -> Result<Value, ArgoError> {
    serde_json::from_str(json).map_err(ArgoError::NotJson)
}

/// The figures read so far, one per endpoint and day, each with the path it
/// was read at.
#[derive(Default)]
struct Days {
    seen: BTreeMap<(String, Date), (DailyFigure, String)>,
}

impl Days {
    /// Reads one answer, page `page` of the pull.
    fn read(&mut self, doc: &Value, page: usize) -> Result<(), ArgoError> {
        let root = if page > 1 {
            format!("page {page}: results")
        } else {
            "results".to_owned()
        };
        let results = object(doc, "the document")?
            .get("results")
            .ok_or_else(|| ArgoError::Missing { path: root.clone() })?;
        for (i, entry) in array(results, &root)?.iter().enumerate() {
            let path = format!("{root}[{i}]");
            let entry = object(entry, &path)?;
            if let Some(flavors) = entry.get("serviceflavors") {
                // The nested answer: endpoint group → services → endpoints.
                let flavors_path = format!("{path}.serviceflavors");
                for (j, flavor) in array(flavors, &flavors_path)?.iter().enumerate() {
                    let path = format!("{flavors_path}[{j}]");
                    let flavor = object(flavor, &path)?;
                    let service = name_part(flavor, &path, "name")?;
                    let endpoints_path = format!("{path}.endpoints");
                    let endpoints = array(field(flavor, &path, "endpoints")?, &endpoints_path)?;
                    for (k, endpoint) in endpoints.iter().enumerate() {
                        let path = format!("{endpoints_path}[{k}]");
                        let endpoint = object(endpoint, &path)?;
                        let hostname = name_part(endpoint, &path, "name")?;
                        self.endpoint(endpoint, &path, &endpoint_name(&hostname, &service))?;
                    }
                }
            } else if entry.contains_key("service") {
                // The flat list: each entry an endpoint.
                let service = name_part(entry, &path, "service")?;
                let hostname = name_part(entry, &path, "name")?;
                self.endpoint(entry, &path, &endpoint_name(&hostname, &service))?;
            } else {
                return Err(ArgoError::Shape {
                    found: match entry.get("type") {
                        Some(kind) => format!("an object of type {kind}"),
                        None => "an object with neither".to_owned(),
                    },
                    path,
                    expected: "an endpoint (\"service\") or an endpoint group (\"serviceflavors\")",
                });
            }
        }
        Ok(())
    }

    /// One endpoint's days.
    fn endpoint(
        &mut self,
        endpoint: &Map<String, Value>,
        path: &str,
        name: &str,
    ) -> Result<(), ArgoError> {
        if let Some(kind) = endpoint.get("type")
            && kind.as_str() != Some("endpoint")
        {
            return Err(ArgoError::Shape {
                path: format!("{path}.type"),
                expected: "\"endpoint\"",
                found: found(kind),
            });
        }
        let results_path = format!("{path}.results");
        let results = array(field(endpoint, path, "results")?, &results_path)?;
        for (l, result) in results.iter().enumerate() {
            let path = format!("{results_path}[{l}]");
            let result = object(result, &path)?;
            let figure = DailyFigure {
                endpoint: name.to_owned(),
                day: day(result, &path)?,
                availability: percent(result, &path, "availability")?,
                reliability: percent(result, &path, "reliability")?,
                unknown: fraction(result, &path, "unknown")?,
                uptime: fraction(result, &path, "uptime")?,
                downtime: fraction(result, &path, "downtime")?,
            };
            self.add(figure, path)?;
        }
        Ok(())
    }

    fn add(&mut self, figure: DailyFigure, path: String) -> Result<(), ArgoError> {
        match self.seen.entry((figure.endpoint.clone(), figure.day)) {
            Entry::Vacant(vacant) => {
                vacant.insert((figure, path));
                Ok(())
            }
            Entry::Occupied(seen) if seen.get().0 == figure => Ok(()),
            Entry::Occupied(seen) => Err(ArgoError::Conflict {
                endpoint: figure.endpoint,
                day: figure.day,
                first: seen.get().1.clone(),
                second: path,
            }),
        }
    }

    /// The figures, refused if any falls outside `from` to `to`.
    fn within(self, from: Date, to: Date) -> Result<Vec<DailyFigure>, ArgoError> {
        let outside = self.seen.values().find(|(f, _)| f.day < from || f.day > to);
        if let Some((figure, path)) = outside {
            return Err(ArgoError::OutsideRange {
                path: path.clone(),
                day: figure.day,
                from,
                to,
            });
        }
        Ok(self.into_figures())
    }

    fn into_figures(self) -> Vec<DailyFigure> {
        self.seen.into_values().map(|(figure, _)| figure).collect()
    }
}

/// A value as an error quotes it: scalars as JSON, containers by kind.
fn found(value: &Value) -> String {
    match value {
        Value::Array(_) => "an array".to_owned(),
        Value::Object(_) => "an object".to_owned(),
        scalar => excerpt(&scalar.to_string()),
    }
}

fn object<'a>(value: &'a Value, path: &str) -> Result<&'a Map<String, Value>, ArgoError> {
    value.as_object().ok_or_else(|| ArgoError::Shape {
        path: path.to_owned(),
        expected: "an object",
        found: found(value),
    })
}

fn array<'a>(value: &'a Value, path: &str) -> Result<&'a Vec<Value>, ArgoError> {
    value.as_array().ok_or_else(|| ArgoError::Shape {
        path: path.to_owned(),
        expected: "an array",
        found: found(value),
    })
}

fn field<'a>(
    object: &'a Map<String, Value>,
    path: &str,
    key: &str,
) -> Result<&'a Value, ArgoError> {
    object.get(key).ok_or_else(|| ArgoError::Missing {
        path: format!("{path}.{key}"),
    })
}

/// A hostname or service type, fit for [`endpoint_name`].
fn name_part(object: &Map<String, Value>, path: &str, key: &str) -> Result<String, ArgoError> {
    let value = field(object, path, key)?;
    let path = format!("{path}.{key}");
    let Some(text) = value.as_str() else {
        return Err(ArgoError::Shape {
            path,
            expected: "a string",
            found: found(value),
        });
    };
    let reason = if text.is_empty() {
        "it is empty"
    } else if text.contains('/') {
        "endpoint ids may not hold '/'"
    } else if text.contains('@') {
        "'@' separates service and hostname"
    } else {
        return Ok(text.to_owned());
    };
    Err(ArgoError::BadName {
        path,
        value: text.to_owned(),
        reason,
    })
}

/// `timestamp`: a day, `YYYY-MM-DD`.
fn day(result: &Map<String, Value>, path: &str) -> Result<Date, ArgoError> {
    let path = format!("{path}.timestamp");
    let Some(value) = result.get("timestamp") else {
        return Err(ArgoError::Undated { path });
    };
    let Some(text) = value.as_str() else {
        return Err(ArgoError::Shape {
            path,
            expected: "a day (\"YYYY-MM-DD\")",
            found: found(value),
        });
    };
    let shaped = |len: usize, dashes: &[usize]| {
        text.len() == len
            && text.bytes().enumerate().all(|(i, b)| {
                if dashes.contains(&i) {
                    b == b'-'
                } else {
                    b.is_ascii_digit()
                }
            })
    };
    if shaped(7, &[4]) {
        return Err(ArgoError::Monthly {
            path,
            value: text.to_owned(),
        });
    }
    match text.parse::<Date>() {
        Ok(day) if shaped(10, &[4, 7]) => Ok(day),
        _ => Err(ArgoError::NotADay {
            path,
            value: text.to_owned(),
        }),
    }
}

/// A number, as a string (ARGO's way) or as a JSON number.
fn number(result: &Map<String, Value>, path: &str, key: &str) -> Result<f64, ArgoError> {
    let value = field(result, path, key)?;
    let parsed = match value {
        Value::String(text) => text.parse::<f64>().ok(),
        Value::Number(number) => number.as_f64(),
        _ => None,
    };
    parsed
        .filter(|n| n.is_finite())
        .ok_or_else(|| ArgoError::NotANumber {
            path: format!("{path}.{key}"),
            value: found(value),
        })
}

/// A percentage, −1 for undefined.
fn percent(result: &Map<String, Value>, path: &str, key: &str) -> Result<Option<f64>, ArgoError> {
    let n = number(result, path, key)?;
    if n == -1.0 {
        return Ok(None);
    }
    bounded(n, 100.0, path, key, "0 to 100, or -1 for undefined").map(Some)
}

/// A fraction of the day.
fn fraction(result: &Map<String, Value>, path: &str, key: &str) -> Result<f64, ArgoError> {
    let n = number(result, path, key)?;
    bounded(n, 1.0, path, key, "0 to 1")
}

fn bounded(n: f64, max: f64, path: &str, key: &str, range: &'static str) -> Result<f64, ArgoError> {
    if (0.0..=max + SLACK).contains(&n) {
        // `+ 0.0` turns a "-0" into 0.
        Ok(n.min(max) + 0.0)
    } else {
        Err(ArgoError::OutOfRange {
            path: format!("{path}.{key}"),
            value: n,
            range,
        })
    }
}

#[cfg(test)]
mod tests {
    use std::collections::HashMap;
    use std::sync::Arc;

    use axum::Json;
    use axum::Router;
    use axum::extract::{Path, Query, State};
    use axum::http::{HeaderMap, StatusCode};
    use axum::response::{IntoResponse, Response};
    use axum::routing::get;
    use jiff::civil::date;
    use serde_json::json;

    use super::*;

    fn figure(
        endpoint: &str,
        day: Date,
        levels: (Option<f64>, Option<f64>),
        (unknown, uptime, downtime): (f64, f64, f64),
    ) -> DailyFigure {
        DailyFigure {
            endpoint: endpoint.to_owned(),
            day,
            availability: levels.0,
            reliability: levels.1,
            unknown,
            uptime,
            downtime,
        }
    }

    /// Two endpoints of site ST01, as `/results/Critical/endpoints` answers
    /// them; the second endpoint knew nothing on the 23rd.
    fn flat_list() -> Value {
        json!({
            "results": [
                {
                    "name": "se01.example.org",
                    "service": "webdav",
                    "supergroup": "ST01",
                    "type": "endpoint",
                    "info": {"Url": "https://se01.example.org:443/dpm"},
                    "results": [
                        {"timestamp": "2015-06-22", "availability": "98.26389",
                         "reliability": "98.26389", "unknown": "0",
                         "uptime": "0.98264", "downtime": "0"},
                        {"timestamp": "2015-06-23", "availability": "54.03509",
                         "reliability": "81.48148", "unknown": "0.01042",
                         "uptime": "0.53472", "downtime": "0.33333"}
                    ]
                },
                {
                    "name": "ce01.example.org",
                    "service": "org.opensciencegrid.htcondorce",
                    "supergroup": "ST01",
                    "type": "endpoint",
                    "results": [
                        {"timestamp": "2015-06-22", "availability": "100",
                         "reliability": "100", "unknown": "0",
                         "uptime": "1", "downtime": "0"},
                        {"timestamp": "2015-06-23", "availability": "-1",
                         "reliability": "-1", "unknown": "1",
                         "uptime": "0", "downtime": "0"}
                    ]
                }
            ]
        })
    }

    fn flat_list_figures() -> Vec<DailyFigure> {
        let ce = "org.opensciencegrid.htcondorce@ce01.example.org";
        let se = "webdav@se01.example.org";
        vec![
            figure(
                ce,
                date(2015, 6, 22),
                (Some(100.0), Some(100.0)),
                (0.0, 1.0, 0.0),
            ),
            figure(ce, date(2015, 6, 23), (None, None), (1.0, 0.0, 0.0)),
            figure(
                se,
                date(2015, 6, 22),
                (Some(98.26389), Some(98.26389)),
                (0.0, 0.98264, 0.0),
            ),
            figure(
                se,
                date(2015, 6, 23),
                (Some(54.03509), Some(81.48148)),
                (0.01042, 0.53472, 0.33333),
            ),
        ]
    }

    #[test]
    fn endpoint_names_are_service_at_hostname() {
        assert_eq!(
            endpoint_name("se01.example.org", "webdav"),
            "webdav@se01.example.org"
        );
    }

    #[test]
    fn the_flat_list_gives_each_endpoints_days_with_minus_one_undefined() {
        let figures = parse(&flat_list().to_string()).unwrap();
        assert_eq!(figures, flat_list_figures());
    }

    #[test]
    fn the_nested_answer_under_an_endpoint_group_is_walked_numbers_or_strings() {
        let doc = json!({
            "results": [{
                "name": "ST01",
                "type": "SITE",
                "serviceflavors": [{
                    "name": "webdav",
                    "type": "service",
                    "endpoints": [{
                        "name": "se01.example.org",
                        "type": "endpoint",
                        "info": {"Url": "https://se01.example.org"},
                        "results": [{
                            "timestamp": "2015-06-22", "availability": 96.875,
                            "reliability": "96.875", "unknown": 0,
                            "uptime": "0.96875", "downtime": -0.0
                        }]
                    }]
                }]
            }]
        });
        let figures = parse(&doc.to_string()).unwrap();
        assert_eq!(
            figures,
            [figure(
                "webdav@se01.example.org",
                date(2015, 6, 22),
                (Some(96.875), Some(96.875)),
                (0.0, 0.96875, 0.0),
            )]
        );
        assert!(figures[0].downtime.is_sign_positive());
    }

    #[test]
    fn an_endpoint_under_two_groups_counts_once_unless_they_disagree() {
        let mut doc = flat_list();
        let mut again = doc["results"][0].clone();
        again["supergroup"] = json!("ST02");
        doc["results"].as_array_mut().unwrap().push(again.clone());
        assert_eq!(parse(&doc.to_string()).unwrap(), flat_list_figures());

        again["results"][1]["uptime"] = json!("0.5");
        doc["results"].as_array_mut().unwrap().push(again);
        assert_eq!(
            parse(&doc.to_string()).unwrap_err().to_string(),
            "webdav@se01.example.org on 2015-06-23: results[0].results[1] and \
             results[3].results[1] disagree"
        );
    }

    #[test]
    fn bad_documents_name_the_field() {
        let cases: &[(&str, Value, &str)] = &[
            (
                "results[1].results[0].availability",
                json!("abc"),
                "results[1].results[0].availability: \"abc\" is not a number",
            ),
            (
                "results[0].results[1].reliability",
                json!(null),
                "results[0].results[1].reliability: null is not a number",
            ),
            (
                "results[0].results[1].uptime",
                json!("-1"),
                "results[0].results[1].uptime: -1 is out of range (0 to 1)",
            ),
            (
                "results[0].results[0].availability",
                json!("150"),
                "results[0].results[0].availability: 150 is out of range \
                 (0 to 100, or -1 for undefined)",
            ),
            (
                "results[0].results[0].timestamp",
                json!("2015-06"),
                "results[0].results[0].timestamp: \"2015-06\" is a month: only \
                 daily figures are imported (granularity=daily)",
            ),
            (
                "results[0].results[0].timestamp",
                json!("2015-06-31"),
                "results[0].results[0].timestamp: \"2015-06-31\" is not a day (YYYY-MM-DD)",
            ),
            (
                "results[0].results[0].timestamp",
                json!("2015-06-22T00:00:00Z"),
                "results[0].results[0].timestamp: \"2015-06-22T00:00:00Z\" is not a day \
                 (YYYY-MM-DD)",
            ),
            (
                "results[1].name",
                json!("ce01.example.org/arc"),
                "results[1].name: \"ce01.example.org/arc\" cannot name an endpoint: \
                 endpoint ids may not hold '/'",
            ),
            (
                "results[0].service",
                json!(""),
                "results[0].service: \"\" cannot name an endpoint: it is empty",
            ),
            (
                "results[0].results",
                json!({}),
                "results[0].results: expected an array, found an object",
            ),
        ];
        for (at, value, message) in cases {
            let mut doc = flat_list();
            *doc.pointer_mut(&pointer(at)).unwrap() = value.clone();
            assert_eq!(
                parse(&doc.to_string()).unwrap_err().to_string(),
                *message,
                "{at}"
            );
        }

        let mut doc = flat_list();
        doc["results"][0]["results"][1]
            .as_object_mut()
            .unwrap()
            .remove("downtime");
        assert_eq!(
            parse(&doc.to_string()).unwrap_err().to_string(),
            "results[0].results[1].downtime: missing"
        );

        let mut custom = flat_list();
        custom["results"][1]["results"][0]
            .as_object_mut()
            .unwrap()
            .remove("timestamp");
        assert_eq!(
            parse(&custom.to_string()).unwrap_err().to_string(),
            "results[1].results[0].timestamp: no timestamp (custom granularity?): only \
             daily figures are imported"
        );

        // A group's A/R, not endpoints'.
        let groups = json!({"results": [{"name": "NGI_X", "type": "NGI", "endpoints": [
            {"name": "ST01", "type": "SITE", "results": []}]}]});
        assert_eq!(
            parse(&groups.to_string()).unwrap_err().to_string(),
            "results[0]: expected an endpoint (\"service\") or an endpoint group \
             (\"serviceflavors\"), found an object of type \"NGI\""
        );
        let services = json!({"results": [{"name": "ST01", "type": "SITE", "serviceflavors": [
            {"name": "webdav", "type": "service", "endpoints": [
                {"name": "x", "type": "group", "results": []}]}]}]});
        assert_eq!(
            parse(&services.to_string()).unwrap_err().to_string(),
            "results[0].serviceflavors[0].endpoints[0].type: expected \"endpoint\", \
             found \"group\""
        );

        assert_eq!(parse("{}").unwrap_err().to_string(), "results: missing");
        assert!(matches!(parse("<root></root>"), Err(ArgoError::NotJson(_))));
    }

    /// `results[1].results[0].availability` as a JSON pointer.
    fn pointer(path: &str) -> String {
        path.split('.')
            .flat_map(|step| step.split(['[', ']']).filter(|s| !s.is_empty()))
            .fold(String::new(), |p, step| p + "/" + step)
    }

    const KEY: &str = "tenant-key";

    /// An ARGO web API that knows report `Critical`, asked for 22 and 23 June
    /// 2015, answering `pages` one after the other by `nextPageToken`.
    #[derive(Clone)]
    struct Argo {
        pages: Arc<Vec<Value>>,
    }

    async fn endpoint_ar(
        State(argo): State<Argo>,
        Path(report): Path<String>,
        Query(query): Query<HashMap<String, String>>,
        headers: HeaderMap,
    ) -> Response {
        if headers.get("x-api-key").and_then(|v| v.to_str().ok()) != Some(KEY) {
            let status = json!({"status": {
                "message": "Unauthorized",
                "code": "401",
                "details": "You need to provide a correct authentication token using the header 'x-api-key'"
            }});
            return (StatusCode::UNAUTHORIZED, Json(status)).into_response();
        }
        if headers.get("accept").and_then(|v| v.to_str().ok()) != Some("application/json") {
            return (StatusCode::NOT_ACCEPTABLE, "not acceptable").into_response();
        }
        if report != "Critical" {
            let message = format!("The report with the name {report} does not exist");
            return (
                StatusCode::NOT_FOUND,
                Json(json!({"message": message, "code": 404})),
            )
                .into_response();
        }
        let expected = [
            ("start_time", "2015-06-22T00:00:00Z"),
            ("end_time", "2015-06-23T23:59:59Z"),
            ("granularity", "daily"),
        ];
        for (name, value) in expected {
            if query.get(name).map(String::as_str) != Some(value) {
                let message = format!("{name} is {:?}, not {value:?}", query.get(name));
                return (StatusCode::BAD_REQUEST, message).into_response();
            }
        }
        let page = match query.get("nextPageToken") {
            None => 0,
            Some(token) => match token.parse::<usize>() {
                Ok(page) if page < argo.pages.len() => page,
                _ => return (StatusCode::BAD_REQUEST, "bad page token").into_response(),
            },
        };
        Json(argo.pages[page].clone()).into_response()
    }

    /// The base URL of a fake ARGO on a free port.
    async fn spawn_argo(pages: Vec<Value>) -> String {
        let app = Router::new()
            .route("/api/v2/results/{report}/endpoints", get(endpoint_ar))
            .with_state(Argo {
                pages: Arc::new(pages),
            });
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let address = listener.local_addr().unwrap();
        tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
        format!("http://{address}")
    }

    async fn pull_june(
        base_url: &str,
        report: &str,
        key: &str,
    ) -> Result<Vec<DailyFigure>, ArgoError> {
        let client = reqwest::Client::new();
        pull(
            &client,
            base_url,
            report,
            key,
            date(2015, 6, 22),
            date(2015, 6, 23),
        )
        .await
    }

    #[tokio::test]
    async fn pull_asks_for_daily_endpoint_figures_with_the_key() {
        let base = spawn_argo(vec![flat_list()]).await;
        assert_eq!(
            pull_june(&base, "Critical", KEY).await.unwrap(),
            flat_list_figures()
        );
        // A base URL with a trailing slash is the same root.
        assert_eq!(
            pull_june(&format!("{base}/"), "Critical", KEY)
                .await
                .unwrap(),
            flat_list_figures()
        );
    }

    #[tokio::test]
    async fn pull_follows_next_page_tokens() {
        let mut first = flat_list();
        let second = json!({"results": [first["results"][1].take()]});
        first["results"].as_array_mut().unwrap().truncate(1);
        first["nextPageToken"] = json!("1");
        first["pageSize"] = json!(1);
        let base = spawn_argo(vec![first.clone(), second.clone()]).await;
        assert_eq!(
            pull_june(&base, "Critical", KEY).await.unwrap(),
            flat_list_figures()
        );

        // A bad field on a later page is named with its page.
        let mut bad = second;
        bad["results"][0]["results"][0]["availability"] = json!("n/a");
        let base = spawn_argo(vec![first, bad]).await;
        assert_eq!(
            pull_june(&base, "Critical", KEY)
                .await
                .unwrap_err()
                .to_string(),
            "page 2: results[0].results[0].availability: \"n/a\" is not a number"
        );
    }

    #[tokio::test]
    async fn a_wrong_key_is_refused_naming_401() {
        let base = spawn_argo(vec![flat_list()]).await;
        let error = pull_june(&base, "Critical", "stolen").await.unwrap_err();
        assert!(
            matches!(error, ArgoError::Status { status, .. } if status == StatusCode::UNAUTHORIZED)
        );
        let message = error.to_string();
        assert!(
            message.starts_with("ARGO answered 401 Unauthorized: "),
            "{message}"
        );
        assert!(
            message.contains("\"message\":\"Unauthorized\""),
            "{message}"
        );
    }

    #[tokio::test]
    async fn an_unknown_report_and_days_not_asked_for_are_refused() {
        let base = spawn_argo(vec![flat_list()]).await;
        let error = pull_june(&base, "Nope", KEY).await.unwrap_err();
        let message = error.to_string();
        assert!(
            message.starts_with("ARGO answered 404 Not Found: "),
            "{message}"
        );
        assert!(message.contains("The report with the name Nope does not exist"));

        let mut early = flat_list();
        early["results"][0]["results"][0]["timestamp"] = json!("2015-06-21");
        let base = spawn_argo(vec![early]).await;
        assert_eq!(
            pull_june(&base, "Critical", KEY)
                .await
                .unwrap_err()
                .to_string(),
            "results[0].results[0]: 2015-06-21 is outside the days asked for, \
             2015-06-22 to 2015-06-23"
        );
    }

    #[tokio::test]
    async fn backwards_days_and_a_bad_base_url_are_refused_before_asking() {
        let client = reqwest::Client::new();
        let backwards = pull(
            &client,
            "http://127.0.0.1:9",
            "Critical",
            KEY,
            date(2015, 6, 23),
            date(2015, 6, 22),
        );
        assert!(matches!(
            backwards.await,
            Err(ArgoError::BackwardsRange { .. })
        ));
        let bad = pull(
            &client,
            "mailto:argo@example.org",
            "Critical",
            KEY,
            date(2015, 6, 22),
            date(2015, 6, 22),
        );
        assert_eq!(
            bad.await.unwrap_err().to_string(),
            "ARGO's base URL \"mailto:argo@example.org\" cannot take a path"
        );
    }
}
