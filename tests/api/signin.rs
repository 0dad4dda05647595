//! Sign-in with a real OpenID provider (`oidc-provider` under Node.js, started
//! per test on a loopback port): the code flow with PKCE from `/login` to a
//! session, roles from entitlements (plus memberships an admin gave), refusals
//! of every tampered answer, and the provider's access tokens as bearer tokens
//! of the API. A session cookie alone never authorises an API call.

use pactum::signin::{OidcConfig, RoleMap};
use pactum_testkit::{CLIENT_ID, CLIENT_SECRET, OidcProvider, free_port};
use reqwest::StatusCode;
use reqwest::header::{LOCATION, SET_COOKIE};
use serde_json::{Value, json};

use crate::helpers::*;

struct Fixture {
    provider: OidcProvider,
    app: TestApp,
    public: String,
    /// A browser: cookies kept, redirects not followed.
    browser: reqwest::Client,
}

fn accounts() -> Value {
    json!({
        "sam": {
            "voperson_id": "sam@egi.eu",
            "email": "sam@example.org",
            "eduperson_entitlement": [
                "urn:mace:egi.eu:group:ops.egi.eu:compute:role=shifter#aai.egi.eu",
                "urn:mace:egi.eu:group:vo.alpha:role=member#aai.egi.eu",
            ],
        },
        // No voperson_id: the subject is `sub`.
        "nobody": {"email": "nobody@example.org", "eduperson_entitlement": []},
    })
}

async fn fixture(access_token_ttl: u64) -> Fixture {
    let port = free_port();
    let public = format!("http://127.0.0.1:{port}");
    let provider = OidcProvider::start(
        &[
            format!("{public}/auth/callback"),
            format!("{public}/client/callback"),
        ],
        accounts(),
        access_token_ttl,
    );
    let app = spawn_app_with(Options {
        listen: Some(format!("127.0.0.1:{port}")),
        signin: Some(OidcConfig {
            issuer: provider.issuer(),
            client_id: CLIENT_ID.into(),
            client_secret: Some(CLIENT_SECRET.into()),
            public_url: public.clone(),
            roles: RoleMap::shipped(),
        }),
        ..Options::default()
    })
    .await;
    Fixture {
        provider,
        app,
        public,
        browser: browser(),
    }
}

fn browser() -> reqwest::Client {
    reqwest::Client::builder()
        .cookie_store(true)
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap()
}

/// Where a redirect goes, made absolute (the provider answers relative paths).
fn location(response: &reqwest::Response) -> String {
    assert_eq!(response.status(), StatusCode::SEE_OTHER, "{response:?}");
    let to = response.headers()[LOCATION].to_str().unwrap();
    response.url().join(to).unwrap().to_string()
}

/// Where pactum redirects, as it says it (a path on its own site stays one).
fn pactum_location(response: &reqwest::Response) -> String {
    assert_eq!(response.status(), StatusCode::SEE_OTHER, "{response:?}");
    response.headers()[LOCATION].to_str().unwrap().to_owned()
}

/// Signs `account` in at the provider's own login form (when the provider
/// has no session of it yet), from `start` (pactum's `/login`, or an
/// authorization URL of the test's own); the redirect that leaves the
/// provider, back to the client.
async fn through_the_provider(
    browser: &reqwest::Client,
    provider: &str,
    start: &str,
    account: &str,
) -> String {
    let mut url = start.to_owned();
    for _ in 0..10 {
        let response = browser.get(&url).send().await.unwrap();
        let next = if response.status() == StatusCode::OK {
            // The provider's login form.
            let submitted = browser
                .post(&url)
                .form(&[("prompt", "login"), ("login", account), ("password", "any")])
                .send()
                .await
                .unwrap();
            location(&submitted)
        } else {
            location(&response)
        };
        if !next.starts_with(provider) {
            return next;
        }
        url = next;
    }
    panic!("the provider kept redirecting");
}

/// Signs `account` in to pactum; pactum's answer to the provider's redirect.
async fn sign_in(fixture: &Fixture, account: &str) -> reqwest::Response {
    let login = fixture.app.url("/login");
    let provider = fixture.provider.issuer();
    let back = through_the_provider(&fixture.browser, &provider, &login, account).await;
    assert!(
        back.starts_with(&format!("{}/auth/callback?", fixture.public)),
        "{back}"
    );
    fixture.browser.get(&back).send().await.unwrap()
}

/// The CSRF token a page's forms carry.
pub fn csrf_of(page: &str) -> String {
    let marker = "name=\"csrf\" value=\"";
    let at = page.find(marker).expect("a form with a CSRF token") + marker.len();
    page[at..].split('"').next().unwrap().to_owned()
}

async fn home(fixture: &Fixture) -> String {
    let response = fixture
        .browser
        .get(fixture.app.url("/"))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::OK);
    response.text().await.unwrap()
}

#[tokio::test]
async fn a_person_signs_in_with_roles_from_entitlements_and_signs_out() {
    let fixture = fixture(600).await;
    let response = sign_in(&fixture, "sam").await;
    assert_eq!(pactum_location(&response), "/");
    let cookie = response.headers()[SET_COOKIE].to_str().unwrap().to_owned();
    for part in ["pactum_session=", "HttpOnly", "SameSite=Lax", "Path=/"] {
        assert!(cookie.contains(part), "{cookie}");
    }
    assert!(
        !cookie.contains("Secure"),
        "the public URL is http: {cookie}"
    );
    let page = home(&fixture).await;
    assert!(
        page.contains("sam@egi.eu"),
        "voperson_id is the subject: {page}"
    );
    assert!(page.contains("shifter of compute"), "{page}");
    assert!(page.contains("customer of vo.alpha"), "{page}");

    // Roles granted over the API add to the provider's.
    let ada = fixture.app.role("ada", "admin").await;
    let response = fixture
        .app
        .client
        .put(fixture.app.url("/v1/groups/storage/members/sam@egi.eu"))
        .bearer_auth(&ada)
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::CREATED);
    assert!(home(&fixture).await.contains("shifter of compute, storage"));

    // The session cookie alone authorises nothing in the API, not even a
    // cross-site form posting text that would parse as JSON.
    let response = fixture
        .browser
        .get(fixture.app.url("/v1/me"))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::UNAUTHORIZED);
    let response = fixture
        .browser
        .post(fixture.app.url("/v1/orders"))
        .header("content-type", "text/plain")
        .body(cloud_order().to_string())
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::UNAUTHORIZED);

    // Signing in again gives a new session id; the old one ends.
    let again = sign_in(&fixture, "sam").await;
    let second = again.headers()[SET_COOKIE].to_str().unwrap().to_owned();
    let id = |c: &str| c.split(';').next().unwrap().to_owned();
    assert_ne!(id(&cookie), id(&second));
    let stale = fixture
        .app
        .client
        .get(fixture.app.url("/"))
        .header("cookie", id(&cookie))
        .send()
        .await
        .unwrap();
    assert!(
        stale.text().await.unwrap().contains("/login"),
        "the old session ended"
    );

    // Signing out (a form that carries the session's CSRF token; one without
    // it is refused) ends the session here and at the provider.
    let response = fixture
        .browser
        .post(fixture.app.url("/logout"))
        .form(&[("csrf", "forged")])
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::FORBIDDEN);
    let csrf = csrf_of(&home(&fixture).await);
    let response = fixture
        .browser
        .post(fixture.app.url("/logout"))
        .form(&[("csrf", csrf.as_str())])
        .send()
        .await
        .unwrap();
    let to = location(&response);
    assert!(
        to.starts_with(&format!("{}/session/end?", fixture.provider.issuer())),
        "{to}"
    );
    assert!(to.contains("id_token_hint="), "{to}");
    assert!(
        response.headers()[SET_COOKIE]
            .to_str()
            .unwrap()
            .contains("Max-Age=0")
    );
    assert!(home(&fixture).await.contains("href=\"/login\""));
}

#[tokio::test]
async fn someone_without_entitlements_is_signed_in_with_no_role() {
    let fixture = fixture(600).await;
    let response = sign_in(&fixture, "nobody").await;
    assert_eq!(pactum_location(&response), "/");
    let response = fixture
        .browser
        .get(fixture.app.url("/"))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::FORBIDDEN);
    let page = response.text().await.unwrap();
    assert!(page.contains(">nobody<"), "sub is the subject: {page}");
    assert!(page.contains("ask an admin for a role"), "{page}");
}

#[tokio::test]
async fn every_tampered_answer_of_the_provider_is_refused() {
    let fixture = fixture(600).await;
    let http = reqwest::Client::new();
    for mode in ["signature", "expired", "audience", "issuer", "nonce", "kid"] {
        http.post(format!("{}/test/tamper", fixture.provider.issuer()))
            .json(&json!({"mode": mode}))
            .send()
            .await
            .unwrap();
        let response = sign_in(&fixture, "sam").await;
        assert_eq!(response.status(), StatusCode::UNAUTHORIZED, "{mode}");
        assert!(
            !response.headers().contains_key(SET_COOKIE),
            "{mode}: no session"
        );
        let page = response.text().await.unwrap();
        assert!(page.contains("Sign-in refused"), "{mode}: {page}");
    }
    // A replayed answer, or one pactum never asked for, opens nothing either.
    let response = fixture
        .browser
        .get(fixture.app.url("/auth/callback?code=x&state=never-issued"))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::UNAUTHORIZED);
    // And an untampered one still works.
    assert_eq!(pactum_location(&sign_in(&fixture, "sam").await), "/");
}

/// An access token of the provider's for `account`, got as an API client does.
async fn access_token(fixture: &Fixture, account: &str) -> String {
    let verifier = "a-verifier-of-the-test-client-that-is-long-enough-0123456789";
    let challenge = pactum::signin::provider::base64_url(&{
        use sha2::Digest;
        sha2::Sha256::digest(verifier.as_bytes())
    });
    let redirect = format!("{}/client/callback", fixture.public);
    let query = serde_urlencoded::to_string([
        ("response_type", "code"),
        ("client_id", CLIENT_ID),
        ("redirect_uri", redirect.as_str()),
        ("scope", "openid email eduperson_entitlement voperson_id"),
        ("state", "client-state"),
        ("nonce", "client-nonce"),
        ("code_challenge", challenge.as_str()),
        ("code_challenge_method", "S256"),
    ])
    .unwrap();
    let start = format!("{}/auth?{query}", fixture.provider.issuer());
    let back = through_the_provider(&browser(), &fixture.provider.issuer(), &start, account).await;
    let code = url_query(&back, "code");
    let tokens: Value = reqwest::Client::new()
        .post(format!("{}/token", fixture.provider.issuer()))
        .basic_auth(CLIENT_ID, Some(CLIENT_SECRET))
        .form(&[
            ("grant_type", "authorization_code"),
            ("code", code.as_str()),
            ("redirect_uri", redirect.as_str()),
            ("code_verifier", verifier),
        ])
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    tokens["access_token"].as_str().unwrap().to_owned()
}

fn url_query(url: &str, name: &str) -> String {
    let query = url.split_once('?').unwrap().1;
    serde_urlencoded::from_str::<Vec<(String, String)>>(query)
        .unwrap()
        .into_iter()
        .find(|(key, _)| key == name)
        .unwrap()
        .1
}

async fn mint(fixture: &Fixture, claims: Value, unknown_key: bool) -> String {
    let answer: Value = reqwest::Client::new()
        .post(format!("{}/test/mint", fixture.provider.issuer()))
        .json(&json!({"claims": claims, "unknown_key": unknown_key}))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    answer["token"].as_str().unwrap().to_owned()
}

#[tokio::test]
async fn the_providers_access_tokens_are_bearer_tokens_of_the_api() {
    let fixture = fixture(600).await;
    let token = access_token(&fixture, "sam").await;
    let (status, me) = fixture.app.get_json("/v1/me", &token).await;
    assert_eq!(status, StatusCode::OK, "{me}");
    assert_eq!(me["subject"], "sam@egi.eu");
    assert_eq!(
        me["roles"],
        json!([{"role": "customer", "org": "vo.alpha"}, {"role": "shifter", "groups": ["compute"]}])
    );
    // It works for what the roles allow: ordering for vo.alpha, and working
    // compute's queue.
    let (status, order) = fixture
        .app
        .post_json("/v1/orders", &token, &cloud_order())
        .await;
    assert_eq!(status, StatusCode::CREATED, "{order}");
    assert_eq!(order["customer"]["org"], "vo.alpha");
    let id = order["id"].as_str().unwrap();
    let (status, _) = fixture.app.command(id, "approve", &token, json!({})).await;
    assert_eq!(status, StatusCode::OK);

    // Tampered: the provider does not know it.
    let mut tampered = token.clone();
    let last = tampered.pop().unwrap();
    tampered.push(if last == 'A' { 'B' } else { 'A' });
    let (status, _) = fixture.app.get_json("/v1/me", &tampered).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);

    // JWTs signed by the provider's key but wrong in one way each, and one
    // signed by a key it never published: all 401.
    let now = jiff::Timestamp::now().as_second();
    let good = json!({"iss": fixture.provider.issuer(), "aud": CLIENT_ID, "sub": "sam",
                      "iat": now, "exp": now + 600});
    let with = |key: &str, value: Value| {
        let mut claims = good.clone();
        claims[key] = value;
        claims
    };
    for (why, claims, unknown_key) in [
        ("expired", with("exp", json!(now - 3600)), false),
        (
            "another audience",
            with("aud", json!("someone-else")),
            false,
        ),
        (
            "another issuer",
            with("iss", json!("http://127.0.0.1:1/not-it")),
            false,
        ),
        ("an unknown key", good.clone(), true),
    ] {
        let jwt = mint(&fixture, claims, unknown_key).await;
        let (status, body) = fixture.app.get_json("/v1/me", &jwt).await;
        assert_eq!(status, StatusCode::UNAUTHORIZED, "{why}: {body}");
    }
    let jwt = mint(&fixture, good.clone(), false).await;
    let mut parts: Vec<&str> = jwt.split('.').collect();
    let forged =
        pactum::signin::provider::base64_url(with("sub", json!("mallory")).to_string().as_bytes());
    parts[1] = &forged;
    let (status, _) = fixture.app.get_json("/v1/me", &parts.join(".")).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED, "a forged signature");
    // Well signed and for pactum, but not an access token the provider issued.
    let (status, _) = fixture.app.get_json("/v1/me", &jwt).await;
    assert_eq!(
        status,
        StatusCode::UNAUTHORIZED,
        "UserInfo does not take it"
    );
}

#[tokio::test]
async fn an_expired_access_token_is_refused() {
    let fixture = fixture(1).await;
    let token = access_token(&fixture, "sam").await;
    tokio::time::sleep(std::time::Duration::from_millis(2500)).await;
    let (status, _) = fixture.app.get_json("/v1/me", &token).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
}

#[tokio::test]
async fn a_key_the_provider_rotated_in_is_fetched_when_a_token_names_it() {
    let fixture = fixture(600).await;
    let http = reqwest::Client::new();
    let issuer = fixture.provider.issuer();
    // The provider starts signing with a key it has just published: pactum
    // knows only the keys it read at start, and reads them again (no more than
    // every ten seconds) when a token names one it does not know.
    http.post(format!("{issuer}/test/rotate"))
        .send()
        .await
        .unwrap();
    tokio::time::sleep(std::time::Duration::from_secs(11)).await;
    http.post(format!("{issuer}/test/tamper"))
        .json(&json!({"mode": "rotated"}))
        .send()
        .await
        .unwrap();
    let response = sign_in(&fixture, "sam").await;
    assert_eq!(
        pactum_location(&response),
        "/",
        "signed in with the new key"
    );
}
