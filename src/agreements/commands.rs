//! What callers ask of an agreement.

use jiff::civil::Date;
use pactum_events::agreement::{AgreementContent, DocumentRef, Targets};

use crate::access::Principal;

#[derive(Clone, Debug)]
pub struct AgreementCommand {
    pub by: Principal,
    pub action: AgreementAction,
}

#[derive(Clone, Debug)]
pub enum AgreementAction {
    Issue {
        agreement_id: String,
        content: Box<AgreementContent>,
        document: DocumentRef,
    },
    /// New targets and/or a later end date, with the document of the new version.
    Amend {
        targets: Option<Targets>,
        end: Option<Date>,
        note: String,
        changes: Vec<String>,
        document: DocumentRef,
    },
    Terminate {
        reason: String,
    },
    /// `today` is the caller's date: the agreement expires once its last day is past.
    Expire {
        today: Date,
    },
}
