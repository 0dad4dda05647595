//! Who tests act as, as one [`TokenRequest`] whether the token is minted
//! in-process ([`crate::harness::TestApp::token`]) or by the real binary's
//! `pactum token create` ([`args`], [`crate::process::Pactum::token`]).

use pactum::access::tokens::TokenRequest;

/// A customer of organisation `org`.
pub fn customer(subject: &str, org: &str) -> TokenRequest {
    TokenRequest {
        subject: subject.into(),
        role: "customer".into(),
        org: Some(org.into()),
        ..Default::default()
    }
}

/// A shifter working the order-type `groups`.
pub fn shifter(subject: &str, groups: &[&str]) -> TokenRequest {
    TokenRequest {
        subject: subject.into(),
        role: "shifter".into(),
        groups: groups.iter().map(|g| g.to_string()).collect(),
        ..Default::default()
    }
}

/// An operator of resource provider `provider`.
pub fn provider(subject: &str, provider: &str) -> TokenRequest {
    TokenRequest {
        subject: subject.into(),
        role: "provider".into(),
        provider: Some(provider.into()),
        ..Default::default()
    }
}

/// A principal of a role without a scope (auditor, admin).
pub fn role(subject: &str, role: &str) -> TokenRequest {
    TokenRequest {
        subject: subject.into(),
        role: role.into(),
        ..Default::default()
    }
}

/// The options of `pactum token create` that ask for `request`.
pub fn args(request: &TokenRequest) -> Vec<String> {
    assert!(
        request.expires_at.is_none(),
        "`token create` takes a lifetime (--expires-in), not an instant"
    );
    let mut args = vec![
        "--subject".to_owned(),
        request.subject.clone(),
        "--role".to_owned(),
        request.role.clone(),
    ];
    let options = request
        .org
        .iter()
        .map(|org| ("--org", org))
        .chain(request.groups.iter().map(|group| ("--group", group)))
        .chain(
            request
                .provider
                .iter()
                .map(|provider| ("--provider", provider)),
        )
        .chain(request.email.iter().map(|email| ("--email", email)));
    for (option, value) in options {
        args.extend([option.to_owned(), value.clone()]);
    }
    args
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_command_line_asks_for_the_same_principal() {
        assert_eq!(
            args(&customer("alice", "acme")),
            ["--subject", "alice", "--role", "customer", "--org", "acme"]
        );
        assert_eq!(
            args(&shifter("sam", &["compute", "storage"])),
            [
                "--subject",
                "sam",
                "--role",
                "shifter",
                "--group",
                "compute",
                "--group",
                "storage"
            ]
        );
        assert_eq!(
            args(&provider("op", "cesnet-mcc")),
            [
                "--subject",
                "op",
                "--role",
                "provider",
                "--provider",
                "cesnet-mcc"
            ]
        );
        assert_eq!(
            args(&role("audrey", "auditor")),
            ["--subject", "audrey", "--role", "auditor"]
        );
    }
}
