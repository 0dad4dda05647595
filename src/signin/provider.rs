//! The OpenID provider as pactum talks to it: discovery, the authorization code
//! flow with PKCE, `state` and `nonce`, JWTs verified against the issuer's keys
//! (signature, `iss`, `aud`, `exp`, and the `nonce` of an ID token; the keys
//! fetched again when a token names one not seen yet), and the UserInfo
//! endpoint, where EGI Check-in releases entitlements.
//!
//! JWT verification is `jsonwebtoken`'s; the algorithm is the key's (the
//! issuer's JWKS says which), never one a token asks for, and never a
//! shared-secret one.

use std::collections::HashMap;
use std::time::{Duration, Instant};

use jiff::Timestamp;
use jsonwebtoken::jwk::{Jwk, JwkSet};
use jsonwebtoken::{Algorithm, DecodingKey, Validation};
use serde::Deserialize;
use serde_json::Value;
use sha2::{Digest, Sha256};

use super::OidcConfig;

/// Keys are fetched again at most this often (a token naming an unknown key
/// must not make pactum hammer the issuer).
const KEYS_REFRESH: Duration = Duration::from_secs(10);
/// How long an opaque access token's UserInfo answer is reused.
const OPAQUE_TOKEN_CACHE: Duration = Duration::from_secs(60);
/// How many bearer tokens' answers are kept at once.
const CACHE_ENTRIES: usize = 10_000;
/// Clock skew allowed on `exp` and `iat`.
const LEEWAY_SECONDS: u64 = 60;

/// Why a sign-in or a bearer token was refused, or the provider failed.
#[derive(Debug, thiserror::Error)]
pub enum OidcError {
    /// The token or answer is not acceptable (401 for a bearer token).
    #[error("{0}")]
    Refused(String),
    /// The provider could not be reached or answered nonsense (503).
    #[error("the OpenID provider: {0}")]
    Provider(String),
}

/// Who a person is, as the provider says.
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct Identity {
    /// `voperson_id` when the provider releases it, else `sub`.
    pub subject: String,
    /// For mail only, never identity.
    pub email: Option<String>,
    /// `eduperson_entitlement` values, from UserInfo.
    pub entitlements: Vec<String>,
}

#[derive(Clone, Debug, Deserialize)]
struct Discovery {
    issuer: String,
    authorization_endpoint: String,
    token_endpoint: String,
    userinfo_endpoint: String,
    jwks_uri: String,
    #[serde(default)]
    end_session_endpoint: Option<String>,
}

/// What the token endpoint answers.
#[derive(Debug, Deserialize)]
pub struct Tokens {
    pub id_token: String,
    pub access_token: String,
}

#[derive(Debug, Deserialize)]
struct JwtClaims {
    sub: String,
    #[serde(default)]
    nonce: Option<String>,
    #[serde(default)]
    azp: Option<String>,
    #[serde(default)]
    aud: Option<Value>,
    #[serde(default)]
    exp: Option<i64>,
}

/// The provider, discovered.
pub struct Oidc {
    config: OidcConfig,
    http: reqwest::Client,
    endpoints: Discovery,
    keys: tokio::sync::RwLock<(JwkSet, Instant)>,
    bearers: std::sync::Mutex<HashMap<String, (Identity, Timestamp)>>,
}

impl std::fmt::Debug for Oidc {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Oidc")
            .field("issuer", &self.endpoints.issuer)
            .finish_non_exhaustive()
    }
}

fn provider_error(what: &str) -> impl Fn(reqwest::Error) -> OidcError + '_ {
    move |e| OidcError::Provider(format!("{what}: {e}"))
}

impl Oidc {
    /// Reads the issuer's discovery document and keys; the issuer it names must
    /// be the configured one, exactly.
    pub async fn discover(config: OidcConfig) -> Result<Self, OidcError> {
        let http = reqwest::Client::builder()
            .redirect(reqwest::redirect::Policy::none())
            .timeout(Duration::from_secs(10))
            .build()
            .map_err(provider_error("an HTTP client"))?;
        let url = format!(
            "{}/.well-known/openid-configuration",
            config.issuer.trim_end_matches('/')
        );
        let endpoints: Discovery = fetch_json(&http, &url, "discovery").await?;
        if endpoints.issuer != config.issuer {
            return Err(OidcError::Provider(format!(
                "discovery names issuer {:?}, not {:?}",
                endpoints.issuer, config.issuer
            )));
        }
        let keys: JwkSet = fetch_json(&http, &endpoints.jwks_uri, "its keys").await?;
        Ok(Self {
            config,
            http,
            endpoints,
            keys: tokio::sync::RwLock::new((keys, Instant::now())),
            bearers: std::sync::Mutex::new(HashMap::new()),
        })
    }

    pub fn config(&self) -> &OidcConfig {
        &self.config
    }

    /// Where the provider sends people back: `<public url>/auth/callback`.
    pub fn redirect_uri(&self) -> String {
        format!("{}/auth/callback", self.config.public_url)
    }

    /// The provider's sign-in page for one attempt.
    pub fn authorize_url(&self, state: &str, nonce: &str, verifier: &str) -> String {
        let challenge = base64_url(&Sha256::digest(verifier.as_bytes()));
        let query = serde_urlencoded::to_string([
            ("response_type", "code"),
            ("client_id", self.config.client_id.as_str()),
            ("redirect_uri", self.redirect_uri().as_str()),
            ("scope", "openid email eduperson_entitlement voperson_id"),
            ("state", state),
            ("nonce", nonce),
            ("code_challenge", challenge.as_str()),
            ("code_challenge_method", "S256"),
        ])
        .expect("strings encode");
        let separator = if self.endpoints.authorization_endpoint.contains('?') {
            '&'
        } else {
            '?'
        };
        format!(
            "{}{separator}{query}",
            self.endpoints.authorization_endpoint
        )
    }

    /// Where signing out ends the provider's session too, if it has such an
    /// endpoint.
    pub fn end_session_url(&self, id_token: Option<&str>) -> Option<String> {
        let endpoint = self.endpoints.end_session_endpoint.as_ref()?;
        let back = format!("{}/", self.config.public_url);
        let mut pairs = vec![
            ("client_id", self.config.client_id.as_str()),
            ("post_logout_redirect_uri", back.as_str()),
        ];
        if let Some(hint) = id_token {
            pairs.push(("id_token_hint", hint));
        }
        let query = serde_urlencoded::to_string(pairs).expect("strings encode");
        let separator = if endpoint.contains('?') { '&' } else { '?' };
        Some(format!("{endpoint}{separator}{query}"))
    }

    /// Trades an authorization code (and its PKCE verifier) for tokens.
    pub async fn exchange(&self, code: &str, verifier: &str) -> Result<Tokens, OidcError> {
        let redirect_uri = self.redirect_uri();
        let form = [
            ("grant_type", "authorization_code"),
            ("code", code),
            ("redirect_uri", redirect_uri.as_str()),
            ("code_verifier", verifier),
            ("client_id", self.config.client_id.as_str()),
        ];
        let mut request = self.http.post(&self.endpoints.token_endpoint).form(&form);
        if let Some(secret) = &self.config.client_secret {
            request = request.basic_auth(&self.config.client_id, Some(secret));
        }
        let response = request
            .send()
            .await
            .map_err(provider_error("the token endpoint"))?;
        if !response.status().is_success() {
            return Err(OidcError::Refused(format!(
                "the provider refused the code ({})",
                response.status()
            )));
        }
        response
            .json()
            .await
            .map_err(provider_error("the token endpoint's answer"))
    }

    /// Verifies an ID token for this client with this `nonce`; its subject.
    pub async fn verify_id_token(&self, token: &str, nonce: &str) -> Result<String, OidcError> {
        let claims = self.verify_jwt(token, Audience::Exactly).await?;
        if claims.nonce.as_deref() != Some(nonce) {
            return Err(OidcError::Refused(
                "the ID token's nonce is not this sign-in's".into(),
            ));
        }
        Ok(claims.sub)
    }

    /// What UserInfo says of the holder of `access_token`, whose `sub` must be
    /// `sub` if given (the ID token's).
    pub async fn userinfo(
        &self,
        access_token: &str,
        sub: Option<&str>,
    ) -> Result<Identity, OidcError> {
        let response = self
            .http
            .get(&self.endpoints.userinfo_endpoint)
            .bearer_auth(access_token)
            .send()
            .await
            .map_err(provider_error("UserInfo"))?;
        if response.status() == reqwest::StatusCode::UNAUTHORIZED
            || response.status() == reqwest::StatusCode::FORBIDDEN
        {
            return Err(OidcError::Refused(
                "the provider does not know this token".into(),
            ));
        }
        if !response.status().is_success() {
            return Err(OidcError::Provider(format!(
                "UserInfo answered {}",
                response.status()
            )));
        }
        let claims: Value = response
            .json()
            .await
            .map_err(provider_error("UserInfo's answer"))?;
        let text = |name: &str| {
            claims
                .get(name)
                .and_then(Value::as_str)
                .map(str::trim)
                .filter(|s| !s.is_empty())
                .map(str::to_owned)
        };
        let claimed_sub =
            text("sub").ok_or_else(|| OidcError::Provider("UserInfo without sub".into()))?;
        if sub.is_some_and(|sub| sub != claimed_sub) {
            return Err(OidcError::Refused("UserInfo speaks of someone else".into()));
        }
        let entitlements = match claims.get("eduperson_entitlement") {
            Some(Value::Array(values)) => values
                .iter()
                .filter_map(Value::as_str)
                .map(str::to_owned)
                .collect(),
            Some(Value::String(value)) => vec![value.clone()],
            _ => Vec::new(),
        };
        Ok(Identity {
            subject: text("voperson_id").unwrap_or(claimed_sub),
            email: text("email"),
            entitlements,
        })
    }

    /// The person a bearer token that is not pactum's stands for: a JWT is
    /// verified like an ID token (its audience this client, or its `azp`), and
    /// any token must be one UserInfo accepts. Answers are kept until the
    /// token expires (an opaque one's for a minute).
    pub async fn bearer(&self, token: &str, now: Timestamp) -> Result<Identity, OidcError> {
        let key = crate::access::tokens::hash_token(token);
        if let Some((identity, until)) = self.cached(&key)
            && until > now
        {
            return Ok(identity);
        }
        let expires = if token.split('.').count() == 3 {
            let claims = self.verify_jwt(token, Audience::OrAuthorizedParty).await?;
            claims.exp.and_then(|exp| Timestamp::from_second(exp).ok())
        } else {
            None
        };
        let identity = self.userinfo(token, None).await?;
        let opaque = now + OPAQUE_TOKEN_CACHE;
        let until = expires.map_or(opaque, |exp| exp.min(now + Duration::from_secs(600)));
        let mut cache = self.bearers.lock().unwrap_or_else(|e| e.into_inner());
        if cache.len() >= CACHE_ENTRIES {
            cache.retain(|_, (_, until)| *until > now);
            if cache.len() >= CACHE_ENTRIES {
                cache.clear();
            }
        }
        cache.insert(key, (identity.clone(), until));
        Ok(identity)
    }

    fn cached(&self, key: &str) -> Option<(Identity, Timestamp)> {
        self.bearers
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .get(key)
            .cloned()
    }

    async fn verify_jwt(&self, token: &str, audience: Audience) -> Result<JwtClaims, OidcError> {
        let refused = |why: &str| OidcError::Refused(format!("the token {why}"));
        let header = jsonwebtoken::decode_header(token).map_err(|_| refused("is no JWT"))?;
        let kid = header.kid.ok_or_else(|| refused("names no key"))?;
        let jwk = self
            .key(&kid)
            .await?
            .ok_or_else(|| refused("is signed by a key the issuer does not publish"))?;
        let algorithm = algorithm_of(&jwk)
            .ok_or_else(|| refused("is signed with an algorithm pactum does not take"))?;
        if header.alg != algorithm {
            return Err(refused("claims another algorithm than its key's"));
        }
        let decoding =
            DecodingKey::from_jwk(&jwk).map_err(|_| refused("names a key pactum cannot use"))?;
        let mut validation = Validation::new(algorithm);
        validation.set_issuer(&[&self.endpoints.issuer]);
        validation.leeway = LEEWAY_SECONDS;
        validation.set_required_spec_claims(&["exp", "iss", "sub", "aud"]);
        match audience {
            Audience::Exactly => validation.set_audience(&[&self.config.client_id]),
            Audience::OrAuthorizedParty => validation.validate_aud = false,
        }
        let data =
            jsonwebtoken::decode::<JwtClaims>(token, &decoding, &validation).map_err(|e| {
                use jsonwebtoken::errors::ErrorKind;
                match e.kind() {
                    ErrorKind::ExpiredSignature => refused("has expired"),
                    ErrorKind::InvalidIssuer => refused("is from another issuer"),
                    ErrorKind::InvalidAudience => refused("is for another audience"),
                    ErrorKind::InvalidSignature => refused("has a signature that does not verify"),
                    _ => refused(&format!("is not acceptable ({e})")),
                }
            })?;
        if audience == Audience::OrAuthorizedParty {
            let client = self.config.client_id.as_str();
            let for_us = match &data.claims.aud {
                Some(Value::String(aud)) => aud == client,
                Some(Value::Array(auds)) => auds.iter().any(|a| a.as_str() == Some(client)),
                _ => false,
            } || data.claims.azp.as_deref() == Some(client);
            if !for_us {
                return Err(refused("is for another audience"));
            }
        }
        Ok(data.claims)
    }

    /// The issuer's key `kid`, fetching the keys again (at most every
    /// `KEYS_REFRESH`) when it is not known yet.
    async fn key(&self, kid: &str) -> Result<Option<Jwk>, OidcError> {
        {
            let keys = self.keys.read().await;
            if let Some(jwk) = keys.0.find(kid) {
                return Ok(Some(jwk.clone()));
            }
            if keys.1.elapsed() < KEYS_REFRESH {
                return Ok(None);
            }
        }
        let mut keys = self.keys.write().await;
        if keys.1.elapsed() >= KEYS_REFRESH {
            let fresh: JwkSet =
                fetch_json(&self.http, &self.endpoints.jwks_uri, "its keys").await?;
            *keys = (fresh, Instant::now());
        }
        Ok(keys.0.find(kid).cloned())
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Audience {
    /// An ID token: `aud` names this client.
    Exactly,
    /// An access token: `aud` names this client, or `azp` does.
    OrAuthorizedParty,
}

/// The signature algorithm a key is for; asymmetric ones only.
fn algorithm_of(jwk: &Jwk) -> Option<Algorithm> {
    use jsonwebtoken::jwk::{AlgorithmParameters, EllipticCurve, KeyAlgorithm};
    let declared = jwk.common.key_algorithm.and_then(|a| match a {
        KeyAlgorithm::RS256 => Some(Algorithm::RS256),
        KeyAlgorithm::RS384 => Some(Algorithm::RS384),
        KeyAlgorithm::RS512 => Some(Algorithm::RS512),
        KeyAlgorithm::PS256 => Some(Algorithm::PS256),
        KeyAlgorithm::PS384 => Some(Algorithm::PS384),
        KeyAlgorithm::PS512 => Some(Algorithm::PS512),
        KeyAlgorithm::ES256 => Some(Algorithm::ES256),
        KeyAlgorithm::ES384 => Some(Algorithm::ES384),
        KeyAlgorithm::EdDSA => Some(Algorithm::EdDSA),
        _ => None,
    });
    if jwk.common.key_algorithm.is_some() {
        return declared;
    }
    match &jwk.algorithm {
        AlgorithmParameters::RSA(_) => Some(Algorithm::RS256),
        AlgorithmParameters::EllipticCurve(ec) => match ec.curve {
            EllipticCurve::P256 => Some(Algorithm::ES256),
            EllipticCurve::P384 => Some(Algorithm::ES384),
            _ => None,
        },
        AlgorithmParameters::OctetKeyPair(_) => Some(Algorithm::EdDSA),
        _ => None,
    }
}

async fn fetch_json<T: serde::de::DeserializeOwned>(
    http: &reqwest::Client,
    url: &str,
    what: &str,
) -> Result<T, OidcError> {
    let response = http
        .get(url)
        .send()
        .await
        .map_err(|e| OidcError::Provider(format!("{what} at {url}: {e}")))?;
    if !response.status().is_success() {
        return Err(OidcError::Provider(format!(
            "{what} at {url} answered {}",
            response.status()
        )));
    }
    response
        .json()
        .await
        .map_err(|e| OidcError::Provider(format!("{what} at {url}: {e}")))
}

/// Base64url without padding (PKCE, random values in URLs).
pub fn base64_url(bytes: &[u8]) -> String {
    use base64::Engine;
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(bytes)
}
