//! A reporting job reading pactum's events from NATS JetStream, as published by
//! `pactum relay` (or `pactum serve --nats-url`).
//!
//! ```text
//! cargo run --example reporting_consumer -- --nats-url nats://127.0.0.1:4222 \
//!     [--stream PACTUM_EVENTS] [--durable reporting]
//! ```
//!
//! It reads the stream through a durable pull consumer (so a second run carries
//! on where the first stopped), until it has caught up, and prints a small report
//! of what it read: events per type, and orders submitted and approved per
//! service.
//!
//! **De-duplication.** The relay publishes every event at least once: the server
//! drops re-publishes inside its duplicate window (`Nats-Msg-Id`), but after a long
//! outage an event can arrive twice. Events of one aggregate arrive in sequence
//! order, so the job keeps the highest sequence seen per (aggregate type, id) and
//! skips anything at or below it. (A real job would store that map with its report,
//! in one transaction; this one keeps it for the run.)
//!
//! An approval counts towards the service named when the order was submitted; an
//! order submitted before this consumer's first run counts as `(unknown)`.

use std::collections::{BTreeMap, HashMap};
use std::time::Duration;

use async_nats::jetstream::{self, consumer::pull};
use futures::StreamExt;
use pactum_events::RecordedEvent;

struct Args {
    nats_url: String,
    stream: String,
    durable: String,
}

fn parse_args() -> Result<Args, String> {
    let mut args = Args {
        nats_url: std::env::var("PACTUM_NATS_URL")
            .unwrap_or_else(|_| "nats://127.0.0.1:4222".into()),
        stream: "PACTUM_EVENTS".into(),
        durable: "reporting".into(),
    };
    let mut given = std::env::args().skip(1);
    while let Some(flag) = given.next() {
        let mut value = || given.next().ok_or(format!("{flag} needs a value"));
        match flag.as_str() {
            "--nats-url" => args.nats_url = value()?,
            "--stream" => args.stream = value()?,
            "--durable" => args.durable = value()?,
            other => {
                return Err(format!(
                    "unknown argument {other:?}; use --nats-url URL [--stream NAME] [--durable NAME]"
                ));
            }
        }
    }
    Ok(args)
}

/// What the job has read so far.
#[derive(Default)]
struct Report {
    /// Highest sequence applied per (aggregate type, id): the de-duplication key.
    seen: HashMap<(String, String), u64>,
    duplicates: u64,
    by_type: BTreeMap<String, u64>,
    /// Order id → service, from `OrderSubmitted`.
    services: HashMap<String, String>,
    submitted: BTreeMap<String, u64>,
    approved: BTreeMap<String, u64>,
}

impl Report {
    /// Takes in one event, unless it was seen before.
    fn apply(&mut self, event: &RecordedEvent) {
        let key = (event.aggregate_type.clone(), event.aggregate_id.clone());
        match self.seen.get(&key) {
            Some(&highest) if event.sequence <= highest => {
                self.duplicates += 1;
                return;
            }
            _ => {
                self.seen.insert(key, event.sequence);
            }
        }
        *self.by_type.entry(event.event_type.clone()).or_default() += 1;
        match event.event_type.as_str() {
            "OrderSubmitted" => {
                let service = event.payload["service"]
                    .as_str()
                    .unwrap_or("(unknown)")
                    .to_owned();
                *self.submitted.entry(service.clone()).or_default() += 1;
                self.services.insert(event.aggregate_id.clone(), service);
            }
            "OrderApproved" => {
                let service = self
                    .services
                    .get(&event.aggregate_id)
                    .cloned()
                    .unwrap_or_else(|| "(unknown)".into());
                *self.approved.entry(service).or_default() += 1;
            }
            _ => {}
        }
    }

    fn print(&self) {
        let events: u64 = self.by_type.values().sum();
        println!(
            "{events} events read ({} duplicates skipped)",
            self.duplicates
        );
        println!("\nevents per type:");
        for (event_type, count) in &self.by_type {
            println!("  {event_type:<28} {count:>8}");
        }
        println!("\norders per service:              submitted  approved");
        let mut services: Vec<&String> =
            self.submitted.keys().chain(self.approved.keys()).collect();
        services.sort();
        services.dedup();
        for service in services {
            println!(
                "  {service:<28} {:>9} {:>9}",
                self.submitted.get(service).unwrap_or(&0),
                self.approved.get(service).unwrap_or(&0)
            );
        }
    }
}

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error + Send + Sync>> {
    let args = parse_args()?;
    let client = async_nats::connect(args.nats_url.as_str()).await?;
    let js = jetstream::new(client);
    let stream = js.get_stream(&args.stream).await?;
    let consumer = stream
        .get_or_create_consumer(
            &args.durable,
            pull::Config {
                durable_name: Some(args.durable.clone()),
                ack_policy: jetstream::consumer::AckPolicy::Explicit,
                ..Default::default()
            },
        )
        .await?;

    let mut report = Report::default();
    loop {
        let mut batch = consumer
            .fetch()
            .max_messages(500)
            .expires(Duration::from_secs(1))
            .messages()
            .await?;
        let mut got = 0;
        while let Some(message) = batch.next().await {
            let message = message?;
            let event: RecordedEvent = serde_json::from_slice(&message.payload)?;
            report.apply(&event);
            // Acknowledged once taken in: the server redelivers anything not acked.
            message.ack().await?;
            got += 1;
        }
        // An empty fetch: caught up with the stream.
        if got == 0 {
            break;
        }
    }
    report.print();
    Ok(())
}
