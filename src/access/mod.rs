//! Who is calling and what they may do: authorization in the core, not bolted on.
//!
//! - [`Principal`]: an authenticated caller and its role (with its organisation,
//!   groups or provider).
//! - [`policy`]: pure rules — who sees an order, who may do what to it. Aggregates
//!   call these while deciding; nothing else grants access.
//! - [`tokens`]: API tokens — minted once, stored only as SHA-256, issued and revoked
//!   as events of the `access_token` aggregate ([`aggregate`]), kept in a table
//!   updated in the same transaction ([`queries::TokenTable`]).
//! - [`queries`]: every SQL statement of the module.

pub mod aggregate;
pub mod commands;
pub mod errors;
pub mod policy;
mod principal;
pub mod queries;
pub mod tokens;

pub use principal::{Principal, Role};
