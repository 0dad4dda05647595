//! Legacy order strings: the flat `SO-1-legacy` field of the JIRA back office this
//! system replaces, e.g.
//!
//! ```text
//! SO-1-legacy : **Compute/EGI Cloud compute/General purpose**?Number of CPU Cores=4&...&**Start of service=02/12/2019&Number of days=2**
//! ```
//!
//! [`parse`] turns one into a service id and validated [`Parameters`], equal to what
//! the same order sent as JSON gives, so an import is lossless and the original
//! string is kept verbatim beside it. [`render`] goes the other way, for exports and
//! for the property tests that pin the two together.
//!
//! The string was edited by hand and passed through a rich-text field, so parsing
//! is forgiving where the old system was (markdown bold and links, label case and
//! spacing, day-first dates, decimal commas) and strict about everything that
//! could change the order's meaning.

use std::collections::BTreeSet;

use pactum_events::catalogue::{ParameterKind, ServiceDefined};
use serde_json::Value;

use crate::catalogue::params::{self, Parameters, decimal_from_number};
use crate::catalogue::{Catalogue, normalize_label};
use crate::validation::FieldError;

/// A parsed legacy order: what it orders, with which parameters, and the string it
/// came from.
#[derive(Clone, Debug, PartialEq)]
pub struct LegacyOrder {
    pub service_id: String,
    pub parameters: Parameters,
    /// The input exactly as given.
    pub raw: String,
}

/// Parses a legacy order string against the catalogue, reporting every problem.
///
/// Accepted: an optional `SO-<n>-legacy :` field prefix, `**bold**` markers
/// anywhere, `[text](target)` links (replaced by their text), then
/// `<service path>?<label>=<value>&<label>=<value>...`. Paths and labels are
/// matched ignoring case and extra whitespace; values are read by
/// [`params::from_legacy_values`].
pub fn parse(catalogue: &Catalogue, raw: &str) -> Result<LegacyOrder, Vec<FieldError>> {
    let text = unlink(&strip_field_prefix(raw.trim()).replace("**", ""));
    let text = text.trim();
    if text.is_empty() {
        return Err(vec![FieldError::new(
            "order",
            "the legacy order string is empty; expected <service path>?<label>=<value>&...",
        )]);
    }
    let Some((path, query)) = text.split_once('?') else {
        return Err(vec![FieldError::new(
            "service",
            "missing '?' between the service path and its parameters",
        )]);
    };
    let path = path.trim();

    let mut errors = Vec::new();
    let mut pairs = Vec::new();
    for pair in query.split('&').map(str::trim) {
        // Tolerate `&&` and a trailing `&`: hand-edited strings have them, and they
        // carry no meaning.
        if pair.is_empty() {
            continue;
        }
        match pair.split_once('=') {
            Some((label, value)) => pairs.push((label.trim(), value)),
            None => errors.push(FieldError::new(
                pair,
                format!("expected <label>=<value>, found no '=' in \"{pair}\""),
            )),
        }
    }

    let Some(service) = catalogue.service_by_legacy_path(path) else {
        let message = if path.is_empty() {
            "missing service path before '?'".to_owned()
        } else {
            format!("unknown service path \"{path}\"")
        };
        errors.insert(0, FieldError::new("service", message));
        return Err(errors);
    };

    let mut values = Vec::new();
    let mut seen = BTreeSet::new();
    for (label, value) in pairs {
        let normalized = normalize_label(label);
        let Some(spec) = service
            .parameters
            .iter()
            .find(|spec| normalize_label(&spec.label) == normalized)
        else {
            errors.push(FieldError::new(
                label,
                format!(
                    "unknown parameter label \"{label}\" for service {}",
                    service.service_id
                ),
            ));
            continue;
        };
        if !seen.insert(normalized) {
            errors.push(FieldError::new(
                label,
                format!(
                    "parameter label \"{label}\" is given more than once ({})",
                    spec.key
                ),
            ));
            continue;
        }
        values.push((spec.key.clone(), value.to_owned()));
    }

    match params::from_legacy_values(service, &values) {
        Ok(parameters) if errors.is_empty() => Ok(LegacyOrder {
            service_id: service.service_id.clone(),
            parameters,
            raw: raw.to_owned(),
        }),
        Ok(_) => Err(errors),
        Err(value_errors) => {
            errors.extend(value_errors);
            Err(errors)
        }
    }
}

/// The three ways the legacy back office showed an order string.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Rendering {
    /// `Compute/EGI Cloud compute/General purpose?Number of CPU Cores=4&...`
    Plain,
    /// `**Compute/...**?Number of CPU Cores=4&...&**Start of service=...&Number of days=2**`
    Bold,
    /// `[Compute/...](#)?Number of CPU Cores=4&...&**Start of service=...&Number of days=2**`
    Link,
}

/// Renders parameters as a legacy order string, in the service's parameter order,
/// with dates day-first as the old system wrote them.
///
/// The legacy format has no escaping: a text value containing `&` or `**` does not
/// survive the trip back through [`parse`].
pub fn render(service: &ServiceDefined, params: &Parameters, style: Rendering) -> String {
    let pairs: Vec<String> = service
        .parameters
        .iter()
        .filter_map(|spec| {
            let value = params.as_map().get(&spec.key)?;
            Some(format!(
                "{}={}",
                spec.label,
                legacy_value(&spec.kind, value)
            ))
        })
        .collect();
    let path = &service.legacy_path;
    match style {
        Rendering::Plain => format!("{path}?{}", pairs.join("&")),
        Rendering::Bold => format!("**{path}**?{}", bold_tail(&pairs)),
        Rendering::Link => format!("[{path}](#)?{}", bold_tail(&pairs)),
    }
}

/// [`render`] with the JIRA field prefix, as in `SO-1-legacy : ...`.
pub fn render_field(
    field_number: u32,
    service: &ServiceDefined,
    params: &Parameters,
    style: Rendering,
) -> String {
    format!(
        "SO-{field_number}-legacy : {}",
        render(service, params, style)
    )
}

/// The seed's bold renderings set the last two pairs (start and duration) in bold.
fn bold_tail(pairs: &[String]) -> String {
    let (head, tail) = pairs.split_at(pairs.len().saturating_sub(2));
    let mut parts = head.to_vec();
    if !tail.is_empty() {
        parts.push(format!("**{}**", tail.join("&")));
    }
    parts.join("&")
}

/// A canonical value in the form the legacy back office wrote it.
fn legacy_value(kind: &ParameterKind, value: &Value) -> String {
    match (kind, value) {
        (ParameterKind::Date, Value::String(iso)) => {
            let mut parts = iso.splitn(3, '-');
            match (parts.next(), parts.next(), parts.next()) {
                (Some(year), Some(month), Some(day)) => format!("{day}/{month}/{year}"),
                _ => iso.clone(),
            }
        }
        (ParameterKind::Boolean, Value::Bool(flag)) => if *flag { "yes" } else { "no" }.to_owned(),
        // Plain decimal notation: serde_json would print tiny or huge floats with an
        // exponent, which legacy strings never have.
        (_, Value::Number(number)) => decimal_from_number(number)
            .map(|decimal| decimal.normalize().to_string())
            .unwrap_or_else(|| number.to_string()),
        (_, Value::String(text)) => text.clone(),
        (_, other) => other.to_string(),
    }
}

/// Drops a leading `SO-<digits>-legacy :` (any case, spaces around the colon).
fn strip_field_prefix(text: &str) -> &str {
    match field_prefix_len(text) {
        Some(len) => &text[len..],
        None => text,
    }
}

fn field_prefix_len(text: &str) -> Option<usize> {
    if !text.get(..3)?.eq_ignore_ascii_case("so-") {
        return None;
    }
    let rest = &text[3..];
    let digits = rest.bytes().take_while(u8::is_ascii_digit).count();
    if digits == 0 {
        return None;
    }
    let rest = &rest[digits..];
    if !rest.get(..7)?.eq_ignore_ascii_case("-legacy") {
        return None;
    }
    let rest = rest[7..].trim_start().strip_prefix(':')?.trim_start();
    Some(text.len() - rest.len())
}

/// Replaces each markdown link `[text](target)` by its text.
fn unlink(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    let mut rest = text;
    while let Some(open) = rest.find('[') {
        let after = &rest[open + 1..];
        if let Some(close) = after.find("](")
            && let Some(end) = after[close + 2..].find(')')
        {
            out.push_str(&rest[..open]);
            out.push_str(&after[..close]);
            rest = &after[close + 2 + end + 1..];
        } else {
            out.push_str(&rest[..=open]);
            rest = after;
        }
    }
    out.push_str(rest);
    out
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeMap;

    use proptest::prelude::*;
    use serde_json::{Map, json};

    use super::*;
    use crate::catalogue::params::strategies::{Generated, casing, padding, parameter_set, recase};
    use crate::catalogue::shipped::shipped_events;

    const SEED_BOLD: &str = "SO-1-legacy : **Compute/EGI Cloud compute/General purpose**?Number of CPU Cores=4&Amount of RAM per CPU core=2&Local disk=40&Number of VM instances=2&Access type=opportunistic&**Start of service=02/12/2019&Number of days=2**";
    const SEED_LINK: &str = "SO-1-legacy : [Compute/EGI Cloud compute/General purpose](#)?Number of CPU Cores=4&Amount of RAM per CPU core=2&Local disk=40&Number of VM instances=2&Access type=opportunistic&**Start of service=02/12/2019&Number of days=2**";
    const SEED_PLAIN: &str = "SO-1-legacy : Compute/EGI Cloud compute/General purpose?Number of CPU Cores=4&Amount of RAM per CPU core=2&Local disk=40&Number of VM instances=2&Access type=opportunistic&Start of service=02/12/2019&Number of days=2";
    const SEEDS: [&str; 3] = [SEED_BOLD, SEED_LINK, SEED_PLAIN];

    fn catalogue() -> Catalogue {
        Catalogue::from_events(&shipped_events())
    }

    fn seed_parameters() -> BTreeMap<String, Value> {
        pactum_testkit::fixtures::cloud_parameter_map()
            .into_iter()
            .collect()
    }

    fn errors(raw: &str) -> Vec<FieldError> {
        parse(&catalogue(), raw).expect_err("should be refused")
    }

    #[test]
    fn the_seed_renderings_give_identical_parameters() {
        let catalogue = catalogue();
        for seed in SEEDS {
            let without_prefix = seed.trim_start_matches("SO-1-legacy : ");
            for raw in [seed, without_prefix] {
                let order = parse(&catalogue, raw).expect(raw);
                assert_eq!(order.service_id, "cloud-compute");
                assert_eq!(order.parameters.as_map(), &seed_parameters(), "{raw}");
                assert_eq!(order.raw, raw);
            }
        }
    }

    #[test]
    fn the_raw_string_is_kept_verbatim() {
        let raw = format!("  {SEED_PLAIN}\n");
        let order = parse(&catalogue(), &raw).expect("valid");
        assert_eq!(order.raw, raw);
    }

    #[test]
    fn render_reproduces_the_seed_strings() {
        let catalogue = catalogue();
        let order = parse(&catalogue, SEED_PLAIN).expect("valid");
        let service = catalogue.service("cloud-compute").expect("shipped");
        for (style, seed) in [
            (Rendering::Bold, SEED_BOLD),
            (Rendering::Link, SEED_LINK),
            (Rendering::Plain, SEED_PLAIN),
        ] {
            assert_eq!(render_field(1, service, &order.parameters, style), seed);
            assert_eq!(
                render(service, &order.parameters, style),
                seed.trim_start_matches("SO-1-legacy : ")
            );
        }
    }

    #[test]
    fn the_prefix_is_case_and_space_insensitive() {
        let body = SEED_PLAIN.trim_start_matches("SO-1-legacy : ");
        for prefix in ["so-12-LEGACY:", "SO-1-legacy   :   ", "So-007-Legacy :"] {
            let order = parse(&catalogue(), &format!("{prefix}{body}")).expect(prefix);
            assert_eq!(order.parameters.as_map(), &seed_parameters());
        }
    }

    #[test]
    fn labels_and_paths_ignore_case_and_spacing() {
        let raw = "compute / EGI  cloud compute/general PURPOSE ? number of cpu cores = 4 &AMOUNT OF RAM PER CPU CORE=2,0&  Local   disk=40&Number of VM instances=2&Access type=Opportunistic&Start of service=2/12/2019&Number of days= 2 &";
        let order = parse(&catalogue(), raw).expect("valid");
        assert_eq!(order.parameters.as_map(), &seed_parameters());
    }

    #[test]
    fn an_empty_string_is_refused() {
        for raw in ["", "   ", "SO-1-legacy : ", "****"] {
            let errors = errors(raw);
            assert_eq!(errors.len(), 1, "{raw:?}");
            assert_eq!(errors[0].field, "order");
        }
    }

    #[test]
    fn a_missing_question_mark_is_refused() {
        let errors = errors("Compute/EGI Cloud compute/General purpose&Number of CPU Cores=4");
        assert_eq!(
            errors,
            [FieldError::new(
                "service",
                "missing '?' between the service path and its parameters"
            )]
        );
    }

    #[test]
    fn an_unknown_service_is_refused_with_its_path() {
        assert_eq!(
            errors("Compute/EGI Quantum/General purpose?Qubits=4"),
            [FieldError::new(
                "service",
                "unknown service path \"Compute/EGI Quantum/General purpose\""
            )]
        );
        assert_eq!(
            errors("?Qubits=4"),
            [FieldError::new(
                "service",
                "missing service path before '?'"
            )]
        );
    }

    #[test]
    fn an_unknown_label_is_refused_by_name() {
        let raw = SEED_PLAIN.replace("&Local disk=40", "&Local disk=40&Colour=blue");
        assert_eq!(
            errors(&raw),
            [FieldError::new(
                "Colour",
                "unknown parameter label \"Colour\" for service cloud-compute"
            )]
        );
    }

    #[test]
    fn a_duplicate_label_is_refused() {
        let raw = SEED_PLAIN.replace("&Local disk=40", "&Local disk=40&local  DISK=40");
        let errors = errors(&raw);
        assert_eq!(errors.len(), 1, "{errors:?}");
        assert_eq!(errors[0].field, "local  DISK");
        assert!(errors[0].message.contains("more than once"), "{errors:?}");
    }

    #[test]
    fn a_pair_without_equals_is_refused_by_name() {
        let raw = SEED_PLAIN.replace("&Local disk=40", "&Local disk 40");
        let errors = errors(&raw);
        assert_eq!(errors.len(), 2, "{errors:?}");
        assert_eq!(errors[0].field, "Local disk 40");
        assert_eq!(
            errors[1],
            FieldError::new("local_disk_gb", "Local disk (local_disk_gb): is required")
        );
    }

    #[test]
    fn bad_values_are_reported_under_their_key_with_their_label() {
        let raw = SEED_PLAIN
            .replace("Cores=4", "Cores=2000")
            .replace("02/12/2019", "31/02/2019")
            .replace("&Number of days=2", "");
        let errors = errors(&raw);
        let fields: Vec<&str> = errors.iter().map(|error| error.field.as_str()).collect();
        assert_eq!(
            fields,
            ["cpu_cores", "start_date", "duration_days"],
            "{errors:?}"
        );
        assert_eq!(
            errors[0].message,
            "Number of CPU Cores (cpu_cores): must be an integer between 1 and 1024, got 2000"
        );
        assert!(
            errors[1]
                .message
                .starts_with("Start of service (start_date): ")
        );
        assert_eq!(
            errors[2].message,
            "Number of days (duration_days): is required"
        );
    }

    #[test]
    fn every_error_is_collected() {
        let raw = "Compute/EGI Cloud compute/General purpose?Number of CPU Cores=lots&Colour=blue&oops&Access type=spot";
        let fields: Vec<String> = errors(raw).into_iter().map(|error| error.field).collect();
        assert_eq!(
            fields,
            [
                "oops",
                "Colour",
                "cpu_cores",
                "access_type",
                "ram_per_core_gb",
                "local_disk_gb",
                "vm_instances",
                "start_date",
                "duration_days"
            ]
        );
    }

    #[test]
    fn links_and_bold_anywhere_are_markup() {
        let raw = "**[Compute/EGI Cloud compute/General purpose](https://example.org/x)**?**Number of CPU Cores=4**&Amount of RAM per CPU core=**2**&Local disk=40&Number of VM instances=2&[Access type](#)=opportunistic&Start of service=02/12/2019&Number of days=2";
        let order = parse(&catalogue(), raw).expect("valid");
        assert_eq!(order.parameters.as_map(), &seed_parameters());
        assert_eq!(unlink("a [b] c [d](e"), "a [b] c [d](e");
    }

    #[test]
    fn optional_parameters_may_be_absent_or_blank() {
        let raw = "Storage/EGI Online Storage/General purpose?Storage size=500&Storage type=Object&Number of replicas=2&VO name=&Start of service=15/01/2024&Number of days=365";
        let order = parse(&catalogue(), raw).expect("valid");
        assert_eq!(order.service_id, "online-storage");
        assert!(!order.parameters.as_map().contains_key("vo_name"));
        assert_eq!(order.parameters.as_map()["storage_type"], json!("object"));
    }

    /// A random service and a valid parameter set for it.
    fn any_order() -> impl Strategy<Value = (ServiceDefined, Vec<Generated>)> {
        let services: Vec<ServiceDefined> = catalogue().services.into_values().collect();
        proptest::sample::select(services)
            .prop_flat_map(|service| (Just(service.clone()), parameter_set(&service)))
    }

    fn json_parameters(service: &ServiceDefined, values: &[Generated]) -> Parameters {
        let map: Map<String, Value> = values
            .iter()
            .map(|generated| (generated.key.clone(), generated.json.clone()))
            .collect();
        params::from_json(service, &map).expect("generated values are valid")
    }

    /// Spaces a label oddly: extra spaces between words and around it.
    fn respace(label: &str, extra: &[bool]) -> String {
        let words: Vec<&str> = label.split(' ').collect();
        let mut out = String::new();
        for (i, word) in words.iter().enumerate() {
            if i > 0 {
                out.push(' ');
            }
            if extra.get(i).copied().unwrap_or(false) {
                out.push(' ');
            }
            out.push_str(word);
        }
        if extra.last().copied().unwrap_or(false) {
            out.push(' ');
        }
        out
    }

    proptest! {
        #[test]
        fn parse_inverts_render((service, values) in any_order()) {
            let catalogue = catalogue();
            let parameters = json_parameters(&service, &values);
            for style in [Rendering::Plain, Rendering::Bold, Rendering::Link] {
                let order = parse(&catalogue, &render(&service, &parameters, style));
                prop_assert_eq!(order.map(|order| order.parameters), Ok(parameters.clone()));
                let order = parse(&catalogue, &render_field(3, &service, &parameters, style));
                prop_assert_eq!(order.map(|order| order.service_id), Ok(service.service_id.clone()));
            }
        }

        #[test]
        fn parse_reads_hand_edited_strings(
            (service, values, order, path_style, prefixed, marks, label_cases, label_spaces, pads) in
                any_order().prop_flat_map(|(service, values)| {
                    let n = values.len();
                    let order: Vec<usize> = (0..n).collect();
                    (
                        Just(service),
                        Just(values),
                        Just(order).prop_shuffle(),
                        0..3usize,
                        any::<bool>(),
                        proptest::collection::vec((any::<bool>(), any::<bool>()), n),
                        proptest::collection::vec(casing(), n),
                        proptest::collection::vec(proptest::collection::vec(any::<bool>(), 0..8), n),
                        proptest::collection::vec(padding(), n),
                    )
                }),
        ) {
            let parameters = json_parameters(&service, &values);
            let path = match path_style {
                0 => service.legacy_path.clone(),
                1 => format!("**{}**", service.legacy_path),
                _ => format!("[{}](#)", service.legacy_path.to_uppercase()),
            };
            let pairs: Vec<String> = order
                .iter()
                .map(|&i| {
                    let generated = &values[i];
                    let spec = service
                        .parameters
                        .iter()
                        .find(|spec| spec.key == generated.key)
                        .expect("generated from the spec");
                    let label = respace(&recase(&spec.label, &label_cases[i]), &label_spaces[i]);
                    let (open, close) = marks[i];
                    format!(
                        "{}{label}={}{}{}",
                        if open { "**" } else { "" },
                        pads[i],
                        generated.legacy,
                        if close { "**" } else { "" },
                    )
                })
                .collect();
            let prefix = if prefixed { "SO-1-legacy : " } else { "" };
            let raw = format!("{prefix}{path}?{}", pairs.join("&"));
            let parsed = parse(&catalogue(), &raw);
            prop_assert_eq!(
                parsed.map(|order| (order.service_id, order.parameters)),
                Ok((service.service_id.clone(), parameters)),
                "{}", raw
            );
        }
    }
}
