//! Order parameters, parsed against one service's parameter specifications.
//!
//! "Parse, don't validate": the only ways to get a [`Parameters`] are [`from_json`]
//! (the body of `POST /v1/orders`) and [`from_legacy_values`] (the raw values of a
//! legacy order string, already matched to keys by `orders::legacy`). Both produce
//! the canonical form that `OrderSubmitted` stores (see `pactum_events::order`):
//! integers as JSON integers, decimals as JSON numbers (integral ones as integers),
//! dates as `YYYY-MM-DD`, enums as their canonical value, text trimmed. Because the
//! two front ends share one canonicalisation, the same order given as JSON or as a
//! legacy string yields equal `Parameters`.
//!
//! Every bad field is reported, never just the first: a 422 names each of them, in a
//! message the customer can act on.
//!
//! Dates are calendar days from [`EARLIEST_DATE`] to [`LATEST_DATE`], and so is the
//! last day of an agreement's validity (its start plus its number of days, see
//! [`validity_end`]): a year 1 or a year 9999 is a typing mistake, not an order.

use std::collections::{BTreeMap, BTreeSet};
use std::fmt::Display;

use jiff::Span;
use jiff::civil::{Date, date};
use pactum_events::catalogue::{ParameterKind, ParameterSpec, ServiceDefined};
use rust_decimal::Decimal;
use rust_decimal::prelude::ToPrimitive;
use serde::Serialize;
use serde_json::{Map, Number, Value};

use crate::validation::FieldError;

/// The earliest date a `date` parameter may take: 1970-01-01. Nothing pactum
/// records happened before; older dates are typing mistakes (`0001-01-01`,
/// `0019-12-02`). A start date in the past but in range is still accepted: the
/// agreement then starts on the day it is activated.
pub const EARLIEST_DATE: Date = date(1970, 1, 1);

/// The latest date a `date` parameter may take, and the latest last day of an
/// agreement's validity: 2999-12-31. Far beyond any real commitment, and far
/// enough from the end of the calendar (9999-12-31) that a start plus a number
/// of days is always computed, never clamped.
pub const LATEST_DATE: Date = date(2999, 12, 31);

/// Whether `day` lies in the range of dates pactum accepts, or why not.
pub fn check_date_range(day: Date) -> Result<(), String> {
    if (EARLIEST_DATE..=LATEST_DATE).contains(&day) {
        Ok(())
    } else {
        Err(format!(
            "must be a date from {EARLIEST_DATE} to {LATEST_DATE}, got {day}"
        ))
    }
}

/// The last day of a validity of `days` days from `start`: `start + days - 1`,
/// which must not be after [`LATEST_DATE`]. The error is the message for the
/// number of days (the field that makes the sum overflow); `days` below 1 is an
/// error too.
pub fn validity_end(start: Date, days: i64) -> Result<Date, String> {
    if days < 1 {
        return Err(format!("must be at least 1 day, got {days}"));
    }
    Span::new()
        .try_days(days - 1)
        .ok()
        .and_then(|span| start.checked_add(span).ok())
        .filter(|end| *end <= LATEST_DATE)
        .ok_or_else(|| {
            format!(
                "{days} days from {start} end after {LATEST_DATE}, the latest date an agreement may cover"
            )
        })
}

/// Parameters validated against one service's spec: canonical keys, canonical JSON
/// values. Built only by [`from_json`] and [`from_legacy_values`].
#[derive(Clone, Debug, PartialEq, Serialize)]
#[serde(transparent)]
pub struct Parameters(BTreeMap<String, Value>);

impl Parameters {
    pub fn as_map(&self) -> &BTreeMap<String, Value> {
        &self.0
    }

    pub fn into_map(self) -> BTreeMap<String, Value> {
        self.0
    }
}

/// Validates a JSON object of parameters. A `null` value counts as not given, so an
/// optional parameter may be sent as `null`.
pub fn from_json(
    service: &ServiceDefined,
    input: &Map<String, Value>,
) -> Result<Parameters, Vec<FieldError>> {
    let given = input
        .iter()
        .map(|(key, value)| (key.as_str(), (!value.is_null()).then_some(Raw::Json(value))));
    build(service, given, Front::Json)
}

/// Validates the raw values of a legacy order string, keyed by canonical key (the
/// legacy parser has already matched the labels). Used by the legacy parser.
///
/// Legacy forms accepted on top of the JSON ones: integers with surrounding
/// whitespace, decimal commas (`2,5`), enum values in any case, dates as
/// `dd/mm/yyyy` (or `d/m/yyyy`, or ISO `yyyy-mm-dd`), booleans as
/// yes/no/true/false/1/0. An empty value counts as not given: the old order form
/// sent blank fields for what the customer left out.
///
/// Error messages name the legacy label as well as the key, since the customer
/// wrote the label.
pub fn from_legacy_values(
    service: &ServiceDefined,
    input: &[(String, String)],
) -> Result<Parameters, Vec<FieldError>> {
    let given = input.iter().map(|(key, raw)| {
        let raw = raw.trim();
        (key.as_str(), (!raw.is_empty()).then_some(Raw::Legacy(raw)))
    });
    build(service, given, Front::Legacy)
}

/// Converts a JSON number to an exact decimal through its textual form, so that
/// bounds and values are compared exactly and never as `f64`. `None` when the
/// number is beyond what a [`Decimal`] holds (about 7.9e28, or 28 decimal places).
pub(crate) fn decimal_from_number(number: &Number) -> Option<Decimal> {
    if let Some(int) = number.as_i64() {
        return Some(Decimal::from(int));
    }
    if let Some(int) = number.as_u64() {
        return Some(Decimal::from(int));
    }
    // serde_json prints floats in their shortest round-tripping form, which uses an
    // exponent for very large or very small magnitudes ("1e-7").
    let text = number.to_string();
    Decimal::from_str_exact(&text)
        .or_else(|_| Decimal::from_scientific(&text))
        .ok()
}

/// Which front end the values came from: it decides how messages name the field.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Front {
    Json,
    Legacy,
}

/// One given value, before parsing.
#[derive(Clone, Copy)]
enum Raw<'a> {
    Json(&'a Value),
    /// Already trimmed and non-empty.
    Legacy(&'a str),
}

impl Raw<'_> {
    /// How the value is shown back in a message: as JSON, or as the quoted text.
    fn shown(self) -> String {
        match self {
            Raw::Json(value) => value.to_string(),
            Raw::Legacy(text) => format!("\"{text}\""),
        }
    }
}

fn build<'a>(
    service: &ServiceDefined,
    given: impl Iterator<Item = (&'a str, Option<Raw<'a>>)>,
    front: Front,
) -> Result<Parameters, Vec<FieldError>> {
    let mut values = BTreeMap::new();
    let mut errors = Vec::new();
    let mut seen = BTreeSet::new();
    // Keys given with a value (good or bad): only the others can be "missing".
    let mut present = BTreeSet::new();

    for (key, raw) in given {
        let Some(spec) = service.parameters.iter().find(|spec| spec.key == key) else {
            errors.push(FieldError::new(key, unknown_parameter(service)));
            continue;
        };
        if !seen.insert(key) {
            errors.push(field_error(spec, front, "is given more than once"));
            continue;
        }
        let Some(raw) = raw else { continue };
        present.insert(key);
        match parse_value(&spec.kind, raw) {
            Ok(value) => {
                values.insert(spec.key.clone(), value);
            }
            Err(message) => errors.push(field_error(spec, front, message)),
        }
    }
    for spec in &service.parameters {
        if spec.required && !present.contains(spec.key.as_str()) {
            errors.push(field_error(spec, front, "is required"));
        }
    }
    if let Some(error) = overflowing_validity(service, &values, front) {
        errors.push(error);
    }

    if errors.is_empty() {
        Ok(Parameters(values))
    } else {
        Err(errors)
    }
}

/// A start date and a number of days (the service's validity parameters) whose
/// last day falls after [`LATEST_DATE`]: an error on the number of days. Without a
/// start date the agreement starts at activation, which checks it then.
fn overflowing_validity(
    service: &ServiceDefined,
    values: &BTreeMap<String, Value>,
    front: Front,
) -> Option<FieldError> {
    let spec = service.validity.as_ref()?;
    let start: Date = values.get(&spec.start)?.as_str()?.parse().ok()?;
    let days = values.get(&spec.duration_days)?.as_i64()?;
    let message = validity_end(start, days).err()?;
    let days_spec = service
        .parameters
        .iter()
        .find(|p| p.key == spec.duration_days)?;
    Some(field_error(days_spec, front, message))
}

fn unknown_parameter(service: &ServiceDefined) -> String {
    let keys: Vec<&str> = service
        .parameters
        .iter()
        .map(|spec| spec.key.as_str())
        .collect();
    format!(
        "unknown parameter; {} takes {}",
        service.service_id,
        keys.join(", ")
    )
}

fn field_error(spec: &ParameterSpec, front: Front, message: impl Display) -> FieldError {
    match front {
        Front::Json => FieldError::new(&spec.key, message.to_string()),
        Front::Legacy => FieldError::new(
            &spec.key,
            format!("{} ({}): {message}", spec.label, spec.key),
        ),
    }
}

/// Parses one value into its canonical JSON form, or says what is wrong with it.
/// The message is the customer-facing text of a [`FieldError`].
fn parse_value(kind: &ParameterKind, raw: Raw<'_>) -> Result<Value, String> {
    match kind {
        ParameterKind::Integer { min, max } => parse_integer(*min, *max, raw),
        ParameterKind::Number { min, max } => parse_number(min.as_ref(), max.as_ref(), raw),
        ParameterKind::Enum { values } => parse_enum(values, raw),
        ParameterKind::Date => parse_date(raw),
        ParameterKind::Boolean => parse_boolean(raw),
        ParameterKind::Text { max_length } => parse_text(*max_length, raw),
    }
}

fn parse_integer(min: Option<i64>, max: Option<i64>, raw: Raw<'_>) -> Result<Value, String> {
    let expected = with_bounds("an integer", min, max);
    let parsed = match raw {
        // Only a JSON integer: 4.0, "4" and true are refused, so a client's type
        // mistakes surface instead of being guessed at.
        Raw::Json(Value::Number(number)) => number.as_i64(),
        Raw::Json(_) => None,
        Raw::Legacy(text) => text.parse::<i64>().ok(),
    };
    let Some(int) = parsed else {
        return Err(format!("must be {expected}, got {}", raw.shown()));
    };
    if min.is_some_and(|min| int < min) || max.is_some_and(|max| int > max) {
        return Err(format!("must be {expected}, got {int}"));
    }
    Ok(Value::from(int))
}

fn parse_number(min: Option<&Number>, max: Option<&Number>, raw: Raw<'_>) -> Result<Value, String> {
    // A bound that no Decimal can hold constrains no Decimal value either;
    // `shipped::parse_catalogue` refuses such bounds, so this only matters for
    // services defined by other means.
    let min = min.and_then(decimal_from_number);
    let max = max.and_then(decimal_from_number);
    // Normalized so that a bound written `64.0` reads "64" in messages.
    let expected = with_bounds(
        "a number",
        min.map(|min| min.normalize()),
        max.map(|max| max.normalize()),
    );
    let parsed = match raw {
        Raw::Json(Value::Number(number)) => decimal_from_number(number),
        Raw::Json(_) => None,
        Raw::Legacy(text) => legacy_decimal(text),
    };
    let Some(decimal) = parsed else {
        return Err(format!("must be {expected}, got {}", raw.shown()));
    };
    if min.is_some_and(|min| decimal < min) || max.is_some_and(|max| decimal > max) {
        return Err(format!("must be {expected}, got {}", decimal.normalize()));
    }
    canonical_number(decimal).ok_or_else(|| format!("must be {expected}, got {}", raw.shown()))
}

/// Integral decimals become JSON integers (2.0 → 2); others JSON numbers. The event
/// contract stores JSON numbers, and serde_json holds those as `f64`: the decimal's
/// text is parsed by the standard library, which rounds correctly, so equal
/// decimals always give the same number.
fn canonical_number(decimal: Decimal) -> Option<Value> {
    let decimal = decimal.normalize();
    if decimal.fract().is_zero()
        && let Some(int) = decimal.to_i64()
    {
        return Some(Value::from(int));
    }
    let float = decimal.to_string().parse::<f64>().ok()?;
    Number::from_f64(float).map(Value::Number)
}

/// `2`, `-2`, `2.5` or `2,5`: digits with at most one decimal separator. Nothing
/// else (no exponent, no digit grouping), since a legacy string was typed by a person.
fn legacy_decimal(text: &str) -> Option<Decimal> {
    let (negative, unsigned) = match text.strip_prefix('-') {
        Some(rest) => (true, rest),
        None => (false, text.strip_prefix('+').unwrap_or(text)),
    };
    let (whole, fraction) = match unsigned.split_once(['.', ',']) {
        Some((whole, fraction)) => (whole, Some(fraction)),
        None => (unsigned, None),
    };
    let all_digits = |part: &str| !part.is_empty() && part.bytes().all(|b| b.is_ascii_digit());
    if !all_digits(whole) || fraction.is_some_and(|fraction| !all_digits(fraction)) {
        return None;
    }
    let sign = if negative { "-" } else { "" };
    let text = match fraction {
        Some(fraction) => format!("{sign}{whole}.{fraction}"),
        None => format!("{sign}{whole}"),
    };
    Decimal::from_str_exact(&text).ok()
}

fn with_bounds<T: Display>(noun: &str, min: Option<T>, max: Option<T>) -> String {
    match (min, max) {
        (Some(min), Some(max)) => format!("{noun} between {min} and {max}"),
        (Some(min), None) => format!("{noun} of at least {min}"),
        (None, Some(max)) => format!("{noun} of at most {max}"),
        (None, None) => noun.to_owned(),
    }
}

fn parse_enum(values: &[String], raw: Raw<'_>) -> Result<Value, String> {
    let found = match raw {
        // JSON clients get the canonical spelling from `GET /v1/services`.
        Raw::Json(Value::String(text)) => values.iter().find(|value| *value == text),
        Raw::Json(_) => None,
        // People typed legacy strings: any case will do.
        Raw::Legacy(text) => {
            let wanted = text.to_lowercase();
            values.iter().find(|value| value.to_lowercase() == wanted)
        }
    };
    match found {
        Some(value) => Ok(Value::String(value.clone())),
        None => Err(format!(
            "must be one of {}, got {}",
            values.join(", "),
            raw.shown()
        )),
    }
}

fn parse_date(raw: Raw<'_>) -> Result<Value, String> {
    let (parsed, form) = match raw {
        Raw::Json(Value::String(text)) => (iso_date(text), "YYYY-MM-DD"),
        Raw::Json(_) => (Err(DateError::Malformed), "YYYY-MM-DD"),
        Raw::Legacy(text) => {
            let parsed = if text.contains('/') {
                day_month_year(text)
            } else {
                iso_date(text)
            };
            (parsed, "dd/mm/yyyy")
        }
    };
    match parsed {
        Ok(date) if check_date_range(date).is_err() => Err(format!(
            "must be a date from {} to {}, got {}",
            shown(EARLIEST_DATE, form),
            shown(LATEST_DATE, form),
            raw.shown()
        )),
        Ok(date) => Ok(Value::String(format!(
            "{:04}-{:02}-{:02}",
            date.year(),
            date.month(),
            date.day()
        ))),
        Err(DateError::Malformed) => Err(format!("must be a date as {form}, got {}", raw.shown())),
        Err(DateError::NoSuchDay) => Err(format!(
            "must be a date as {form}, got {}, which is not a day of the calendar",
            raw.shown()
        )),
    }
}

/// A date as the customer writes it: `YYYY-MM-DD` or `dd/mm/yyyy`.
fn shown(day: Date, form: &str) -> String {
    if form == "dd/mm/yyyy" {
        format!("{:02}/{:02}/{:04}", day.day(), day.month(), day.year())
    } else {
        day.to_string()
    }
}

enum DateError {
    Malformed,
    NoSuchDay,
}

/// Strictly `YYYY-MM-DD`. Hand-rolled rather than jiff's parser, which also takes
/// datetimes and other ISO 8601 forms that the contract does not allow.
fn iso_date(text: &str) -> Result<Date, DateError> {
    let mut parts = text.split('-');
    match (parts.next(), parts.next(), parts.next(), parts.next()) {
        (Some(year), Some(month), Some(day), None) => {
            calendar_date(digits(year, 4, 4), digits(month, 2, 2), digits(day, 2, 2))
        }
        _ => Err(DateError::Malformed),
    }
}

/// `dd/mm/yyyy` or `d/m/yyyy`: day first, as the legacy back office wrote it.
fn day_month_year(text: &str) -> Result<Date, DateError> {
    let mut parts = text.split('/');
    match (parts.next(), parts.next(), parts.next(), parts.next()) {
        (Some(day), Some(month), Some(year), None) => {
            calendar_date(digits(year, 4, 4), digits(month, 1, 2), digits(day, 1, 2))
        }
        _ => Err(DateError::Malformed),
    }
}

fn digits(text: &str, min_len: usize, max_len: usize) -> Option<i16> {
    let len_ok = (min_len..=max_len).contains(&text.len());
    if len_ok && text.bytes().all(|b| b.is_ascii_digit()) {
        text.parse().ok()
    } else {
        None
    }
}

fn calendar_date(
    year: Option<i16>,
    month: Option<i16>,
    day: Option<i16>,
) -> Result<Date, DateError> {
    let (Some(year), Some(month), Some(day)) = (year, month, day) else {
        return Err(DateError::Malformed);
    };
    let month = i8::try_from(month).map_err(|_| DateError::NoSuchDay)?;
    let day = i8::try_from(day).map_err(|_| DateError::NoSuchDay)?;
    Date::new(year, month, day).map_err(|_| DateError::NoSuchDay)
}

fn parse_boolean(raw: Raw<'_>) -> Result<Value, String> {
    let parsed = match raw {
        Raw::Json(Value::Bool(value)) => Some(*value),
        Raw::Json(_) => None,
        Raw::Legacy(text) => match text.to_ascii_lowercase().as_str() {
            "yes" | "true" | "1" => Some(true),
            "no" | "false" | "0" => Some(false),
            _ => None,
        },
    };
    let expected = match raw {
        Raw::Json(_) => "true or false",
        Raw::Legacy(_) => "yes or no",
    };
    parsed
        .map(Value::Bool)
        .ok_or_else(|| format!("must be {expected}, got {}", raw.shown()))
}

fn parse_text(max_length: Option<u32>, raw: Raw<'_>) -> Result<Value, String> {
    let text = match raw {
        Raw::Json(Value::String(text)) => text.trim(),
        Raw::Json(_) => return Err(format!("must be text, got {}", raw.shown())),
        Raw::Legacy(text) => text,
    };
    if text.is_empty() {
        return Err("must not be empty".to_owned());
    }
    let length = text.chars().count();
    if let Some(max) = max_length
        && u32::try_from(length).map_or(true, |length| length > max)
    {
        return Err(format!(
            "must be at most {max} characters long, got {length}"
        ));
    }
    Ok(Value::String(text.to_owned()))
}

/// Strategies for property tests here and in `orders::legacy`.
#[cfg(test)]
pub(crate) mod strategies {
    use pactum_events::catalogue::{ParameterKind, ParameterSpec, ServiceDefined};
    use proptest::prelude::*;
    use rust_decimal::Decimal;
    use rust_decimal::prelude::ToPrimitive;
    use serde_json::Value;

    use super::decimal_from_number;

    /// One generated value: its key, its JSON form, and a legacy form of the same
    /// value (decimal comma, odd casing, day-first date, stray whitespace...).
    #[derive(Clone, Debug)]
    pub(crate) struct Generated {
        pub key: String,
        pub json: Value,
        pub legacy: String,
    }

    /// A valid parameter set for `service`: every required parameter, and each
    /// optional one or not.
    pub(crate) fn parameter_set(service: &ServiceDefined) -> BoxedStrategy<Vec<Generated>> {
        let per_spec: Vec<BoxedStrategy<Option<Generated>>> = service
            .parameters
            .iter()
            .map(|spec| {
                let value = value(spec);
                if spec.required {
                    value.prop_map(Some).boxed()
                } else {
                    proptest::option::of(value).boxed()
                }
            })
            .collect();
        per_spec
            .prop_map(|values| values.into_iter().flatten().collect())
            .boxed()
    }

    fn value(spec: &ParameterSpec) -> BoxedStrategy<Generated> {
        let key = spec.key.clone();
        let forms: BoxedStrategy<(Value, String)> = match &spec.kind {
            ParameterKind::Integer { min, max } => (
                min.unwrap_or(-1_000_000)..=max.unwrap_or(1_000_000),
                padding(),
            )
                .prop_map(|(int, pad)| (Value::from(int), format!("{pad}{int}{pad}")))
                .boxed(),
            ParameterKind::Number { min, max } => {
                let min = min
                    .as_ref()
                    .and_then(decimal_from_number)
                    .unwrap_or(Decimal::from(-1_000_000));
                let max = max
                    .as_ref()
                    .and_then(decimal_from_number)
                    .unwrap_or(Decimal::from(1_000_000));
                (decimal_in(min, max), any::<bool>())
                    .prop_map(|(decimal, comma)| {
                        let text = decimal.to_string();
                        let json = serde_json::from_str(&text).expect("a decimal is JSON");
                        let legacy = if comma { text.replace('.', ",") } else { text };
                        (json, legacy)
                    })
                    .boxed()
            }
            ParameterKind::Enum { values } => (proptest::sample::select(values.clone()), casing())
                .prop_map(|(value, upper)| {
                    let legacy = recase(&value, &upper);
                    (Value::String(value), legacy)
                })
                .boxed(),
            ParameterKind::Date => (1970i16..=2100, 1i8..=12, 1i8..=28, 0..3usize)
                .prop_map(|(year, month, day, form)| {
                    let json = format!("{year:04}-{month:02}-{day:02}");
                    let legacy = match form {
                        0 => format!("{day:02}/{month:02}/{year:04}"),
                        1 => format!("{day}/{month}/{year:04}"),
                        _ => json.clone(),
                    };
                    (Value::String(json), legacy)
                })
                .boxed(),
            ParameterKind::Boolean => (any::<bool>(), 0..3usize, casing())
                .prop_map(|(value, form, upper)| {
                    let words = if value {
                        ["yes", "true", "1"]
                    } else {
                        ["no", "false", "0"]
                    };
                    (Value::Bool(value), recase(words[form], &upper))
                })
                .boxed(),
            ParameterKind::Text { max_length } => {
                let max = max_length.unwrap_or(40).clamp(1, 40) as usize;
                ("[A-Za-z0-9][A-Za-z0-9 ._-]{0,39}", padding())
                    .prop_map(move |(text, pad)| {
                        let text: String = text.chars().take(max).collect();
                        let text = text.trim_end().to_owned();
                        (
                            Value::String(format!("{pad}{text}")),
                            format!("{text}{pad}"),
                        )
                    })
                    .boxed()
            }
        };
        forms
            .prop_map(move |(json, legacy)| Generated {
                key: key.clone(),
                json,
                legacy,
            })
            .boxed()
    }

    /// A decimal in `[min, max]` with up to three decimal places.
    pub(crate) fn decimal_in(min: Decimal, max: Decimal) -> BoxedStrategy<Decimal> {
        (0u32..=3)
            .prop_flat_map(move |scale| {
                let factor = Decimal::from(10i64.pow(scale));
                let low = (min * factor).ceil().to_i64().expect("small bound");
                let high = (max * factor).floor().to_i64().expect("small bound");
                (low..=high).prop_map(move |mantissa| Decimal::new(mantissa, scale))
            })
            .boxed()
    }

    pub(crate) fn padding() -> impl Strategy<Value = &'static str> {
        proptest::sample::select(vec!["", " ", "  ", "\t"])
    }

    pub(crate) fn casing() -> impl Strategy<Value = Vec<bool>> {
        proptest::collection::vec(any::<bool>(), 0..64)
    }

    /// Upper-cases the characters whose flag is set.
    pub(crate) fn recase(text: &str, upper: &[bool]) -> String {
        text.chars()
            .enumerate()
            .map(|(i, c)| {
                if upper.get(i).copied().unwrap_or(false) {
                    c.to_ascii_uppercase()
                } else {
                    c.to_ascii_lowercase()
                }
            })
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use proptest::prelude::*;
    use serde_json::json;

    use super::strategies::{Generated, decimal_in, parameter_set};
    use super::*;
    use crate::catalogue::Catalogue;
    use crate::catalogue::shipped::shipped_events;

    fn catalogue() -> Catalogue {
        Catalogue::from_events(&shipped_events())
    }

    fn cloud() -> ServiceDefined {
        catalogue()
            .service("cloud-compute")
            .cloned()
            .expect("shipped service")
    }

    fn spec(kind: ParameterKind, required: bool) -> ParameterSpec {
        ParameterSpec {
            key: "p".into(),
            label: "The parameter".into(),
            kind,
            required,
            unit: None,
            description: None,
        }
    }

    /// A service with one parameter `p`, to test one kind at a time.
    fn single(kind: ParameterKind) -> ServiceDefined {
        ServiceDefined {
            service_id: "single".into(),
            name: "Single".into(),
            group: "compute".into(),
            legacy_path: "Test/Single".into(),
            description: None,
            parameters: vec![spec(kind, true)],
            targets: None,
            support: None,
            validity: None,
            version: None,
        }
    }

    fn json_one(service: &ServiceDefined, value: Value) -> Result<Value, Vec<FieldError>> {
        let mut map = Map::new();
        map.insert("p".into(), value);
        from_json(service, &map).map(|params| params.as_map()["p"].clone())
    }

    fn legacy_one(service: &ServiceDefined, raw: &str) -> Result<Value, Vec<FieldError>> {
        from_legacy_values(service, &[("p".into(), raw.into())])
            .map(|params| params.as_map()["p"].clone())
    }

    fn only_message(result: Result<Value, Vec<FieldError>>) -> String {
        let errors = result.expect_err("should be refused");
        assert_eq!(errors.len(), 1, "{errors:?}");
        assert_eq!(errors[0].field, "p");
        errors[0].message.clone()
    }

    fn seed_json() -> Map<String, Value> {
        pactum_testkit::fixtures::cloud_parameter_map()
    }

    fn integer() -> ServiceDefined {
        single(ParameterKind::Integer {
            min: Some(1),
            max: Some(1024),
        })
    }

    fn number() -> ServiceDefined {
        single(ParameterKind::Number {
            min: Number::from_f64(0.5),
            max: Some(Number::from(512)),
        })
    }

    #[test]
    fn the_seed_order_as_json_is_accepted_unchanged() {
        let params = from_json(&cloud(), &seed_json()).expect("valid");
        let expected: BTreeMap<String, Value> = seed_json().into_iter().collect();
        assert_eq!(params.as_map(), &expected);
        assert_eq!(params.into_map(), expected);
    }

    #[test]
    fn every_bad_field_is_reported() {
        let mut input = seed_json();
        input.insert("cpu_cores".into(), json!(2000));
        input.insert("access_type".into(), json!("Guaranteed"));
        input.insert("colour".into(), json!("blue"));
        input.remove("start_date");
        let errors = from_json(&cloud(), &input).expect_err("invalid");
        let fields: Vec<&str> = errors.iter().map(|e| e.field.as_str()).collect();
        assert_eq!(
            fields,
            ["access_type", "colour", "cpu_cores", "start_date"],
            "{errors:?}"
        );
        assert_eq!(
            errors[0].message,
            "must be one of opportunistic, guaranteed, got \"Guaranteed\""
        );
        assert!(errors[1].message.starts_with("unknown parameter"));
        assert_eq!(
            errors[2].message,
            "must be an integer between 1 and 1024, got 2000"
        );
        assert_eq!(errors[3].message, "is required");
    }

    #[test]
    fn optional_parameters_may_be_left_out_or_null() {
        let storage = catalogue()
            .service("online-storage")
            .cloned()
            .expect("shipped");
        let Value::Object(mut input) = json!({
            "storage_size_gb": 500,
            "storage_type": "object",
            "replicas": 2,
            "start_date": "2024-01-15",
            "duration_days": 365,
        }) else {
            unreachable!()
        };
        let without = from_json(&storage, &input).expect("vo_name is optional");
        input.insert("vo_name".into(), Value::Null);
        assert_eq!(from_json(&storage, &input), Ok(without.clone()));
        assert!(!without.as_map().contains_key("vo_name"));
    }

    #[test]
    fn a_required_parameter_given_as_null_is_missing() {
        let message = only_message(json_one(&integer(), Value::Null));
        assert_eq!(message, "is required");
    }

    #[test]
    fn integers_are_json_integers_only() {
        let service = integer();
        assert_eq!(json_one(&service, json!(4)), Ok(json!(4)));
        for bad in [json!(4.5), json!(4.0), json!("4"), json!(true), json!(null)] {
            assert!(json_one(&service, bad.clone()).is_err(), "{bad}");
        }
        assert_eq!(
            only_message(json_one(&service, json!("4"))),
            "must be an integer between 1 and 1024, got \"4\""
        );
        assert_eq!(
            only_message(json_one(&service, json!(u64::MAX))),
            format!("must be an integer between 1 and 1024, got {}", u64::MAX)
        );
    }

    #[test]
    fn integer_bounds_are_inclusive() {
        let service = integer();
        assert_eq!(json_one(&service, json!(1)), Ok(json!(1)));
        assert_eq!(json_one(&service, json!(1024)), Ok(json!(1024)));
        assert_eq!(
            only_message(json_one(&service, json!(0))),
            "must be an integer between 1 and 1024, got 0"
        );
        assert_eq!(
            only_message(json_one(&service, json!(1025))),
            "must be an integer between 1 and 1024, got 1025"
        );
    }

    #[test]
    fn half_open_bounds_are_described() {
        let at_least = single(ParameterKind::Integer {
            min: Some(0),
            max: None,
        });
        assert_eq!(
            only_message(json_one(&at_least, json!(-1))),
            "must be an integer of at least 0, got -1"
        );
        let at_most = single(ParameterKind::Number {
            min: None,
            max: Number::from_f64(10.0),
        });
        assert_eq!(
            only_message(json_one(&at_most, json!(10.5))),
            "must be a number of at most 10, got 10.5"
        );
    }

    #[test]
    fn legacy_integers_allow_whitespace_only() {
        let service = integer();
        assert_eq!(legacy_one(&service, " 4 "), Ok(json!(4)));
        for bad in ["4.5", "4,0", "four", "4 cores", "0x10"] {
            assert!(legacy_one(&service, bad).is_err(), "{bad}");
        }
        assert_eq!(
            only_message(legacy_one(&service, "2000")),
            "The parameter (p): must be an integer between 1 and 1024, got 2000"
        );
        assert_eq!(
            only_message(legacy_one(&service, "four")),
            "The parameter (p): must be an integer between 1 and 1024, got \"four\""
        );
    }

    #[test]
    fn numbers_are_canonical() {
        let service = number();
        assert_eq!(json_one(&service, json!(2)), Ok(json!(2)));
        assert_eq!(json_one(&service, json!(2.0)), Ok(json!(2)));
        assert_eq!(json_one(&service, json!(2.5)), Ok(json!(2.5)));
        assert_eq!(json_one(&service, json!(0.5)), Ok(json!(0.5)));
        assert_eq!(json_one(&service, json!(512)), Ok(json!(512)));
        let two: Value = serde_json::from_str("2.000").expect("json");
        assert_eq!(json_one(&service, two), Ok(json!(2)));
    }

    #[test]
    fn number_bounds_are_exact() {
        let service = number();
        assert_eq!(
            only_message(json_one(&service, json!(0.49))),
            "must be a number between 0.5 and 512, got 0.49"
        );
        assert_eq!(
            only_message(json_one(&service, json!(512.001))),
            "must be a number between 0.5 and 512, got 512.001"
        );
        // Compared as decimals, a hair below the bound is below it.
        let tiny: Value = serde_json::from_str("0.4999999999999999").expect("json");
        assert!(json_one(&service, tiny).is_err());
        assert_eq!(
            only_message(json_one(&service, json!("2.5"))),
            "must be a number between 0.5 and 512, got \"2.5\""
        );
        assert!(json_one(&service, json!(1e300)).is_err());
    }

    #[test]
    fn legacy_numbers_take_a_decimal_comma() {
        let service = number();
        assert_eq!(legacy_one(&service, "2"), Ok(json!(2)));
        assert_eq!(legacy_one(&service, "2.5"), Ok(json!(2.5)));
        assert_eq!(legacy_one(&service, "2,5"), Ok(json!(2.5)));
        assert_eq!(legacy_one(&service, " 2,50 "), Ok(json!(2.5)));
        assert_eq!(legacy_one(&service, "2.0"), Ok(json!(2)));
        for bad in ["2.5.1", "1,000.5", "2e3", ".5", "5.", "two", "1_0"] {
            assert!(legacy_one(&service, bad).is_err(), "{bad}");
        }
        assert_eq!(
            only_message(legacy_one(&service, "0,25")),
            "The parameter (p): must be a number between 0.5 and 512, got 0.25"
        );
    }

    #[test]
    fn enums_match_exactly_in_json_and_in_any_case_in_legacy() {
        let service = single(ParameterKind::Enum {
            values: vec!["opportunistic".into(), "guaranteed".into()],
        });
        assert_eq!(
            json_one(&service, json!("guaranteed")),
            Ok(json!("guaranteed"))
        );
        assert_eq!(
            only_message(json_one(&service, json!("GUARANTEED"))),
            "must be one of opportunistic, guaranteed, got \"GUARANTEED\""
        );
        assert!(json_one(&service, json!(1)).is_err());
        assert_eq!(legacy_one(&service, "Guaranteed"), Ok(json!("guaranteed")));
        assert_eq!(
            only_message(legacy_one(&service, "spot")),
            "The parameter (p): must be one of opportunistic, guaranteed, got \"spot\""
        );
    }

    #[test]
    fn json_dates_are_iso_calendar_days() {
        let service = single(ParameterKind::Date);
        assert_eq!(
            json_one(&service, json!("2019-12-02")),
            Ok(json!("2019-12-02"))
        );
        assert_eq!(
            json_one(&service, json!("2024-02-29")),
            Ok(json!("2024-02-29"))
        );
        for bad in [
            json!("2019-12-2"),
            json!("02/12/2019"),
            json!("2019-12-02T10:00"),
            json!("20191202"),
            json!(20191202),
        ] {
            assert_eq!(
                only_message(json_one(&service, bad.clone())),
                format!("must be a date as YYYY-MM-DD, got {bad}")
            );
        }
        assert_eq!(
            only_message(json_one(&service, json!("2023-02-29"))),
            "must be a date as YYYY-MM-DD, got \"2023-02-29\", which is not a day of the calendar"
        );
        assert!(json_one(&service, json!("2023-13-01")).is_err());
    }

    #[test]
    fn legacy_dates_are_day_first() {
        let service = single(ParameterKind::Date);
        assert_eq!(legacy_one(&service, "02/12/2019"), Ok(json!("2019-12-02")));
        assert_eq!(legacy_one(&service, "2/12/2019"), Ok(json!("2019-12-02")));
        assert_eq!(legacy_one(&service, "2019-12-02"), Ok(json!("2019-12-02")));
        for bad in [
            "12/2019",
            "02/12/19",
            "02-12-2019",
            "2/12/2019/1",
            "02/12/ 2019",
        ] {
            assert!(legacy_one(&service, bad).is_err(), "{bad}");
        }
        assert_eq!(
            only_message(legacy_one(&service, "31/04/2020")),
            "The parameter (p): must be a date as dd/mm/yyyy, got \"31/04/2020\", \
             which is not a day of the calendar"
        );
    }

    #[test]
    fn dates_lie_from_1970_to_2999() {
        let service = single(ParameterKind::Date);
        for good in ["1970-01-01", "2019-12-02", "2999-12-31"] {
            assert_eq!(json_one(&service, json!(good)), Ok(json!(good)));
        }
        for bad in ["1969-12-31", "0001-01-01", "3000-01-01", "9999-12-31"] {
            assert_eq!(
                only_message(json_one(&service, json!(bad))),
                format!("must be a date from 1970-01-01 to 2999-12-31, got \"{bad}\"")
            );
        }
        assert_eq!(legacy_one(&service, "1/1/1970"), Ok(json!("1970-01-01")));
        assert_eq!(legacy_one(&service, "31/12/2999"), Ok(json!("2999-12-31")));
        for bad in ["31/12/1969", "01/01/0001", "01/01/3000", "31/12/9999"] {
            assert_eq!(
                only_message(legacy_one(&service, bad)),
                format!(
                    "The parameter (p): must be a date from 01/01/1970 to 31/12/2999, got \"{bad}\""
                )
            );
        }
    }

    #[test]
    fn a_validity_may_end_on_the_last_day_of_2999_and_no_later() {
        let with = |start: &str, days: i64| {
            let mut input = seed_json();
            input.insert("start_date".into(), json!(start));
            input.insert("duration_days".into(), json!(days));
            from_json(&cloud(), &input)
        };
        assert!(with("2999-12-31", 1).is_ok());
        assert!(with("2990-01-03", 3650).is_ok(), "ends on 2999-12-31");
        let errors = with("2990-01-04", 3650).unwrap_err();
        assert_eq!(errors.len(), 1, "{errors:?}");
        assert_eq!(errors[0].field, "duration_days");
        assert!(errors[0].message.contains("after 2999-12-31"), "{errors:?}");
        let errors = with("2999-12-31", 2).unwrap_err();
        assert_eq!(errors[0].field, "duration_days");

        // As a legacy string names it: label and key.
        let values = [
            ("start_date", "31/12/2999"),
            ("duration_days", "3650"),
            ("cpu_cores", "4"),
            ("ram_per_core_gb", "2"),
            ("local_disk_gb", "40"),
            ("vm_instances", "2"),
            ("access_type", "opportunistic"),
        ]
        .map(|(k, v)| (k.to_owned(), v.to_owned()));
        let errors = from_legacy_values(&cloud(), &values).unwrap_err();
        assert_eq!(errors.len(), 1, "{errors:?}");
        assert_eq!(errors[0].field, "duration_days");
        assert!(
            errors[0]
                .message
                .starts_with("Number of days (duration_days): 3650 days from 2999-12-31"),
            "{errors:?}"
        );

        assert_eq!(validity_end(date(2999, 12, 31), 1), Ok(date(2999, 12, 31)));
        assert!(
            validity_end(date(9999, 12, 31), 3650).is_err(),
            "no clamping"
        );
        assert!(validity_end(date(2027, 1, 4), 0).is_err());
        assert!(validity_end(date(2027, 1, 4), i64::MAX).is_err());
    }

    #[test]
    fn booleans() {
        let service = single(ParameterKind::Boolean);
        assert_eq!(json_one(&service, json!(true)), Ok(json!(true)));
        assert_eq!(
            only_message(json_one(&service, json!("yes"))),
            "must be true or false, got \"yes\""
        );
        for (raw, expected) in [
            ("yes", true),
            ("YES", true),
            ("True", true),
            ("1", true),
            ("no", false),
            ("False", false),
            ("0", false),
        ] {
            assert_eq!(legacy_one(&service, raw), Ok(json!(expected)), "{raw}");
        }
        assert_eq!(
            only_message(legacy_one(&service, "maybe")),
            "The parameter (p): must be yes or no, got \"maybe\""
        );
    }

    #[test]
    fn text_is_trimmed_non_empty_and_bounded() {
        let service = single(ParameterKind::Text {
            max_length: Some(5),
        });
        assert_eq!(
            json_one(&service, json!("  biomed ")),
            Err(vec![FieldError::new(
                "p",
                "must be at most 5 characters long, got 6"
            )])
        );
        assert_eq!(json_one(&service, json!(" ÉcoLe ")), Ok(json!("ÉcoLe")));
        assert_eq!(
            only_message(json_one(&service, json!("   "))),
            "must not be empty"
        );
        assert_eq!(
            only_message(json_one(&service, json!(5))),
            "must be text, got 5"
        );
        assert_eq!(legacy_one(&service, " vo.1 "), Ok(json!("vo.1")));
    }

    #[test]
    fn an_empty_legacy_value_is_not_given() {
        assert_eq!(
            only_message(legacy_one(&integer(), "  ")),
            "The parameter (p): is required"
        );
        let mut service = integer();
        service.parameters[0].required = false;
        let params = from_legacy_values(&service, &[("p".into(), String::new())]).expect("ok");
        assert!(params.as_map().is_empty());
    }

    #[test]
    fn legacy_unknown_and_repeated_keys_are_refused() {
        let errors = from_legacy_values(
            &integer(),
            &[
                ("p".into(), "1".into()),
                ("q".into(), "1".into()),
                ("p".into(), "2".into()),
            ],
        )
        .expect_err("invalid");
        assert_eq!(errors.len(), 2, "{errors:?}");
        assert_eq!(errors[0].field, "q");
        assert!(errors[0].message.starts_with("unknown parameter"));
        assert_eq!(
            errors[1],
            FieldError::new("p", "The parameter (p): is given more than once")
        );
    }

    #[test]
    fn the_seed_order_gives_the_same_parameters_as_json_and_legacy() {
        let legacy: Vec<(String, String)> = [
            ("cpu_cores", "4"),
            ("ram_per_core_gb", "2"),
            ("local_disk_gb", "40"),
            ("vm_instances", "2"),
            ("access_type", "opportunistic"),
            ("start_date", "02/12/2019"),
            ("duration_days", "2"),
        ]
        .into_iter()
        .map(|(key, raw)| (key.to_owned(), raw.to_owned()))
        .collect();
        assert_eq!(
            from_legacy_values(&cloud(), &legacy),
            from_json(&cloud(), &seed_json())
        );
    }

    fn any_service() -> impl Strategy<Value = ServiceDefined> {
        let services: Vec<ServiceDefined> = catalogue().services.into_values().collect();
        proptest::sample::select(services)
    }

    proptest! {
        #[test]
        fn in_range_integers_round_trip(int in 1i64..=1024) {
            prop_assert_eq!(json_one(&integer(), json!(int)), Ok(json!(int)));
            prop_assert_eq!(legacy_one(&integer(), &int.to_string()), Ok(json!(int)));
        }

        #[test]
        fn in_range_decimals_round_trip(
            decimal in decimal_in(Decimal::new(5, 1), Decimal::from(512)),
        ) {
            let input: Value = serde_json::from_str(&decimal.to_string()).expect("json");
            let stored = json_one(&number(), input).expect("in range");
            let Value::Number(stored_number) = &stored else {
                return Err(TestCaseError::fail(format!("not a number: {stored}")));
            };
            prop_assert_eq!(decimal_from_number(stored_number), Some(decimal.normalize()));
            prop_assert_eq!(stored_number.is_i64(), decimal.fract().is_zero());
            let legacy = legacy_one(&number(), &decimal.to_string().replace('.', ","));
            prop_assert_eq!(legacy, Ok(stored));
        }

        #[test]
        fn json_and_legacy_forms_of_the_same_values_agree(
            (service, values) in any_service()
                .prop_flat_map(|service| (Just(service.clone()), parameter_set(&service))),
        ) {
            let json: Map<String, Value> = values
                .iter()
                .map(|Generated { key, json, .. }| (key.clone(), json.clone()))
                .collect();
            let legacy: Vec<(String, String)> = values
                .iter()
                .map(|Generated { key, legacy, .. }| (key.clone(), legacy.clone()))
                .collect();
            let from_json = from_json(&service, &json);
            prop_assert!(from_json.is_ok(), "{:?}", from_json);
            prop_assert_eq!(from_legacy_values(&service, &legacy), from_json);
        }
    }
}
