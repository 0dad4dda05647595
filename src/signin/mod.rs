//! Sign-in with an OpenID provider (EGI Check-in, or any OpenID Connect one):
//! `pactum serve --oidc-issuer URL --oidc-client-id ID --public-url URL`.
//!
//! - [`provider`] talks to the provider: discovery, the code flow with PKCE,
//!   JWTs verified against its keys, UserInfo.
//! - [`roles`] turns the entitlements UserInfo releases into pactum roles (the
//!   mapping file); memberships an admin gave the person directly add to them.
//! - [`queries`] keeps sign-in attempts and browser sessions (server-side).
//!
//! The API takes the provider's access tokens as bearer tokens beside pactum's
//! own ([`Signin::principal_of_bearer`]); a browser signs in at `/login` and
//! holds a session cookie (`src/http/signin.rs`). The person is `voperson_id`
//! when the provider releases it, else `sub`; `email` is for mail only.

pub mod provider;
pub mod queries;
pub mod roles;

use std::collections::BTreeSet;
use std::sync::Arc;

use jiff::Timestamp;

use crate::access::{Principal, Role};
use crate::store::{DbPool, EventStore, StoreError};
pub use provider::{Identity, Oidc, OidcError};
pub use roles::RoleMap;

/// Who a browser session is of.
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum SessionOf {
    /// Signed in at the OpenID provider: roles from its entitlements.
    Provider(Identity),
    /// Signed in with a pactum token, kept as its hash: revoking the token
    /// ends the session too.
    Token { token_sha256: String },
}

impl SessionOf {
    /// The principal the session acts as now, if it still is one.
    pub async fn principal(
        &self,
        signin: Option<&Signin>,
        store: &EventStore,
        now: Timestamp,
    ) -> Result<Option<Principal>, StoreError> {
        match (self, signin) {
            (Self::Provider(identity), Some(signin)) => {
                signin.principal(store.reader(), identity).await
            }
            // The provider is no longer configured: its sessions hold nothing.
            (Self::Provider(_), None) => Ok(None),
            (Self::Token { token_sha256 }, _) => {
                crate::access::tokens::authenticate_hash(store, token_sha256, now).await
            }
        }
    }

    pub fn subject(&self) -> Option<&str> {
        match self {
            Self::Provider(identity) => Some(&identity.subject),
            Self::Token { .. } => None,
        }
    }
}

/// How pactum signs people in.
#[derive(Clone)]
pub struct OidcConfig {
    /// The issuer, exactly as the provider names itself.
    pub issuer: String,
    pub client_id: String,
    /// The client secret (`--oidc-client-secret` or
    /// `PACTUM_OIDC_CLIENT_SECRET`); never logged.
    pub client_secret: Option<String>,
    /// Where people reach pactum (`https://orders.example.org`), without a
    /// trailing `/`: the redirect URI is `<public url>/auth/callback`.
    pub public_url: String,
    pub roles: RoleMap,
}

impl std::fmt::Debug for OidcConfig {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("OidcConfig")
            .field("issuer", &self.issuer)
            .field("client_id", &self.client_id)
            .field(
                "client_secret",
                &self.client_secret.as_ref().map(|_| "(set)"),
            )
            .field("public_url", &self.public_url)
            .finish_non_exhaustive()
    }
}

impl OidcConfig {
    /// Whether session cookies must be `Secure` (the public URL is https).
    pub fn secure_cookies(&self) -> bool {
        self.public_url.starts_with("https://")
    }
}

/// Sign-in as a running server has it.
#[derive(Clone, Debug)]
pub struct Signin {
    pub oidc: Arc<Oidc>,
}

impl Signin {
    /// The principal an identity stands for now: the roles its entitlements
    /// give, with what memberships an admin gave it directly. `None` if that
    /// is no role at all.
    pub async fn principal(
        &self,
        pool: &DbPool,
        identity: &Identity,
    ) -> Result<Option<Principal>, StoreError> {
        let roles = self
            .oidc
            .config()
            .roles
            .roles(identity.entitlements.iter().map(String::as_str));
        let direct = crate::members::queries::direct_memberships(pool, &identity.subject).await?;
        Ok(principal(&identity.subject, roles, &direct))
    }

    /// The principal a provider's access token stands for, if it is one.
    pub async fn principal_of_bearer(
        &self,
        pool: &DbPool,
        token: &str,
        now: Timestamp,
    ) -> Result<Option<Principal>, BearerError> {
        let identity = match self.oidc.bearer(token, now).await {
            Ok(identity) => identity,
            Err(OidcError::Refused(why)) => {
                tracing::info!(%why, "a bearer token from the provider was refused");
                return Ok(None);
            }
            Err(e @ OidcError::Provider(_)) => return Err(BearerError::Provider(e)),
        };
        Ok(self.principal(pool, &identity).await?)
    }
}

#[derive(Debug, thiserror::Error)]
pub enum BearerError {
    #[error(transparent)]
    Provider(OidcError),
    #[error(transparent)]
    Store(#[from] StoreError),
}

/// `roles` merged with `direct` memberships (`(kind, scope)`): one shifter
/// role with every group, one provider role with every provider. The most
/// privileged-looking order does not matter here: `policy` picks per order.
fn principal(subject: &str, roles: Vec<Role>, direct: &[(String, String)]) -> Option<Principal> {
    let mut groups = BTreeSet::new();
    let mut providers = BTreeSet::new();
    let mut merged: Vec<Role> = Vec::new();
    for role in roles {
        match role {
            Role::Shifter { groups: more } => groups.extend(more),
            Role::Provider { providers: more } => providers.extend(more),
            other => merged.push(other),
        }
    }
    for (kind, scope) in direct {
        match kind.as_str() {
            "group" => groups.insert(scope.clone()),
            "provider" => providers.insert(scope.clone()),
            _ => false,
        };
    }
    if !groups.is_empty() {
        merged.push(Role::Shifter { groups });
    }
    if !providers.is_empty() {
        merged.push(Role::Provider { providers });
    }
    let mut roles = merged.into_iter();
    let mut principal = Principal::new(subject, roles.next()?);
    principal.also = roles.collect();
    Some(principal)
}

/// A fresh random value for a URL or a cookie: 256 bits, base64url.
pub fn random_token() -> String {
    use rand::RngCore;
    let mut bytes = [0u8; 32];
    rand::rng().fill_bytes(&mut bytes);
    provider::base64_url(&bytes)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn direct_memberships_add_to_the_roles_entitlements_give() {
        let roles = vec![
            Role::Customer {
                org: "vo-alpha".into(),
            },
            Role::Shifter {
                groups: BTreeSet::from(["compute".to_owned()]),
            },
        ];
        let direct = [
            ("group".to_owned(), "storage".to_owned()),
            ("provider".to_owned(), "surf".to_owned()),
        ];
        let pat = principal("pat", roles, &direct).unwrap();
        assert_eq!(
            pat.role,
            Role::Customer {
                org: "vo-alpha".into()
            }
        );
        assert_eq!(
            pat.also,
            [
                Role::Shifter {
                    groups: BTreeSet::from(["compute".to_owned(), "storage".to_owned()])
                },
                Role::Provider {
                    providers: BTreeSet::from(["surf".to_owned()])
                },
            ]
        );
        assert!(principal("nobody", Vec::new(), &[]).is_none());
    }
}
