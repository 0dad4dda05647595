//! Field-level validation errors, shared by every parser of outside input.

use serde::Serialize;

/// One bad field of a request: its name (a parameter key, a legacy label, a body
/// field) and what is wrong with it. A 422 response lists every one of them.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct FieldError {
    pub field: String,
    pub message: String,
}

impl FieldError {
    pub fn new(field: impl Into<String>, message: impl Into<String>) -> Self {
        Self {
            field: field.into(),
            message: message.into(),
        }
    }
}

impl std::fmt::Display for FieldError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}: {}", self.field, self.message)
    }
}

/// An identifier chosen by people: organisation, group and provider ids.
/// Letters, digits, `.`, `_`, `-`; starts with a letter or digit; at most 64 chars.
pub fn identifier(field: &str, value: &str) -> Result<String, FieldError> {
    let ok = !value.is_empty()
        && value.len() <= 64
        && value.starts_with(|c: char| c.is_ascii_alphanumeric())
        && value
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '.' | '_' | '-'));
    if ok {
        Ok(value.to_owned())
    } else {
        Err(FieldError::new(
            field,
            "must be 1 to 64 letters, digits, '.', '_' or '-', starting with a letter or digit",
        ))
    }
}

/// The subject of a principal (a user name, an e-mail, an OIDC `sub`).
pub fn subject(field: &str, value: &str) -> Result<String, FieldError> {
    let value = value.trim();
    if value.is_empty() || value.chars().count() > 256 || value.chars().any(char::is_control) {
        return Err(FieldError::new(
            field,
            "must be 1 to 256 characters without control characters",
        ));
    }
    Ok(value.to_owned())
}

/// Free text written by a person: trimmed, non-empty, at most `max_chars`
/// characters, no control characters but line breaks and tabs.
pub fn text(field: &str, value: &str, max_chars: usize) -> Result<String, FieldError> {
    let value = value.trim();
    if value.is_empty() {
        return Err(FieldError::new(field, "must not be empty"));
    }
    let length = value.chars().count();
    if length > max_chars {
        return Err(FieldError::new(
            field,
            format!("must be at most {max_chars} characters, got {length}"),
        ));
    }
    if value
        .chars()
        .any(|c| c.is_control() && !matches!(c, '\n' | '\r' | '\t'))
    {
        return Err(FieldError::new(
            field,
            "must not contain control characters",
        ));
    }
    Ok(value.to_owned())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn identifiers() {
        assert!(identifier("org", "acme").is_ok());
        assert!(identifier("org", "egi.eu_2-x").is_ok());
        for bad in ["", "-acme", "a b", "ac/me", &"a".repeat(65)] {
            assert!(identifier("org", bad).is_err(), "{bad:?}");
        }
    }

    #[test]
    fn texts_are_trimmed_and_bounded() {
        assert_eq!(text("body", "  hi\nthere ", 20).unwrap(), "hi\nthere");
        assert!(text("body", "   ", 20).is_err());
        assert!(
            text("body", "abc", 2)
                .unwrap_err()
                .message
                .contains("at most 2")
        );
        assert!(text("body", "a\u{0}b", 20).is_err());
        assert_eq!(text("body", "日本語", 3).unwrap(), "日本語");
    }

    #[test]
    fn subjects() {
        assert_eq!(
            subject("subject", " alice@example.org ").unwrap(),
            "alice@example.org"
        );
        assert!(subject("subject", "").is_err());
        assert!(subject("subject", "a\tb").is_err());
    }
}
