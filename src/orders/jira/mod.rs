//! `pactum import-jira`: the tickets of the JIRA back office pactum replaces,
//! brought over as orders with their whole history (`docs/adr/0019`).
//!
//! [`export`] reads JIRA's REST search answer (with `expand=changelog`),
//! [`mapping`] the mapping file (status names, users, organisations). [`prepare`]
//! checks every ticket and turns each into an order's history — the submission
//! (the description is the legacy order string, parsed as `import-legacy` does),
//! then the status changes, assignments and comments in the order they happened,
//! each event recorded at its original time with the person who made it as its
//! actor. [`import`] appends them, a chunk of tickets per transaction, marked as
//! history: the outbox mails nobody, and no handling clock starts.
//!
//! Nothing is appended unless every ticket is good. A ticket's order id is
//! derived from its key, so a ticket imported before (by this run or an earlier
//! one) is found and skipped, and importing a file twice appends nothing.

pub mod export;
pub mod mapping;

use std::collections::HashMap;

use jiff::Timestamp;
use pactum_events::Actor;
use pactum_events::order::{
    CommentAdded, Customer, OrderAssigned, OrderEvent, OrderSource, OrderStatus,
    OrderStatusImported, Visibility,
};
use sha2::{Digest, Sha256};

use self::export::{Issue, User};
use self::mapping::Mapping;
use crate::access::{Principal, Role};
use crate::catalogue::Catalogue;
use crate::orders::aggregate::Order;
use crate::orders::commands::{OrderAction, OrderCommand};
use crate::orders::service;
use crate::store::{
    AppendError, AppendOutcome, AppendRequest, EventMeta, EventStore, NewEvent, StoreError,
};
use crate::validation::{self, FieldError};

/// The subject recorded for what JIRA did by itself (the status a ticket was
/// created in, its first assignee) and for changes without an author.
pub const IMPORTER: &str = "import-jira";

/// How many tickets are committed together.
const CHUNK: usize = 100;

/// The longest comment taken (JIRA's own default limit is 32,767 characters).
const COMMENT_MAX: usize = 100_000;

/// A problem with one ticket: its key (or its place in the file), the field,
/// and what is wrong.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct TicketError {
    pub key: String,
    pub field: String,
    pub message: String,
}

impl TicketError {
    pub fn new(
        key: impl Into<String>,
        field: impl Into<String>,
        message: impl Into<String>,
    ) -> Self {
        Self {
            key: key.into(),
            field: field.into(),
            message: message.into(),
        }
    }
}

impl std::fmt::Display for TicketError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self.field.as_str() {
            "" => write!(f, "{}: {}", self.key, self.message),
            field => write!(f, "{}: {field}: {}", self.key, self.message),
        }
    }
}

/// What the command line adds to the mapping.
#[derive(Clone, Debug, Default)]
pub struct Defaults {
    /// `--org`: the organisation of tickets nothing else places.
    pub org: Option<String>,
}

/// The order id of the ticket `key`: the same on every run, so a ticket is
/// imported once (a UUID made of the key's SHA-256).
pub fn order_id(key: &str) -> String {
    let digest = Sha256::digest(format!("pactum import-jira\u{1f}{key}"));
    let mut bytes = [0; 16];
    bytes.copy_from_slice(&digest[..16]);
    uuid::Builder::from_custom_bytes(bytes)
        .into_uuid()
        .to_string()
}

/// A ticket checked and turned into its order's history, ready to append.
#[derive(Clone, Debug)]
pub struct Prepared {
    pub key: String,
    pub order_id: String,
    /// The order's status at the end of the history.
    pub status: OrderStatus,
    entries: Vec<Entry>,
}

impl Prepared {
    /// How many events the order's history has.
    pub fn events(&self) -> usize {
        self.entries.iter().map(|e| e.events.len()).sum()
    }
}

/// Events one person caused at one instant (one append request).
#[derive(Clone, Debug)]
struct Entry {
    at: Timestamp,
    actor: Actor,
    /// Where in the ticket they come from: `jira:KEY`, `jira:KEY/changelog/ID`,
    /// `jira:KEY/comment/ID` (the envelope's causation id).
    cause: String,
    events: Vec<OrderEvent>,
}

/// Checks every ticket against the catalogue and the mapping; any error means
/// nothing will be imported, and every bad ticket is named.
pub fn prepare(
    catalogue: &Catalogue,
    issues: &[Issue],
    mapping: &Mapping,
    defaults: &Defaults,
    file_name: &str,
) -> Result<Vec<Prepared>, Vec<TicketError>> {
    let people = People::of(issues, mapping);
    let mut prepared = Vec::with_capacity(issues.len());
    let mut errors = Vec::new();
    for issue in issues {
        let ticket = Ticket {
            catalogue,
            mapping,
            defaults,
            file_name,
            people: &people,
            issue,
        };
        match ticket.prepare() {
            Ok(ticket) => prepared.push(ticket),
            Err(problems) => errors.extend(
                problems
                    .into_iter()
                    .map(|e| TicketError::new(&issue.key, e.field, e.message)),
            ),
        }
    }
    if errors.is_empty() {
        Ok(prepared)
    } else {
        Err(errors)
    }
}

/// The people of an export: every user object seen, under every name it has,
/// so that a changelog naming a user by key finds the user a field names by
/// name.
struct People<'m> {
    mapping: &'m Mapping,
    /// A person's id (see [`User::id`]) and every other name it has.
    persons: Vec<(String, Vec<String>)>,
    by_alias: HashMap<String, usize>,
    /// By display name; `None` when two people share it.
    by_display: HashMap<String, Option<usize>>,
}

/// One person of the export.
type Person = usize;

impl<'m> People<'m> {
    fn of(issues: &[Issue], mapping: &'m Mapping) -> Self {
        let mut people = Self {
            mapping,
            persons: Vec::new(),
            by_alias: HashMap::new(),
            by_display: HashMap::new(),
        };
        for issue in issues {
            let fields = &issue.fields;
            let comments = fields.comment.iter().flat_map(|c| &c.comments);
            let histories = issue.changelog.iter().flat_map(|c| &c.histories);
            for user in [&fields.reporter, &fields.assignee]
                .into_iter()
                .flatten()
                .chain(comments.filter_map(|c| c.author.as_ref()))
                .chain(histories.filter_map(|h| h.author.as_ref()))
            {
                people.learn(user);
            }
        }
        // A user a changelog names by key or accountId only (an assignee who
        // never wrote or reported anything) is known by that name.
        let named = issues
            .iter()
            .flat_map(|issue| issue.changelog.iter().flat_map(|c| &c.histories))
            .flat_map(|history| &history.items)
            .filter(|item| item.field.eq_ignore_ascii_case("assignee"))
            .flat_map(|item| [&item.from, &item.to])
            .flatten();
        for name in named {
            let name = name.trim();
            if !name.is_empty() && !people.by_alias.contains_key(name) {
                people
                    .persons
                    .push((name.to_owned(), vec![name.to_owned()]));
                people
                    .by_alias
                    .insert(name.to_owned(), people.persons.len() - 1);
            }
        }
        people
    }

    fn learn(&mut self, user: &User) {
        let Some(id) = user.id() else { return };
        let aliases: Vec<String> = user.aliases().map(str::to_owned).collect();
        let person = match aliases.iter().find_map(|a| self.by_alias.get(a)) {
            Some(&person) => {
                let known = &mut self.persons[person].1;
                for alias in &aliases {
                    if !known.contains(alias) {
                        known.push(alias.clone());
                    }
                }
                person
            }
            None => {
                self.persons.push((id.to_owned(), aliases.clone()));
                self.persons.len() - 1
            }
        };
        for alias in aliases {
            self.by_alias.entry(alias).or_insert(person);
        }
        if let Some(display) = user.display_name.as_deref().map(str::trim)
            && !display.is_empty()
        {
            self.by_display
                .entry(display.to_owned())
                .and_modify(|known| {
                    if *known != Some(person) {
                        *known = None;
                    }
                })
                .or_insert(Some(person));
        }
    }

    /// The person a user object is.
    fn user(&self, user: &User) -> Option<Person> {
        user.aliases().find_map(|a| self.by_alias.get(a).copied())
    }

    /// The person a changelog names: by its key or accountId (`name`), else by
    /// its display name.
    fn named(&self, name: Option<&str>, display: Option<&str>) -> Result<Option<Person>, String> {
        if let Some(name) = name.map(str::trim).filter(|n| !n.is_empty()) {
            // Every name of a changelog's assignee is known (`People::of`).
            return Ok(self.by_alias.get(name).copied());
        }
        match display.map(str::trim).filter(|d| !d.is_empty()) {
            None => Ok(None),
            Some(display) => match self.by_display.get(display) {
                Some(Some(person)) => Ok(Some(*person)),
                Some(None) => Err(format!(
                    "user {display:?} is named by display name only, which several users share"
                )),
                None => Err(format!(
                    "user {display:?} is named by display name only, and no user of the export \
                     has it"
                )),
            },
        }
    }

    /// The subject a person acts as: the mapping's, or the person's id.
    fn subject(&self, person: Person) -> Result<String, String> {
        let (id, aliases) = &self.persons[person];
        let subject = self
            .mapping
            .user(std::iter::once(id.as_str()).chain(aliases.iter().map(String::as_str)))
            .unwrap_or(id);
        validation::subject("subject", subject).map_err(|e| {
            format!(
                "user {id:?} maps to subject {subject:?}, which {}",
                e.message
            )
        })
    }

    fn names(&self, person: Person) -> impl Iterator<Item = &str> {
        let (id, aliases) = &self.persons[person];
        std::iter::once(id.as_str()).chain(aliases.iter().map(String::as_str))
    }
}

/// One ticket being checked.
struct Ticket<'a> {
    catalogue: &'a Catalogue,
    mapping: &'a Mapping,
    defaults: &'a Defaults,
    file_name: &'a str,
    people: &'a People<'a>,
    issue: &'a Issue,
}

/// What happened to a ticket after its creation, in time order.
enum Happening<'a> {
    Changed(usize, &'a export::History),
    Commented(usize, &'a export::Comment),
}

impl Ticket<'_> {
    fn prepare(&self) -> Result<Prepared, Vec<FieldError>> {
        let mut errors = Vec::new();
        let issue = self.issue;
        let key = issue.key.trim();
        let fields = &issue.fields;
        let time = |field: &str, text: &str, errors: &mut Vec<FieldError>| {
            export::parse_time(text)
                .map_err(|message| errors.push(FieldError::new(field, message)))
                .ok()
        };
        let created = time("fields.created", &fields.created, &mut errors);

        // The customer: the reporter, in an organisation.
        let reporter = match &fields.reporter {
            None => {
                errors.push(FieldError::new(
                    "fields.reporter",
                    "missing: the reporter is the order's customer",
                ));
                None
            }
            Some(user) => match self.people.user(user) {
                Some(person) => Some(person),
                None => {
                    errors.push(FieldError::new(
                        "fields.reporter",
                        "a user without name, key or accountId",
                    ));
                    None
                }
            },
        };
        let customer = reporter.and_then(|person| {
            let subject = self
                .people
                .subject(person)
                .map_err(|m| errors.push(FieldError::new("fields.reporter", m)))
                .ok();
            let org = self.organisation(person).map_err(|e| errors.push(e)).ok();
            Some(Customer {
                org: org?,
                subject: subject?,
            })
        });
        let title = match fields.summary.as_deref().map(str::trim) {
            None | Some("") => None,
            Some(summary) => validation::text("fields.summary", summary, 255)
                .map_err(|e| errors.push(e))
                .ok(),
        };
        let raw = match &fields.description {
            Some(serde_json::Value::String(text)) => Some(text.clone()),
            None | Some(serde_json::Value::Null) => {
                errors.push(FieldError::new(
                    "fields.description",
                    "missing: it holds the order (the SO-1-legacy string)",
                ));
                None
            }
            Some(_) => {
                errors.push(FieldError::new(
                    "fields.description",
                    "not text (REST API version 3's document format?): export with \
                     /rest/api/2/search",
                ));
                None
            }
        };
        if let Some(changelog) = &issue.changelog
            && let Some(total) = changelog.total
            && total > changelog.histories.len() as u64
        {
            errors.push(FieldError::new(
                "changelog",
                format!(
                    "holds {} of the ticket's {total} changes: export the whole changelog",
                    changelog.histories.len()
                ),
            ));
        }
        if let Some(comments) = &fields.comment
            && let Some(total) = comments.total
            && total > comments.comments.len() as u64
        {
            errors.push(FieldError::new(
                "fields.comment",
                format!(
                    "holds {} of the ticket's {total} comments: export them all",
                    comments.comments.len()
                ),
            ));
        }

        // The submission, decided by the order aggregate as the customer's.
        let mut submission = None;
        if let (Some(customer), Some(raw), Some(created)) = (&customer, &raw, created) {
            let source = OrderSource::JiraImport {
                key: key.to_owned(),
                raw: raw.clone(),
                file: self.file_name.to_owned(),
            };
            match service::prepare_legacy(self.catalogue, customer.clone(), raw, source, created) {
                Err(problems) => errors.extend(problems.into_iter().map(|e| {
                    FieldError::new("fields.description", format!("{}: {}", e.field, e.message))
                })),
                Ok(mut order) => {
                    order.order_id = order_id(key);
                    order.title = title.clone();
                    let by = Principal::new(
                        &customer.subject,
                        Role::Customer {
                            org: customer.org.clone(),
                        },
                    );
                    let command = OrderCommand {
                        by: by.clone(),
                        at: created,
                        action: OrderAction::Submit(Box::new(order)),
                    };
                    match Order::default().decide(command) {
                        Ok(events) => submission = Some((by.actor(), events)),
                        Err(refused) => {
                            errors.push(FieldError::new("fields.description", refused.to_string()))
                        }
                    }
                }
            }
        }

        // What happened after, in the order it happened.
        let mut happenings = Vec::new();
        for (n, history) in issue
            .changelog
            .iter()
            .flat_map(|c| &c.histories)
            .enumerate()
        {
            let field = format!("changelog.histories[{n}].created");
            if let Some(at) = time(&field, &history.created, &mut errors) {
                happenings.push((at, Happening::Changed(n, history)));
            }
        }
        for (n, comment) in fields.comment.iter().flat_map(|c| &c.comments).enumerate() {
            let field = format!("fields.comment.comments[{n}].created");
            if let Some(at) = time(&field, &comment.created, &mut errors) {
                happenings.push((at, Happening::Commented(n, comment)));
            }
        }
        // Stable: changes before comments of the same instant, each in file order.
        happenings.sort_by_key(|(at, _)| *at);
        if let Some(created) = created {
            for (at, happening) in &happenings {
                if *at < created {
                    let field = match happening {
                        Happening::Changed(n, _) => format!("changelog.histories[{n}].created"),
                        Happening::Commented(n, _) => {
                            format!("fields.comment.comments[{n}].created")
                        }
                    };
                    errors.push(FieldError::new(
                        field,
                        format!("{at} is before the ticket was created ({created})"),
                    ));
                }
            }
        }

        // The rest is checked whatever was found so far, so that every
        // problem of the ticket is named; what it builds is kept only if none
        // was (and then the submission is there).
        let importer = Principal::system(IMPORTER).actor();
        let (customer_actor, submitted) =
            submission.unwrap_or_else(|| (importer.clone(), Vec::new()));
        let created = created.unwrap_or(Timestamp::UNIX_EPOCH);
        let mut history = History {
            status: OrderStatus::Submitted,
            assignee: None,
            comments: 0,
            questions: 0,
        };
        let mut entries = vec![Entry {
            at: created,
            actor: customer_actor.clone(),
            cause: format!("jira:{key}"),
            events: submitted,
        }];

        // The ticket as it was created: its first status and assignee are
        // those its first changes of them left (or those it has, if none).
        let first_change = |name: &str| {
            happenings
                .iter()
                .find_map(|(_, happening)| match happening {
                    Happening::Changed(n, change) => change
                        .items
                        .iter()
                        .enumerate()
                        .find(|(_, item)| item.field.eq_ignore_ascii_case(name))
                        .map(|(i, item)| (format!("changelog.histories[{n}].items[{i}]"), item)),
                    Happening::Commented(..) => None,
                })
        };
        let (first_status, first_status_field) = match first_change("status") {
            Some((field, item)) => (
                item.from_string.clone().unwrap_or_default(),
                format!("{field}.fromString"),
            ),
            None => (fields.status.name.clone(), "fields.status.name".to_owned()),
        };
        let mut first = Vec::new();
        match self.status(&first_status_field, &first_status) {
            Err(e) => errors.push(e),
            Ok(OrderStatus::Submitted) => {}
            Ok(status) => first.push(history.enter(status, &first_status, None)),
        }
        let first_assignee = match first_change("assignee") {
            Some((field, item)) => self
                .people
                .named(item.from.as_deref(), item.from_string.as_deref())
                .map_err(|m| errors.push(FieldError::new(format!("{field}.from"), m)))
                .ok()
                .flatten(),
            None => fields.assignee.as_ref().and_then(|u| self.people.user(u)),
        };
        if let Some(person) = first_assignee {
            match self.people.subject(person) {
                Ok(subject) => first.extend(history.assign(subject)),
                Err(m) => errors.push(FieldError::new("fields.assignee", m)),
            }
        }
        if !first.is_empty() {
            entries.push(Entry {
                at: created,
                actor: importer.clone(),
                cause: format!("jira:{key}"),
                events: first,
            });
        }

        let mut jira_status = first_status;
        for (at, happening) in happenings {
            let (actor_user, cause, events) = match happening {
                Happening::Changed(n, change) => {
                    let mut events = Vec::new();
                    for (i, item) in change.items.iter().enumerate() {
                        let field =
                            |name: &str| format!("changelog.histories[{n}].items[{i}].{name}");
                        if item.field.eq_ignore_ascii_case("status") {
                            let to = item.to_string.clone().unwrap_or_default();
                            match self.status(&field("toString"), &to) {
                                Ok(status) => {
                                    let from = item.from_string.clone();
                                    events.push(history.enter(status, &to, from));
                                    jira_status = to;
                                }
                                Err(e) => errors.push(e),
                            }
                        } else if item.field.eq_ignore_ascii_case("assignee") {
                            // Nobody: pactum has no unassignment, the order keeps
                            // its assignee until the next one.
                            match self
                                .people
                                .named(item.to.as_deref(), item.to_string.as_deref())
                                .and_then(|p| p.map(|p| self.people.subject(p)).transpose())
                            {
                                Ok(Some(subject)) => events.extend(history.assign(subject)),
                                Ok(None) => {}
                                Err(m) => errors.push(FieldError::new(field("to"), m)),
                            }
                        }
                    }
                    let id = change.id.clone().unwrap_or_else(|| n.to_string());
                    (
                        change.author.as_ref(),
                        format!("jira:{key}/changelog/{id}"),
                        events,
                    )
                }
                Happening::Commented(n, comment) => {
                    let field = format!("fields.comment.comments[{n}].body");
                    let mut events = Vec::new();
                    match validation::text(&field, &comment.body, COMMENT_MAX) {
                        Ok(body) => {
                            history.comments += 1;
                            events.push(OrderEvent::CommentAdded(CommentAdded {
                                comment_id: history.comments,
                                body,
                                visibility: if comment.is_restricted() {
                                    Visibility::Internal
                                } else {
                                    Visibility::Public
                                },
                                provider: None,
                            }));
                        }
                        Err(e) => errors.push(e),
                    }
                    let id = comment.id.clone().unwrap_or_else(|| n.to_string());
                    (
                        comment.author.as_ref(),
                        format!("jira:{key}/comment/{id}"),
                        events,
                    )
                }
            };
            if events.is_empty() {
                continue;
            }
            let actor = match actor_user.and_then(|u| self.people.user(u)) {
                None => importer.clone(),
                Some(person) if Some(person) == reporter => customer_actor.clone(),
                Some(person) => match self.people.subject(person) {
                    Ok(subject) => Principal::new(
                        subject,
                        Role::Shifter {
                            groups: Default::default(),
                        },
                    )
                    .actor(),
                    Err(m) => {
                        errors.push(FieldError::new("author", m));
                        continue;
                    }
                },
            };
            entries.push(Entry {
                at,
                actor,
                cause,
                events,
            });
        }

        // The changelog must end where the ticket is.
        let now = &fields.status.name;
        match (
            self.status("fields.status.name", now),
            self.mapping.status(&jira_status),
        ) {
            (Err(e), _) => errors.push(e),
            (Ok(status), Some(last)) if status != last => errors.push(FieldError::new(
                "fields.status.name",
                format!(
                    "the ticket is {now:?} ({status}) but its changelog ends in {jira_status:?} \
                     ({last})"
                ),
            )),
            _ => {}
        }
        if errors.is_empty() && entries[0].events.is_empty() {
            // Cannot happen: whatever stops the submission is an error above.
            errors.push(FieldError::new("fields", "no order could be made of it"));
        }
        if !errors.is_empty() {
            return Err(errors);
        }
        Ok(Prepared {
            key: key.to_owned(),
            order_id: order_id(key),
            status: history.status,
            entries,
        })
    }

    /// The pactum status of a JIRA status name, or why there is none.
    fn status(&self, field: &str, name: &str) -> Result<OrderStatus, FieldError> {
        self.mapping.status(name).ok_or_else(|| {
            FieldError::new(
                field,
                format!(
                    "unknown JIRA status {name:?}: map it to a pactum status in the mapping \
                     file's [statuses]"
                ),
            )
        })
    }

    /// The customer's organisation: the organisation field's (through the
    /// mapping's [organisations]), the reporter's in [organisations], --org,
    /// or the mapping's `organisation`.
    fn organisation(&self, reporter: Person) -> Result<String, FieldError> {
        let from_field = self
            .mapping
            .organisation_field
            .as_deref()
            .and_then(|name| self.issue.fields.other.get(name))
            .and_then(field_text)
            .map(|value| {
                self.mapping
                    .organisation_of([value.as_str()])
                    .map_or(value.clone(), str::to_owned)
            });
        let org = from_field
            .or_else(|| {
                self.mapping
                    .organisation_of(self.people.names(reporter))
                    .map(str::to_owned)
            })
            .or_else(|| self.defaults.org.clone())
            .or_else(|| self.mapping.organisation.clone())
            .ok_or_else(|| {
                FieldError::new(
                    "organisation",
                    "no organisation for the reporter: pass --org, or name it in the mapping \
                     file (organisation, [organisations] or organisation_field)",
                )
            })?;
        validation::identifier("organisation", &org).map_err(|e| {
            FieldError::new(
                "organisation",
                format!(
                    "{org:?} {}; map it to an id in the mapping file's [organisations]",
                    e.message
                ),
            )
        })
    }
}

/// The text of a field value: a string, an option (`value`), a named object
/// (`name`), or the first of a list of those (JIRA Service Management's
/// organisations).
fn field_text(value: &serde_json::Value) -> Option<String> {
    use serde_json::Value;
    match value {
        Value::String(text) => Some(text.trim().to_owned()).filter(|t| !t.is_empty()),
        Value::Object(object) => ["value", "name"]
            .iter()
            .find_map(|k| object.get(*k))
            .and_then(field_text),
        Value::Array(items) => items.first().and_then(field_text),
        _ => None,
    }
}

/// The order as the history so far left it, for numbering what follows.
struct History {
    status: OrderStatus,
    assignee: Option<String>,
    comments: u32,
    questions: u32,
}

impl History {
    /// The order took JIRA status `name` (pactum's `status`).
    fn enter(&mut self, status: OrderStatus, name: &str, from: Option<String>) -> OrderEvent {
        // A wait starts a question the customer answers; staying in one does not.
        let question_id = (status == OrderStatus::WaitingForCustomer
            && self.status != OrderStatus::WaitingForCustomer)
            .then(|| {
                self.questions += 1;
                self.questions
            });
        self.status = status;
        OrderEvent::OrderStatusImported(OrderStatusImported {
            status,
            jira_status: name.to_owned(),
            previous_jira_status: from,
            question_id,
        })
    }

    /// The order was assigned to `subject`, if it was not already; a submitted
    /// order is then in review, as in pactum.
    fn assign(&mut self, subject: String) -> Option<OrderEvent> {
        if self.assignee.as_deref() == Some(subject.as_str()) {
            return None;
        }
        if self.status == OrderStatus::Submitted {
            self.status = OrderStatus::InReview;
        }
        let previous = self.assignee.replace(subject.clone());
        Some(OrderEvent::OrderAssigned(OrderAssigned {
            assignee: subject,
            previous_assignee: previous,
        }))
    }
}

/// What an import did.
#[derive(Debug, Default, PartialEq, Eq)]
pub struct ImportSummary {
    /// (key, order id) of each ticket imported now.
    pub imported: Vec<(String, String)>,
    /// (key, order id) of tickets imported before.
    pub already_imported: Vec<(String, String)>,
}

#[derive(Debug, thiserror::Error)]
pub enum ImportError {
    #[error(transparent)]
    Append(#[from] AppendError),
    #[error(transparent)]
    Store(#[from] StoreError),
}

/// Appends the prepared tickets, [`CHUNK`] to a transaction, skipping those
/// imported before; calls `progress` with the number of tickets done.
pub async fn import(
    store: &EventStore,
    prepared: &[Prepared],
    mut progress: impl FnMut(usize),
) -> Result<ImportSummary, ImportError> {
    let correlation = uuid::Uuid::now_v7().to_string();
    let mut summary = ImportSummary::default();
    let mut done = 0;
    for chunk in prepared.chunks(CHUNK) {
        let mut pending = Vec::with_capacity(chunk.len());
        for ticket in chunk {
            if store.load("order", &ticket.order_id).await?.is_empty() {
                pending.push(ticket);
            } else {
                summary
                    .already_imported
                    .push((ticket.key.clone(), ticket.order_id.clone()));
            }
        }
        while !pending.is_empty() {
            let requests = pending
                .iter()
                .flat_map(|ticket| requests(ticket, &correlation))
                .collect();
            match store.append_all(requests).await {
                Ok(outcomes) => {
                    debug_assert!(
                        outcomes
                            .iter()
                            .all(|o| matches!(o, AppendOutcome::Committed(_)))
                    );
                    summary
                        .imported
                        .extend(pending.iter().map(|t| (t.key.clone(), t.order_id.clone())));
                    break;
                }
                // Another run imported this ticket meanwhile: skip it, append
                // the others.
                Err(AppendError::Conflict { aggregate_id, .. }) => {
                    let Some(at) = pending.iter().position(|t| t.order_id == aggregate_id) else {
                        return Err(AppendError::Conflict {
                            aggregate_type: "order".into(),
                            aggregate_id,
                            expected: 0,
                            actual: 0,
                        }
                        .into());
                    };
                    let ticket = pending.remove(at);
                    summary
                        .already_imported
                        .push((ticket.key.clone(), ticket.order_id.clone()));
                }
                Err(error) => return Err(error.into()),
            }
        }
        done += chunk.len();
        progress(done);
    }
    Ok(summary)
}

/// A ticket's history as append requests, one per entry, each decided on the
/// one before it.
fn requests(ticket: &Prepared, correlation: &str) -> Vec<AppendRequest> {
    let mut sequence = 0;
    ticket
        .entries
        .iter()
        .map(|entry| {
            let request = AppendRequest {
                aggregate_type: "order".into(),
                aggregate_id: ticket.order_id.clone(),
                expected_sequence: sequence,
                events: entry.events.iter().map(NewEvent::encode).collect(),
                meta: EventMeta {
                    recorded_at: entry.at,
                    actor: entry.actor.clone(),
                    correlation_id: correlation.to_owned(),
                    causation_id: Some(entry.cause.clone()),
                    idempotency_key: None,
                },
                response: None,
                attachments: Vec::new(),
                history: true,
            };
            sequence += entry.events.len() as u64;
            request
        })
        .collect()
}

#[cfg(test)]
#[path = "tests.rs"]
mod tests;
