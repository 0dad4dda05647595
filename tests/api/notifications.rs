//! Notification mail: queued in the outbox with the event that caused it,
//! delivered as .eml files or to a real SMTP server (a sink started here),
//! retried when the server refuses, never sent for internal comments, and not
//! sent for kinds the recipient opted out of.

use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use pactum::access::tokens::TokenRequest;
use pactum::notify::deliver::MailConfig;
use reqwest::StatusCode;
use serde_json::{Value, json};
use tempfile::TempDir;
use tokio::io::{AsyncBufReadExt, AsyncWriteExt, BufReader};
use tokio::net::TcpListener;

use crate::helpers::{Options, TestApp, create_token, send, spawn_app_at_with};

struct Office {
    app: TestApp,
    mail_dir: PathBuf,
    alice: String,
    sam: String,
    _dir: TempDir,
}

async fn office(mail: impl FnOnce(&Path) -> MailConfig) -> Office {
    let dir = TempDir::new().unwrap();
    let mail_dir = dir.path().join("mail");
    let mut config = mail(&mail_dir);
    config.retry_after = Duration::from_millis(50);
    let app = spawn_app_at_with(
        dir.path(),
        Options {
            mail: Some(config),
            ..Options::default()
        },
    )
    .await;
    let alice = app
        .token(TokenRequest {
            subject: "alice".into(),
            role: "customer".into(),
            org: Some("acme".into()),
            email: Some("alice@acme.example".into()),
            ..Default::default()
        })
        .await;
    // Shifters: one addressed by its subject, one by --email, one elsewhere.
    let sam = app.shifter("sam@egi.example", &["compute"]).await;
    app.token(TokenRequest {
        subject: "tess".into(),
        role: "shifter".into(),
        groups: vec!["compute".into()],
        email: Some("tess@egi.example".into()),
        ..Default::default()
    })
    .await;
    app.shifter("stella@egi.example", &["storage"]).await;
    Office {
        app,
        mail_dir,
        alice,
        sam,
        _dir: dir,
    }
}

fn files(office: impl FnOnce(&Path) -> MailConfig) -> impl FnOnce(&Path) -> MailConfig {
    office
}

/// The queued mails: (kind, recipient), in order.
async fn outbox(app: &TestApp) -> Vec<(String, String)> {
    sqlx::query_as("SELECT kind, recipient FROM outbox ORDER BY position, id")
        .fetch_all(app.app.store.reader())
        .await
        .unwrap()
}

/// Waits (up to 10 s) until `dir` holds `count` .eml files; their texts.
async fn delivered(dir: &Path, count: usize) -> Vec<String> {
    for _ in 0..400 {
        let mut mails: Vec<(PathBuf, String)> = std::fs::read_dir(dir)
            .into_iter()
            .flatten()
            .filter_map(|e| e.ok().map(|e| e.path()))
            .filter(|p| p.extension().is_some_and(|x| x == "eml"))
            .map(|p| (p.clone(), std::fs::read_to_string(&p).unwrap()))
            .collect();
        if mails.len() >= count {
            mails.sort();
            return mails.into_iter().map(|(_, text)| text).collect();
        }
        tokio::time::sleep(Duration::from_millis(25)).await;
    }
    panic!("{count} mails not delivered to {}", dir.display());
}

fn to(mail: &str) -> &str {
    mail.lines()
        .find_map(|l| l.strip_prefix("To: "))
        .expect("a To: header")
}

#[tokio::test]
async fn mails_are_queued_with_their_event_and_written_as_eml_files() {
    let o = office(files(|dir| {
        MailConfig::new(None, dir.to_owned(), "pactum@egi.example").unwrap()
    }))
    .await;
    let id = o.app.submit(&o.alice).await;
    // A new order: each shifter of its group, not the storage one.
    assert_eq!(
        outbox(&o.app).await,
        [
            ("new_order".into(), "sam@egi.example".into()),
            ("new_order".into(), "tess@egi.example".into())
        ]
    );
    let mails = delivered(&o.mail_dir, 2).await;
    let recipients: Vec<&str> = mails.iter().map(|m| to(m)).collect();
    assert!(recipients.contains(&"sam@egi.example"), "{recipients:?}");
    assert!(recipients.contains(&"tess@egi.example"), "{recipients:?}");
    assert!(
        mails[0].contains("From: pactum@egi.example"),
        "{}",
        mails[0]
    );
    assert!(
        mails[0].contains("Subject: [pactum] New order in compute"),
        "{}",
        mails[0]
    );

    // An internal comment mails nobody; a public one mails the customer, in the
    // transaction of its event.
    o.app
        .command(
            &id,
            "comments",
            &o.sam,
            json!({"body": "check quota", "visibility": "internal"}),
        )
        .await;
    assert_eq!(outbox(&o.app).await.len(), 2);
    let response = o
        .app
        .post(&format!("/v1/orders/{id}/comments"), &o.sam)
        .json(&json!({"body": "We are on it.", "visibility": "public"}))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::CREATED);
    let position: i64 = response.headers()["pactum-position"]
        .to_str()
        .unwrap()
        .parse()
        .unwrap();
    let row: (String, String, i64) = sqlx::query_as(
        "SELECT kind, recipient, position FROM outbox ORDER BY position DESC LIMIT 1",
    )
    .fetch_one(o.app.app.store.reader())
    .await
    .unwrap();
    assert_eq!(
        row,
        ("comment".into(), "alice@acme.example".into(), position)
    );
    let mails = delivered(&o.mail_dir, 3).await;
    let comment = mails
        .iter()
        .find(|m| to(m) == "alice@acme.example")
        .unwrap();
    assert!(comment.contains("We are on it."), "{comment}");
    assert!(!mails.iter().any(|m| m.contains("check quota")));

    // A question, a decision: the customer hears of both.
    o.app
        .command(&id, "questions", &o.sam, json!({"body": "Which VO?"}))
        .await;
    o.app
        .command(&id, "answers", &o.alice, json!({"body": "biomed"}))
        .await;
    o.app.command(&id, "approve", &o.sam, json!({})).await;
    // Provisioning: the provider's contact from the catalogue.
    let (status, body) = o
        .app
        .command(
            &id,
            "provisioning",
            &o.sam,
            json!({"steps": [{"provider": "cesnet-mcc", "action": "create the project"}]}),
        )
        .await;
    assert!(status.is_success(), "{body}");
    let kinds: Vec<(String, String)> = outbox(&o.app).await.into_iter().skip(3).collect();
    assert_eq!(
        kinds,
        [
            ("question".into(), "alice@acme.example".into()),
            ("decision".into(), "alice@acme.example".into()),
            ("provisioning_step".into(), "cesnet-mcc@example.org".into())
        ]
    );
    let mails = delivered(&o.mail_dir, 6).await;
    assert!(
        mails
            .iter()
            .any(|m| to(m) == "cesnet-mcc@example.org" && m.contains("create the project"))
    );
}

/// The outbox remembers a group's shifters and people's addresses between
/// events (ADR 0017). Whoever joins a group, through the API or by a token
/// the command line mints beside the running server (another process), and
/// whoever opts out after being mailed, is heard from the next mail on.
#[tokio::test(flavor = "multi_thread")]
async fn mail_follows_who_joins_and_who_opts_out_whatever_process_recorded_it() {
    let o = office(files(|dir| {
        MailConfig::new(None, dir.to_owned(), "pactum@egi.example").unwrap()
    }))
    .await;
    let new_orders = async || -> Vec<String> {
        outbox(&o.app)
            .await
            .into_iter()
            .filter(|(kind, _)| kind == "new_order")
            .map(|(_, recipient)| recipient)
            .collect()
    };
    let first = o.app.submit(&o.alice).await;
    assert_eq!(new_orders().await, ["sam@egi.example", "tess@egi.example"]);

    o.app.shifter("una@egi.example", &["compute"]).await;
    o.app.submit(&o.alice).await;
    assert_eq!(
        new_orders().await[2..],
        ["sam@egi.example", "tess@egi.example", "una@egi.example"]
    );

    create_token(
        o._dir.path(),
        &[
            "--subject",
            "vic",
            "--role",
            "shifter",
            "--group",
            "compute",
            "--email",
            "vic@egi.example",
        ],
    );
    o.app.submit(&o.alice).await;
    assert_eq!(
        new_orders().await[5..],
        [
            "sam@egi.example",
            "tess@egi.example",
            "una@egi.example",
            "vic@egi.example"
        ]
    );

    // Mailed once, then opted out: the next comment mails nobody.
    let comment = json!({"body": "on it", "visibility": "public"});
    let to_alice = async || -> usize {
        outbox(&o.app)
            .await
            .iter()
            .filter(|(kind, recipient)| kind == "comment" && recipient == "alice@acme.example")
            .count()
    };
    o.app
        .command(&first, "comments", &o.sam, comment.clone())
        .await;
    assert_eq!(to_alice().await, 1);
    let (status, prefs) = send(
        o.app
            .client
            .put(o.app.url("/v1/me/notifications"))
            .bearer_auth(&o.alice)
            .json(&json!({"opted_out": ["comment"]})),
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{prefs}");
    o.app.command(&first, "comments", &o.sam, comment).await;
    assert_eq!(to_alice().await, 1);
}

#[tokio::test]
async fn a_customer_opts_out_of_one_kind() {
    let o = office(files(|dir| {
        MailConfig::new(None, dir.to_owned(), "pactum@localhost").unwrap()
    }))
    .await;
    let (status, prefs) = o.app.get_json("/v1/me/notifications", &o.alice).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(prefs["opted_out"], json!([]));
    assert!(
        prefs["kinds"]
            .as_array()
            .unwrap()
            .contains(&json!("breach"))
    );

    let put = |body: Value| {
        send(
            o.app
                .client
                .put(o.app.url("/v1/me/notifications"))
                .bearer_auth(&o.alice)
                .json(&body),
        )
    };
    let (status, problem) = put(json!({"opted_out": ["comment", "gossip"]})).await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(problem.to_string().contains("gossip"), "{problem}");
    let (status, prefs) = put(json!({"opted_out": ["comment"]})).await;
    assert_eq!(status, StatusCode::OK, "{prefs}");
    assert_eq!(prefs["opted_out"], json!(["comment"]));

    let id = o.app.submit(&o.alice).await;
    o.app
        .command(
            &id,
            "comments",
            &o.sam,
            json!({"body": "hello", "visibility": "public"}),
        )
        .await;
    o.app
        .command(&id, "questions", &o.sam, json!({"body": "Which VO?"}))
        .await;
    let to_alice: Vec<String> = outbox(&o.app)
        .await
        .into_iter()
        .filter(|(_, to)| to == "alice@acme.example")
        .map(|(kind, _)| kind)
        .collect();
    assert_eq!(to_alice, ["question"]);

    // Admins have no mail preferences.
    let admin = o.app.role("ada", "admin").await;
    let (status, _) = o.app.get_json("/v1/me/notifications", &admin).await;
    assert_eq!(status, StatusCode::FORBIDDEN);
}

/// A real (minimal) SMTP server: records each message; refuses the first
/// `refuse` recipients with 451 (try again later).
#[derive(Clone, Default)]
struct Sink {
    messages: Arc<Mutex<Vec<(String, String)>>>,
    refusals: Arc<Mutex<usize>>,
}

impl Sink {
    async fn start(refuse: usize) -> (Self, u16) {
        let sink = Sink::default();
        *sink.refusals.lock().unwrap() = refuse;
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let port = listener.local_addr().unwrap().port();
        let served = sink.clone();
        tokio::spawn(async move {
            loop {
                let Ok((stream, _)) = listener.accept().await else {
                    return;
                };
                let sink = served.clone();
                tokio::spawn(async move { sink.session(stream).await });
            }
        });
        (sink, port)
    }

    async fn session(&self, stream: tokio::net::TcpStream) {
        let (read, mut write) = stream.into_split();
        let mut lines = BufReader::new(read).lines();
        let _ = write.write_all(b"220 sink ESMTP\r\n").await;
        let mut rcpt = String::new();
        while let Ok(Some(line)) = lines.next_line().await {
            let verb = line.get(..4).unwrap_or("").to_ascii_uppercase();
            let reply: &[u8] = match verb.as_str() {
                "EHLO" | "HELO" => b"250 sink\r\n",
                "RCPT" => {
                    let mut refusals = self.refusals.lock().unwrap();
                    if *refusals > 0 {
                        *refusals -= 1;
                        b"451 try again later\r\n"
                    } else {
                        rcpt = line.clone();
                        b"250 OK\r\n"
                    }
                }
                "DATA" => {
                    let _ = write.write_all(b"354 go ahead\r\n").await;
                    let mut data = String::new();
                    while let Ok(Some(line)) = lines.next_line().await {
                        if line == "." {
                            break;
                        }
                        data.push_str(&line);
                        data.push('\n');
                    }
                    self.messages.lock().unwrap().push((rcpt.clone(), data));
                    b"250 queued\r\n"
                }
                "QUIT" => {
                    let _ = write.write_all(b"221 bye\r\n").await;
                    return;
                }
                _ => b"250 OK\r\n",
            };
            if write.write_all(reply).await.is_err() {
                return;
            }
        }
    }

    async fn wait_for(&self, count: usize) -> Vec<(String, String)> {
        for _ in 0..400 {
            let messages = self.messages.lock().unwrap().clone();
            if messages.len() >= count {
                return messages;
            }
            tokio::time::sleep(Duration::from_millis(25)).await;
        }
        panic!("the SMTP sink did not get {count} messages");
    }
}

#[tokio::test]
async fn mail_reaches_an_smtp_server_and_is_retried_when_refused() {
    // The first two recipients are refused: the two new-order mails are retried.
    let (sink, port) = Sink::start(2).await;
    let o = office(|_| {
        MailConfig::new(
            Some(&format!("smtp://127.0.0.1:{port}")),
            PathBuf::new(),
            "pactum@egi.example",
        )
        .unwrap()
    })
    .await;
    let id = o.app.submit(&o.alice).await;
    o.app
        .command(&id, "questions", &o.sam, json!({"body": "Which VO?"}))
        .await;
    let messages = sink.wait_for(3).await;
    let mut recipients: Vec<&str> = messages.iter().map(|(rcpt, _)| rcpt.as_str()).collect();
    recipients.sort();
    assert_eq!(
        recipients,
        [
            "RCPT TO:<alice@acme.example>",
            "RCPT TO:<sam@egi.example>",
            "RCPT TO:<tess@egi.example>"
        ]
    );
    let question = &messages
        .iter()
        .find(|(r, _)| r.contains("alice"))
        .unwrap()
        .1;
    assert!(question.contains("Which VO?"), "{question}");

    // Each delivered exactly once; the refused ones after a retry.
    let rows: Vec<(String, String, i64)> =
        sqlx::query_as("SELECT recipient, status, attempts FROM outbox ORDER BY recipient")
            .fetch_all(o.app.app.store.reader())
            .await
            .unwrap();
    for _ in 0..200 {
        let pending: i64 =
            sqlx::query_scalar("SELECT COUNT(*) FROM outbox WHERE status <> 'delivered'")
                .fetch_one(o.app.app.store.reader())
                .await
                .unwrap();
        if pending == 0 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(25)).await;
    }
    let retried = rows.iter().filter(|(_, _, attempts)| *attempts > 1).count();
    assert!(retried >= 1, "{rows:?}");
    assert_eq!(sink.messages.lock().unwrap().len(), 3);
}

#[tokio::test]
async fn warnings_and_breaches_mail_the_assignee_or_else_the_group() {
    let dir = TempDir::new().unwrap();
    let clock = Arc::new(pactum::clock::ManualClock::starting_at(
        "2026-06-01T08:00:00Z".parse().unwrap(),
    ));
    let app = spawn_app_at_with(
        dir.path(),
        Options {
            clock: pactum::startup::ClockConfig::Manual(clock),
            mail: Some(MailConfig::new(None, dir.path().join("mail"), "pactum@localhost").unwrap()),
            ..Options::default()
        },
    )
    .await;
    let admin = app.role("ada", "admin").await;
    let alice = app.customer("alice@acme.example", "acme").await;
    let sam = app.shifter("sam@egi.example", &["compute"]).await;
    app.shifter("tess@egi.example", &["compute"]).await;
    let day = json!(["00:00-24:00"]);
    let (status, _) = send(
        app.client
            .put(app.url("/v1/handling-targets/compute"))
            .bearer_auth(&admin)
            .json(
                &json!({"first_response": "PT1H", "decision": "PT4H", "calendar": {
                "time_zone": "UTC", "hours": {"monday": day, "tuesday": day}}}),
            ),
    )
    .await;
    assert_eq!(status, StatusCode::OK);
    let unassigned = app.submit(&alice).await;
    let assigned = app.submit(&alice).await;
    app.command(
        &assigned,
        "assign",
        &sam,
        json!({"assignee": "sam@egi.example"}),
    )
    .await;
    let (status, _) = app
        .post_json(
            "/v1/admin/clock",
            &admin,
            &json!({"now": "2026-06-01T13:00:00Z"}),
        )
        .await;
    assert_eq!(status, StatusCode::OK);

    let rows: Vec<(String, String, String)> = sqlx::query_as(
        "SELECT order_id, kind, recipient FROM outbox WHERE kind IN ('at_risk', 'breach') \
         ORDER BY order_id, position, id",
    )
    .fetch_all(app.app.store.reader())
    .await
    .unwrap();
    let of = |id: &str| -> Vec<(String, String)> {
        rows.iter()
            .filter(|(order, _, _)| order == id)
            .map(|(_, kind, to)| (kind.clone(), to.clone()))
            .collect()
    };
    // The assigned order: its decision clock (the first response stopped at the
    // assignment), to the assignee alone.
    assert_eq!(
        of(&assigned),
        [
            ("at_risk".to_owned(), "sam@egi.example".to_owned()),
            ("breach".to_owned(), "sam@egi.example".to_owned())
        ]
    );
    // The unassigned one: both clocks, to every shifter of the group.
    let unassigned_mails = of(&unassigned);
    assert_eq!(unassigned_mails.len(), 8, "{unassigned_mails:?}");
    assert!(
        unassigned_mails
            .iter()
            .all(|(_, to)| to == "sam@egi.example" || to == "tess@egi.example")
    );
    app.stop().await;
}

#[tokio::test]
async fn an_issued_sla_is_mailed_to_the_customer() {
    let o = office(|dir| MailConfig::new(None, dir.to_owned(), "pactum@localhost").unwrap()).await;
    let id = o.app.submit(&o.alice).await;
    o.app.command(&id, "approve", &o.sam, json!({})).await;
    let (status, body) = o.app.command(&id, "activate", &o.sam, json!({})).await;
    assert!(status.is_success(), "{body}");
    let rows: Vec<(String, String, String)> =
        sqlx::query_as("SELECT kind, recipient, body FROM outbox WHERE kind = 'agreement_issued'")
            .fetch_all(o.app.app.store.reader())
            .await
            .unwrap();
    assert_eq!(rows.len(), 1, "{rows:?}");
    assert_eq!(rows[0].1, "alice@acme.example");
    let (_, order) = o.app.get_json(&format!("/v1/orders/{id}"), &o.sam).await;
    let sla = order["agreements"]
        .as_array()
        .unwrap()
        .iter()
        .find(|a| a["kind"] == "sla")
        .unwrap();
    assert!(
        rows[0].2.contains(sla["agreement_id"].as_str().unwrap()),
        "{}",
        rows[0].2
    );
}
