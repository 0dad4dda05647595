//! The catalogue in the console: the services (`/ui/services`) and, for a
//! customer, an order form generated from a service's parameters
//! (`/ui/services/{id}/order`): typed inputs with their ranges and choices,
//! and pactum's refusals shown next to the fields they name.

use std::collections::{BTreeMap, HashMap};

use askama::Template;
use axum::Router;
use axum::extract::{Form, State};
use axum::http::StatusCode;
use axum::response::Response;
use axum::routing::get;
use pactum_events::catalogue::{ParameterKind, ParameterSpec, ServiceDefined};
use serde_json::{Map, Value};

use super::{Chrome, Viewer, failed, field, render, see_other};
use crate::app::App;
use crate::http::error::ApiError;
use crate::http::extract::Path;
use crate::orders::service::{self, ServiceError, Submission};
use crate::runner::Effect;

pub fn router() -> Router<App> {
    Router::new()
        .route("/ui/services", get(services_page))
        .route("/ui/services/{id}/order", get(order_form).post(submit))
}

pub struct ServiceRow {
    pub id: String,
    pub name: String,
    pub group: String,
    pub description: String,
}

#[derive(Template)]
#[template(path = "services.html")]
struct ServicesPage {
    chrome: Chrome,
    services: Vec<ServiceRow>,
}

async fn services_page(State(app): State<App>, viewer: Viewer) -> Response {
    let catalogue = match app.catalogue().await {
        Ok(catalogue) => catalogue,
        Err(error) => return failed(error.into()),
    };
    let services = catalogue
        .services
        .values()
        .filter(|s| catalogue.live_service(&s.service_id).is_some())
        .map(|s| ServiceRow {
            id: s.service_id.clone(),
            name: s.name.clone(),
            group: s.group.clone(),
            description: s.description.clone().unwrap_or_default(),
        })
        .collect();
    render(
        StatusCode::OK,
        &ServicesPage {
            chrome: viewer.chrome(),
            services,
        },
    )
}

/// One input of the order form.
pub struct Input {
    pub key: String,
    pub label: String,
    /// `number`, `select`, `date`, `checkbox` or `text`.
    pub control: &'static str,
    pub step: &'static str,
    pub min: String,
    pub max: String,
    pub max_length: String,
    pub choices: Vec<String>,
    pub required: bool,
    pub unit: String,
    pub help: String,
    pub value: String,
    pub error: String,
}

#[derive(Template)]
#[template(path = "order_form.html")]
struct OrderForm {
    chrome: Chrome,
    csrf: String,
    service_id: String,
    service_name: String,
    title: String,
    note: String,
    inputs: Vec<Input>,
    errors: Vec<String>,
}

fn inputs(
    service: &ServiceDefined,
    values: &HashMap<String, String>,
    errors: &BTreeMap<String, String>,
) -> Vec<Input> {
    service
        .parameters
        .iter()
        .map(|spec| input(spec, values, errors))
        .collect()
}

fn shown<T: ToString>(value: &Option<T>) -> String {
    value.as_ref().map(ToString::to_string).unwrap_or_default()
}

fn input(
    spec: &ParameterSpec,
    values: &HashMap<String, String>,
    errors: &BTreeMap<String, String>,
) -> Input {
    let (control, step, min, max, max_length, choices) = match &spec.kind {
        ParameterKind::Integer { min, max } => (
            "number",
            "1",
            shown(min),
            shown(max),
            String::new(),
            Vec::new(),
        ),
        ParameterKind::Number { min, max } => (
            "number",
            "any",
            shown(min),
            shown(max),
            String::new(),
            Vec::new(),
        ),
        ParameterKind::Enum { values } => (
            "select",
            "",
            String::new(),
            String::new(),
            String::new(),
            values.clone(),
        ),
        ParameterKind::Date => (
            "date",
            "",
            String::new(),
            String::new(),
            String::new(),
            Vec::new(),
        ),
        ParameterKind::Boolean => (
            "checkbox",
            "",
            String::new(),
            String::new(),
            String::new(),
            Vec::new(),
        ),
        ParameterKind::Text { max_length } => (
            "text",
            "",
            String::new(),
            String::new(),
            shown(max_length),
            Vec::new(),
        ),
    };
    Input {
        key: spec.key.clone(),
        label: spec.label.clone(),
        control,
        step,
        min,
        max,
        max_length,
        choices,
        required: spec.required && control != "checkbox",
        unit: spec.unit.clone().unwrap_or_default(),
        help: spec.description.clone().unwrap_or_default(),
        value: values.get(&spec.key).cloned().unwrap_or_default(),
        error: errors.get(&spec.key).cloned().unwrap_or_default(),
    }
}

async fn order_form(State(app): State<App>, viewer: Viewer, Path(id): Path<String>) -> Response {
    let catalogue = match app.catalogue().await {
        Ok(catalogue) => catalogue,
        Err(error) => return failed(error.into()),
    };
    let Some(service) = catalogue.live_service(&id) else {
        return failed(ApiError::NotFound(format!(
            "no service {id:?} takes orders"
        )));
    };
    render(
        StatusCode::OK,
        &OrderForm {
            chrome: viewer.chrome(),
            csrf: viewer.csrf.clone(),
            service_id: id.clone(),
            service_name: service.name.clone(),
            title: String::new(),
            note: String::new(),
            inputs: inputs(service, &HashMap::new(), &BTreeMap::new()),
            errors: Vec::new(),
        },
    )
}

/// The parameters a form gives, typed by the service's spec: what does not
/// parse goes on as text, for the same refusal the API gives.
pub fn parameters(service: &ServiceDefined, form: &HashMap<String, String>) -> Map<String, Value> {
    let mut parameters = Map::new();
    for spec in &service.parameters {
        if let Some(value) = typed(spec, field(form, &spec.key)) {
            parameters.insert(spec.key.clone(), value);
        }
    }
    parameters
}

/// One form value as its parameter's JSON type (a checkbox absent is false).
pub fn typed(spec: &ParameterSpec, raw: Option<String>) -> Option<Value> {
    match (&spec.kind, raw) {
        (ParameterKind::Boolean, raw) => Some(Value::Bool(raw.is_some_and(|r| r != "false"))),
        (_, None) => None,
        (ParameterKind::Integer { .. }, Some(raw)) => Some(
            raw.parse::<i64>()
                .map(Value::from)
                .unwrap_or(Value::String(raw)),
        ),
        (ParameterKind::Number { .. }, Some(raw)) => Some(
            serde_json::from_str::<serde_json::Number>(&raw)
                .map(Value::Number)
                .unwrap_or(Value::String(raw)),
        ),
        (_, Some(raw)) => Some(Value::String(raw)),
    }
}

async fn submit(
    State(app): State<App>,
    viewer: Viewer,
    Path(id): Path<String>,
    Form(form): Form<HashMap<String, String>>,
) -> Response {
    if let Some(refused) = viewer.refuse_forged(form.get("csrf").map(String::as_str)) {
        return refused;
    }
    let catalogue = match app.catalogue().await {
        Ok(catalogue) => catalogue,
        Err(error) => return failed(error.into()),
    };
    let Some(service) = catalogue.live_service(&id) else {
        return failed(ApiError::NotFound(format!(
            "no service {id:?} takes orders"
        )));
    };
    let submission = Submission {
        service: id.clone(),
        parameters: parameters(service, &form),
        title: field(&form, "title"),
        note: field(&form, "note"),
    };
    let now = app.now();
    let order = match service::prepare_json(&catalogue, &viewer.principal, submission, now) {
        Ok(order) => order,
        Err(ServiceError::Invalid(errors)) => {
            let by_field: BTreeMap<String, String> = errors
                .iter()
                .map(|e| {
                    (
                        e.field.trim_start_matches("parameters.").to_owned(),
                        e.message.clone(),
                    )
                })
                .collect();
            let general = errors
                .iter()
                .filter(|e| !service.parameters.iter().any(|p| e.field.ends_with(&p.key)))
                .map(|e| format!("{}: {}", e.field, e.message))
                .collect();
            return render(
                StatusCode::UNPROCESSABLE_ENTITY,
                &OrderForm {
                    chrome: viewer.chrome(),
                    csrf: viewer.csrf.clone(),
                    service_id: id.clone(),
                    service_name: service.name.clone(),
                    title: field(&form, "title").unwrap_or_default(),
                    note: field(&form, "note").unwrap_or_default(),
                    inputs: inputs(service, &form, &by_field),
                    errors: general,
                },
            );
        }
        Err(error) => return failed(error.into()),
    };
    let request = viewer.request(&app, Effect::Created);
    let order_id = order.order_id.clone();
    match service::submit(&app.store, order, &request).await {
        Ok(_) => see_other(&format!("/ui/orders/{order_id}")),
        Err(error) => failed(error.into()),
    }
}
