//! Benchmarks of the JSON document engine on a conversation-like document
//! (shaped like a SuperOffice `ChatSession`, ~2 KB).
#![expect(
    clippy::unwrap_used,
    reason = "a benchmark whose setup fails should stop loudly"
)]
#![allow(missing_docs)]

use std::hint::black_box;

use criterion::{BatchSize, Criterion, criterion_group, criterion_main};
use serde_json::{Value, json};
use switchboard_domain::json::{
    ApplyOptions, Operation, PathMode, apply, check_document, merge_to_operations,
};

fn chat_session() -> Value {
    json!({
        "ChatSessionId": 48213,
        "ChatTopicId": 7,
        "CustomerName": "Ada Lovelace",
        "CustomerEmail": "ada.lovelace@example.com",
        "CustomerPhone": "+44 20 7946 0958",
        "CustomerCompanyName": "Analytical Engines Ltd",
        "CustomerConsented": true,
        "Status": "Queued",
        "Priority": 1,
        "ChatSessionGuid": "a7c1e1f0-3b5e-4d7b-9a55-2f1f0f6a9e21",
        "FirstMessage": "Hello, I have a question about my latest invoice and the payment terms.",
        "LastMessage": "Could you also send me a copy of the contract we signed in March?",
        "WhenRequested": "2024-05-14T09:12:44Z",
        "WhenStarted": null,
        "WhenEnded": null,
        "WhenIdle": null,
        "QueueLength": 3,
        "TransferTo": null,
        "Rating": 0,
        "Flags": "None",
        "Alerted": false,
        "Language": "en-GB",
        "Channel": "Chat",
        "SessionKey": "3f0b9c2d8e7a41c6b5d4e3f2a1b0c9d8",
        "VisitorId": "v-20240514-0912-88213",
        "Location": {"Country": "GB", "City": "London", "TimeZone": "Europe/London"},
        "User": {
            "AssociateId": 12,
            "Name": "Grace Hopper",
            "FullName": "Rear Admiral Grace Hopper",
            "Title": "Support agent",
            "Email": "grace.hopper@example.com",
            "Department": "Customer Care",
            "Phone": "+44 20 7946 0000",
            "Active": true
        },
        "Person": {
            "PersonId": 9931,
            "Firstname": "Ada",
            "Lastname": "Lovelace",
            "ContactId": 4410,
            "ContactName": "Analytical Engines Ltd"
        },
        "CustomInfo": {
            "Source": "web-widget",
            "Page": "https://www.example.com/billing/invoices/2024-05",
            "Browser": "Mozilla/5.0 (X11; Linux x86_64) Gecko/20100101 Firefox/126.0",
            "Referrer": "https://www.example.com/account",
            "CustomerTier": "Gold",
            "ContractNumber": "AE-2024-0319"
        },
        "Tags": ["billing", "invoice", "contract"],
        "Messages": [
            {"Id": 1, "Author": "Customer", "Text": "Hello, I have a question about my latest invoice.", "When": "2024-05-14T09:12:44Z"},
            {"Id": 2, "Author": "Bot", "Text": "Thanks! An agent will be with you shortly.", "When": "2024-05-14T09:12:45Z"},
            {"Id": 3, "Author": "Customer", "Text": "Could you also send me a copy of the contract?", "When": "2024-05-14T09:13:10Z"}
        ]
    })
}

/// A 10-operation patch on top-level and nested members, with `case` applied
/// to the names of existing members and `prefix` ("/" or "") before each path.
/// (The one new member, `AssignedBy`, keeps its casing: lenient mode creates
/// new members with the casing of the path.)
fn patch(case: fn(&str) -> String, prefix: &str) -> Vec<Operation> {
    let p = |path: &str| format!("{prefix}{}", case(path));
    serde_json::from_value(json!([
        {"op": "test", "path": p("ChatSessionId"), "value": 48213},
        {"op": "test", "path": p("Status"), "value": "Queued"},
        {"op": "replace", "path": p("Status"), "value": "Started"},
        {"op": "replace", "path": p("WhenStarted"), "value": "2024-05-14T09:14:02Z"},
        {"op": "replace", "path": p("User/Name"), "value": "Katherine Johnson"},
        {"op": "add", "path": format!("{}/AssignedBy", p("CustomInfo")), "value": "router"},
        {"op": "remove", "path": p("CustomInfo/Referrer")},
        {"op": "add", "path": p("Tags/-"), "value": "priority"},
        {"op": "replace", "path": p("Messages/1/Text"), "value": "An agent has joined."},
        {"op": "add", "path": p("LastMessage"), "value": "Sure, sending it now."}
    ]))
    .unwrap()
}

fn bench(c: &mut Criterion) {
    let doc = chat_session();
    let size = serde_json::to_string(&doc).map(|s| s.len()).unwrap_or(0);
    eprintln!("document size: {size} bytes");

    let exact = patch(str::to_owned, "/");
    let lower = patch(str::to_ascii_lowercase, "");
    let strict = ApplyOptions::default();
    let lenient = ApplyOptions {
        mode: PathMode::Lenient,
        ..ApplyOptions::default()
    };
    // Sanity: the three variants give the same result.
    let mut expected = doc.clone();
    apply(&mut expected, &exact, &strict).unwrap();
    for (ops, opts) in [(&exact, &lenient), (&lower, &lenient)] {
        let mut d = doc.clone();
        apply(&mut d, ops, opts).unwrap();
        assert_eq!(d, expected);
    }

    let mut group = c.benchmark_group("apply");
    for (name, ops, opts) in [
        ("strict_exact", &exact, &strict),
        ("lenient_exact", &exact, &lenient),
        ("lenient_lowercase_slashless", &lower, &lenient),
    ] {
        group.bench_function(name, |b| {
            b.iter_batched_ref(
                || doc.clone(),
                |d| apply(d, black_box(ops), opts).unwrap(),
                // Small batches keep the fresh copies in cache, like a
                // document that was just deserialized.
                BatchSize::NumIterations(16),
            );
        });
    }
    group.finish();

    let merge = json!({
        "Status": "Ended",
        "WhenEnded": "2024-05-14T09:30:00Z",
        "Rating": 5,
        "Alerted": null,
        "TransferTo": null,
        "User": {"Name": "Katherine Johnson", "Active": null},
        "CustomInfo": {"Resolution": "sent contract", "Referrer": null},
        "Tags": ["billing", "resolved"],
        "Language": "en-US",
        "Person": {"Firstname": "Augusta Ada"}
    });
    c.bench_function("check_document", |b| {
        b.iter(|| check_document(black_box(&doc), &strict.limits).unwrap());
    });
    c.bench_function("clone_document_baseline", |b| {
        b.iter(|| black_box(&doc).clone());
    });

    c.bench_function("merge_to_operations", |b| {
        b.iter(|| merge_to_operations(black_box(&doc), black_box(&merge)));
    });
}

criterion_group!(benches, bench);
criterion_main!(benches);
