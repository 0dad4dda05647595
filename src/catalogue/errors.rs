//! Why a catalogue is refused: by its file's shape or by the catalogue's rules,
//! and why the catalogue aggregate refuses a command.

/// Why a catalogue file (or a set of catalogue events) is refused. Each variant
/// names the broken rule and where.
#[derive(Debug, thiserror::Error)]
pub enum CatalogueFileError {
    #[error("the catalogue file is not valid: {0}")]
    Toml(#[from] toml::de::Error),
    #[error("{owner}: colour {colour:?} must be #rrggbb")]
    BadColour { owner: String, colour: String },
    #[error("service {service}: agreement defaults: {reason}")]
    BadAgreementDefaults { service: String, reason: String },
    #[error("{what} id {id:?} must be lower-kebab-case (a-z, 0-9 and inner '-')")]
    BadId { what: &'static str, id: String },
    #[error(
        "service {service}: parameter key {key:?} must be snake_case (a-z, 0-9, '_', starting with a letter)"
    )]
    BadKey { service: String, key: String },
    #[error("{owner}: {field} must not be blank")]
    Blank { owner: String, field: &'static str },
    #[error(
        "provider {provider}: country {country:?} must be an ISO 3166-1 alpha-2 code such as \"FR\""
    )]
    BadCountry { provider: String, country: String },
    #[error("group {0:?} is defined twice")]
    DuplicateGroup(String),
    #[error("service {0:?} is defined twice")]
    DuplicateService(String),
    #[error("provider {0:?} is defined twice")]
    DuplicateProvider(String),
    #[error("service {service}: group {group:?} is not defined")]
    UnknownGroup { service: String, group: String },
    #[error("provider {provider}: service {service:?} is not defined")]
    UnknownService { provider: String, service: String },
    #[error("service {service}: parameter key {key:?} is used twice")]
    DuplicateParameterKey { service: String, key: String },
    #[error(
        "service {service}: labels {first:?} and {second:?} are the same once case and spaces are ignored, so a legacy order string could not tell them apart"
    )]
    DuplicateLabel {
        service: String,
        first: String,
        second: String,
    },
    #[error(
        "services {first} and {second} have the same legacy path {path:?} once case and spaces are ignored"
    )]
    DuplicateLegacyPath {
        first: String,
        second: String,
        path: String,
    },
    #[error("service {service}, parameter {key}: an enum needs at least one value")]
    EmptyEnum { service: String, key: String },
    #[error(
        "service {service}, parameter {key}: enum value {value:?} must be non-empty, without surrounding spaces"
    )]
    BadEnumValue {
        service: String,
        key: String,
        value: String,
    },
    #[error(
        "service {service}, parameter {key}: enum value {value:?} repeats another once case is ignored"
    )]
    DuplicateEnumValue {
        service: String,
        key: String,
        value: String,
    },
    #[error("service {service}, parameter {key}: min {min} is greater than max {max}")]
    MinAboveMax {
        service: String,
        key: String,
        min: String,
        max: String,
    },
    #[error("service {service}, parameter {key}: `{field}` does not apply to a {kind} parameter")]
    NotApplicable {
        service: String,
        key: String,
        field: &'static str,
        kind: &'static str,
    },
    #[error("service {service}, parameter {key}: `{field}` must be {expected}")]
    BadBound {
        service: String,
        key: String,
        field: &'static str,
        expected: &'static str,
    },
    #[error(
        "service {service}: {what} {text:?} contains {token:?}, which legacy order strings use as syntax"
    )]
    NotLegacySafe {
        service: String,
        what: &'static str,
        text: String,
        token: &'static str,
    },
}

/// Why the catalogue aggregate refuses a command.
#[derive(Debug, PartialEq, Eq, thiserror::Error)]
pub enum CatalogueError {
    #[error("only admins may change the catalogue")]
    NotAllowed,
    #[error("the catalogue is already loaded")]
    AlreadySeeded,
    /// The catalogue after the change would break one of its rules (422).
    #[error("{reason}")]
    Invalid { field: &'static str, reason: String },
    /// A retired entry is never defined again, and takes no new use (409).
    #[error("{what} {id} is retired{detail}")]
    Retired {
        what: &'static str,
        id: String,
        detail: &'static str,
    },
    /// Orders, queues and handling targets key on a service's group (409).
    #[error(
        "service {service} belongs to group {from}; a service never changes group (its orders, queues and handling targets key on it): define a new service in {to} and retire this one"
    )]
    GroupChange {
        service: String,
        from: String,
        to: String,
    },
    #[error("group {group} still has live services ({services}): retire them first")]
    GroupInUse { group: String, services: String },
    #[error("no {what} {id:?}")]
    NotFound { what: &'static str, id: String },
    /// `If-Match` named another version of the entry (412).
    #[error("the {what} is at version {current}, not the one given in If-Match")]
    VersionMismatch { what: &'static str, current: u32 },
}
