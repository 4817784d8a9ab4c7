//! The transactional outbox: a write, its events and its history row commit
//! together or not at all.

use serde_json::json;
use switchboard_domain::json::{ApplyOptions, Limits, Operation, parse_patch};
use switchboard_domain::resource::apply_json_patch;
use switchboard_domain::validate::ValidationErrors;
use switchboard_domain::{
    Actor, Conversation, ConversationStatus, Customer, DomainError, EntityKind, EventType, Tag,
};
use switchboard_storage::{Precondition, StorageError, Store, WriteContext, now};

use super::harness::{
    TestDb, conversation_event_count, create_conversation, create_customer, draft, event_count,
    event_types, events, for_each_backend, for_each_tenant, load_conversation, load_customer,
    new_agent, open, tenant, two_tenants,
};

/// Everything stored about one conversation: the row, its events and history.
async fn snapshot(
    store: &Store,
    ctx: &WriteContext,
    id: switchboard_domain::ConversationId,
) -> (String, usize, usize) {
    let t = ctx.tenant.id;
    let row = load_conversation(store, t, id).await;
    let events = store.conversations().events(t, id).await.unwrap();
    let history = store.conversations().history(t, id, 1000).await.unwrap();
    (format!("{row:?}"), events.len(), history.len())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_failed_change_leaves_no_trace() {
    for_each_tenant(|store, label, ctx| async move {
        let conv = create_conversation(&store, &ctx, "s-1").await;
        let before = snapshot(&store, &ctx, conv.id).await;
        assert_eq!((before.1, before.2), (1, 1), "{label}");

        // The closure changes the copy, then refuses.
        let refused = store
            .conversations()
            .modify(&ctx, conv.id, Precondition::NONE, |c| {
                c.visitor.email = Some("ada@example.com".into());
                Err(DomainError::Validation(ValidationErrors::single(
                    "/x", "nope", "refused",
                )))
            })
            .await
            .map_err(StorageError::from);
        assert!(
            matches!(
                refused,
                Err(StorageError::Domain(DomainError::Validation(_)))
            ),
            "{label}"
        );

        // The result breaks a rule.
        let invalid = store
            .conversations()
            .update(&ctx, conv.id, Precondition::NONE, |c| {
                c.visitor.email = Some("ada@example.com".into());
                c.rating = Some(9);
            })
            .await;
        match invalid {
            Err(StorageError::Domain(DomainError::Validation(v))) => {
                assert_eq!(v.violations()[0].path, "/rating", "{label}");
            }
            other => panic!("{label}: {other:?}"),
        }

        // A JSON Patch whose `test` fails after an earlier operation applied.
        let ops = parse_patch(
            &json!([
                {"op": "replace", "path": "/visitor/email", "value": "ada@example.com"},
                {"op": "test", "path": "/status", "value": "closed"}
            ]),
            &Limits::default(),
        )
        .unwrap();
        let patched = store
            .conversations()
            .modify(&ctx, conv.id, Precondition::NONE, move |c| {
                *c = apply_json_patch(c, &ops, &ApplyOptions::default())?;
                Ok::<(), DomainError>(())
            })
            .await
            .map_err(StorageError::from);
        match patched {
            Err(StorageError::Domain(DomainError::Patch(e))) => {
                assert!(e.is_test_failure(), "{label}: {e}")
            }
            other => panic!("{label}: {other:?}"),
        }

        // A patch that touches a read-only member.
        let ops = vec![Operation::Replace {
            path: "/version".into(),
            value: json!(7),
        }];
        let read_only = store
            .conversations()
            .modify(&ctx, conv.id, Precondition::NONE, move |c| {
                *c = apply_json_patch(c, &ops, &ApplyOptions::default())?;
                Ok::<(), DomainError>(())
            })
            .await
            .map_err(StorageError::from);
        assert!(
            matches!(
                read_only,
                Err(StorageError::Domain(DomainError::ReadOnly { .. }))
            ),
            "{label}"
        );

        assert_eq!(
            snapshot(&store, &ctx, conv.id).await,
            before,
            "{label}: a failed write left a trace"
        );
        assert_eq!(
            conversation_event_count(&store, &conv).await,
            1,
            "{label}: only the create's event"
        );
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_database_failure_after_the_update_rolls_everything_back() {
    for db in TestDb::all() {
        let label = db.label;
        let store = open(&db).await;
        let ctx = tenant(&store, "acme").await;
        let conv = create_conversation(&store, &ctx, "s-1").await;
        let customer = create_customer(&store, &ctx).await;
        let backlog = store.worker().outbox_backlog().await.unwrap();

        // The history row is written last: without its table, the row update
        // and the outbox insert before it must be undone.
        db.raw().execute("DROP TABLE change_history");
        let result = store
            .conversations()
            .update(&ctx, conv.id, Precondition::NONE, |c| {
                c.visitor.name = Some("Ada".into());
            })
            .await;
        assert!(
            matches!(result, Err(StorageError::Internal(_))),
            "{label}: {result:?}"
        );
        let result = store
            .customers()
            .update(&ctx, customer.id, Precondition::NONE, |c| {
                c.tags.push(Tag::new("vip"));
            })
            .await;
        assert!(
            matches!(result, Err(StorageError::Internal(_))),
            "{label}: {result:?}"
        );

        assert_eq!(
            load_conversation(&store, ctx.tenant.id, conv.id).await,
            conv,
            "{label}"
        );
        assert_eq!(
            load_customer(&store, ctx.tenant.id, customer.id).await,
            customer,
            "{label}"
        );
        assert!(
            store.admin().tags(ctx.tenant.id).await.unwrap().is_empty(),
            "{label}: tag list written"
        );
        assert_eq!(
            store.worker().outbox_backlog().await.unwrap(),
            backlog,
            "{label}: outbox written"
        );
    }
}

/// One change of a conversation and the events it must produce.
struct Step {
    name: &'static str,
    change: fn(&mut Conversation),
    events: &'static [EventType],
    /// The `changed_fields` of its `conversation_updated` event, in any order.
    fields: &'static [&'static str],
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn every_committed_write_has_its_events() {
    use EventType::{
        ConversationCreated as Created, ConversationCustomInfoUpdated as CustomInfo,
        ConversationStatusChanged as Status, ConversationUpdated as Updated, EmailUpdated as Email,
    };
    for_each_tenant(|store, label, ctx| async move {
        let t = ctx.tenant.id;
        let mut d = draft(t, "s-1");
        d.visitor.email = Some("ada@example.com".into());
        let conv = store.conversations().create(&ctx, d).await.unwrap();
        let id = conv.id;
        let kinds = || event_types(&store, t, EntityKind::Conversation, id.get());
        assert_eq!(kinds().await, [Created, Email], "{label}");

        let steps = [
            Step {
                name: "name",
                change: |c| c.visitor.name = Some("Ada".into()),
                events: &[Updated],
                fields: &["visitor/name"],
            },
            Step {
                name: "status",
                change: |c| {
                    c.set_status(ConversationStatus::Opened, Actor::System, now());
                },
                events: &[Updated, Status],
                fields: &["status", "startedAt"],
            },
            Step {
                name: "custom info",
                change: |c| {
                    c.custom_info.insert("plan".into(), json!({"tier": 2}));
                },
                events: &[Updated, CustomInfo],
                fields: &["customInfo"],
            },
            Step {
                name: "same email",
                change: |c| c.visitor.email = Some("ada@example.com".into()),
                events: &[],
                fields: &[],
            },
            Step {
                name: "new email",
                change: |c| c.visitor.email = Some("ada@lovelace.org".into()),
                events: &[Updated, Email],
                fields: &["visitor/email"],
            },
            Step {
                name: "no email",
                change: |c| c.visitor.email = None,
                events: &[Updated],
                fields: &["visitor/email"],
            },
            Step {
                name: "email again",
                change: |c| c.visitor.email = Some("ada@example.com".into()),
                events: &[Updated, Email],
                fields: &["visitor/email"],
            },
            Step {
                name: "close with info",
                change: |c| {
                    c.status = ConversationStatus::Closed;
                    c.custom_info.clear();
                },
                events: &[Updated, Status, CustomInfo],
                fields: &["closedAt", "closedBy", "customInfo", "endedAt", "status"],
            },
        ];
        let mut version = 1;
        for Step {
            name: step,
            change,
            events: expected,
            fields,
        } in steps
        {
            let seen = kinds().await.len();
            let written = store
                .conversations()
                .update(&ctx, id, Precondition::NONE, move |c| {
                    change(c);
                })
                .await
                .unwrap();
            if expected.is_empty() {
                assert_eq!(
                    written.version, version,
                    "{label}: {step}: a no-op bumped the version"
                );
            } else {
                version += 1;
                assert_eq!(written.version, version, "{label}: {step}");
            }
            let new = events(&store, t, EntityKind::Conversation, id.get())
                .await
                .split_off(seen);
            let got: Vec<EventType> = new.iter().map(|e| e.event.event_type).collect();
            assert_eq!(got, expected, "{label}: {step}");
            for e in &new {
                assert_eq!(
                    (e.event.version_before, e.event.version_after),
                    (Some(version - 1), Some(version)),
                    "{label}: {step}"
                );
                assert_eq!(
                    e.event.payload["company_username"], "acme",
                    "{label}: {step}"
                );
                // No subscriber: done when written, taken by no worker.
                assert!(
                    e.processed_at.is_some() && e.claimed_by.is_none(),
                    "{label}: {step}"
                );
            }
            if let Some(updated) = new.first() {
                let mut changed: Vec<String> =
                    serde_json::from_value(updated.event.payload["changed_fields"].clone())
                        .unwrap();
                changed.sort();
                let mut fields: Vec<String> = fields.iter().map(|f| (*f).to_string()).collect();
                fields.sort();
                assert_eq!(changed, fields, "{label}: {step}");
            }
        }
        let all = kinds().await;
        assert_eq!(
            all.iter().filter(|k| **k == Email).count(),
            3,
            "{label}: one email_updated per change to an email"
        );
        let email = events(&store, t, EntityKind::Conversation, id.get())
            .await
            .into_iter()
            .rfind(|e| e.event.event_type == Email)
            .unwrap();
        assert_eq!(
            email.event.payload["receiver_email"], "ada@example.com",
            "{label}"
        );
        assert_eq!(email.event.payload["user_session_id"], "s-1", "{label}");
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_change_that_changes_nothing_writes_nothing() {
    for_each_tenant(|store, label, ctx| async move {
        let t = ctx.tenant.id;
        let conv = create_conversation(&store, &ctx, "s-1").await;
        let customer = create_customer(&store, &ctx).await;
        let before = snapshot(&store, &ctx, conv.id).await;

        let same = store
            .conversations()
            .update(&ctx, conv.id, Precondition::version(1), |c| {
                c.rating = Some(4);
                c.rating = None;
                // Bookkeeping fields are pinned whatever the change does.
                c.version = 77;
                c.updated_at = switchboard_domain::Timestamp::from_millis(5);
            })
            .await
            .unwrap();
        assert_eq!(same, conv, "{label}");
        assert_eq!(snapshot(&store, &ctx, conv.id).await, before, "{label}");

        let same = store
            .customers()
            .update(&ctx, customer.id, Precondition::NONE, |_| {})
            .await
            .unwrap();
        assert_eq!(same, customer, "{label}");
        assert_eq!(
            event_count(&store, t, EntityKind::Customer, customer.id.get()).await,
            1,
            "{label}"
        );
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn history_records_actor_api_diff_and_versions() {
    for_each_backend(|store, label| async move {
        let system = tenant(&store, "acme").await;
        let t = system.tenant.id;
        let agent = new_agent(&store, t, "Ada").await;
        let as_agent =
            WriteContext::new(system.tenant.clone(), Actor::Agent(agent.id), "helpcrunch");
        let key = store
            .admin()
            .create_api_key(t, "zapier", Default::default())
            .await
            .unwrap();
        let as_key = WriteContext::new(system.tenant.clone(), Actor::ApiKey(key.key.id), "zoho");

        let conv = create_conversation(&store, &system, "s-1").await;
        store
            .conversations()
            .update(&as_agent, conv.id, Precondition::NONE, |c| {
                c.visitor.name = Some("Ada".into());
            })
            .await
            .unwrap();
        store
            .conversations()
            .update(&as_key, conv.id, Precondition::NONE, |c| {
                c.status = ConversationStatus::Closed;
            })
            .await
            .unwrap();
        store
            .conversations()
            .delete(&as_agent, conv.id, Precondition::NONE)
            .await
            .unwrap();

        let history = store.conversations().history(t, conv.id, 10).await.unwrap();
        let summary: Vec<_> = history
            .iter()
            .map(|h| (h.actor, h.api.as_str(), h.version_before, h.version_after))
            .collect();
        assert_eq!(
            summary,
            [
                (Actor::Agent(agent.id), "helpcrunch", Some(3), None),
                (Actor::ApiKey(key.key.id), "zoho", Some(2), Some(3)),
                (Actor::Agent(agent.id), "helpcrunch", Some(1), Some(2)),
                (Actor::System, "test", None, Some(1)),
            ],
            "{label}: newest first"
        );
        assert!(
            history
                .windows(2)
                .all(|w| w[0].id > w[1].id && w[0].at >= w[1].at),
            "{label}"
        );
        let paths = |i: usize| -> Vec<String> {
            history[i]
                .diff
                .iter()
                .map(|op| op.path().to_string())
                .collect()
        };
        assert!(
            paths(2).contains(&"/visitor/name".to_string()),
            "{label}: {:?}",
            paths(2)
        );
        assert!(
            paths(1).contains(&"/status".to_string()),
            "{label}: {:?}",
            paths(1)
        );
        assert!(
            paths(1).contains(&"/closedBy".to_string()),
            "{label}: {:?}",
            paths(1)
        );
        let closed_by = history[1]
            .diff
            .iter()
            .find(|op| op.path() == "/closedBy")
            .unwrap();
        assert_eq!(
            closed_by,
            &Operation::Replace {
                path: "/closedBy".into(),
                value: json!({"type": "apiKey", "id": key.key.id.get()})
            },
            "{label}"
        );
        // The create diff adds the whole document.
        assert_eq!(history[3].diff.len(), 1, "{label}");
        assert_eq!(history[3].diff[0].path(), "", "{label}");
        assert_eq!(
            store
                .conversations()
                .history(t, conv.id, 2)
                .await
                .unwrap()
                .len(),
            2,
            "{label}"
        );

        let customer = create_customer(&store, &as_key).await;
        let history = store.customers().history(t, customer.id, 10).await.unwrap();
        assert_eq!(history.len(), 1, "{label}");
        assert_eq!(
            (history[0].actor, history[0].api.as_str()),
            (Actor::ApiKey(key.key.id), "zoho"),
            "{label}"
        );
    })
    .await;
}

/// A change for `modify_customers`: batches need one closure type.
type CustomerChange = Box<dyn FnMut(&mut Customer) -> Result<(), DomainError> + Send>;

fn rename(name: &'static str) -> CustomerChange {
    Box::new(move |c| {
        c.name = Some(name.into());
        Ok(())
    })
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_batch_of_customer_changes_commits_together_or_not_at_all() {
    for_each_backend(|store, label| async move {
        let (ctx, other) = two_tenants(&store).await;
        let t = ctx.tenant.id;
        let mut ids = Vec::new();
        for _ in 0..3 {
            ids.push(create_customer(&store, &ctx).await.id);
        }
        let foreign = create_customer(&store, &other).await.id;
        let event_counts = async || {
            let mut counts = Vec::new();
            for id in &ids {
                counts.push(event_count(&store, t, EntityKind::Customer, id.get()).await);
            }
            counts
        };

        let bad_email: CustomerChange = Box::new(|c| {
            c.email = Some("not an email".into());
            Ok(())
        });
        let failed = store
            .customers()
            .modify_many(
                &ctx,
                vec![
                    (ids[2], rename("C")),
                    (ids[0], bad_email),
                    (ids[1], rename("B")),
                ],
            )
            .await
            .map_err(|e| (e.index, StorageError::from(e.error)));
        match failed {
            Err((1, StorageError::Domain(DomainError::Validation(_)))) => {}
            other => panic!("{label}: {other:?}"),
        }
        let foreign_batch = store
            .customers()
            .modify_many(&ctx, vec![(ids[0], rename("A")), (foreign, rename("X"))])
            .await
            .map_err(|e| (e.index, StorageError::from(e.error)));
        assert!(
            matches!(foreign_batch, Err((1, StorageError::NotFound))),
            "{label}: {foreign_batch:?}"
        );
        // every refused item is reported, not only the first
        let bad_email: CustomerChange = Box::new(|c| {
            c.email = Some("not an email".into());
            Ok(())
        });
        let every = store
            .customers()
            .modify_many(
                &ctx,
                vec![
                    (foreign, rename("X")),
                    (ids[0], rename("A")),
                    (ids[1], bad_email),
                ],
            )
            .await
            .map_err(|e| {
                std::iter::once((e.index, e.error))
                    .chain(e.more)
                    .map(|(i, e)| (i, StorageError::from(e)))
                    .collect::<Vec<_>>()
            });
        match every.as_ref().map_err(Vec::as_slice) {
            Err(
                [
                    (0, StorageError::NotFound),
                    (2, StorageError::Domain(DomainError::Validation(_))),
                ],
            ) => {}
            other => panic!("{label}: {other:?}"),
        }
        for id in &ids {
            assert_eq!(
                load_customer(&store, t, *id).await.version,
                1,
                "{label}: a failed batch wrote"
            );
        }
        assert_eq!(event_counts().await, [1, 1, 1], "{label}");

        let noop: CustomerChange = Box::new(|_| Ok(()));
        let written = store
            .customers()
            .modify_many(
                &ctx,
                vec![(ids[1], rename("B")), (ids[0], rename("A")), (ids[2], noop)],
            )
            .await
            .unwrap();
        let summary: Vec<_> = written
            .iter()
            .map(|c| (c.id, c.name.as_deref(), c.version))
            .collect();
        assert_eq!(
            summary,
            [
                (ids[1], Some("B"), 2),
                (ids[0], Some("A"), 2),
                (ids[2], None, 1)
            ],
            "{label}: results in the order given"
        );
        assert_eq!(event_counts().await, [2, 2, 1], "{label}");
    })
    .await;
}

/// JSON `value` as the store writes it: compact, members in name order.
fn written(value: impl serde::Serialize) -> String {
    serde_json::to_string(&serde_json::to_value(value).unwrap()).unwrap()
}

/// An event's payload and diff and a history row's actor and diff are
/// stored as the text written, on PostgreSQL too (`json`, not `jsonb`,
/// which would keep its own text: `{"a": 1}`, shorter names first), and
/// read back as the same JSON.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn events_and_history_keep_the_text_written() {
    for db in TestDb::all() {
        let label = db.label;
        let store = open(&db).await;
        let ctx = tenant(&store, "acme").await;
        let t = ctx.tenant.id;
        let conv = create_conversation(&store, &ctx, "s-1").await;
        store
            .conversations()
            .modify(&ctx, conv.id, Precondition::NONE, |c| {
                c.visitor.email = Some("ada@example.com".into());
                Ok::<_, DomainError>(())
            })
            .await
            .unwrap();

        let events = store.conversations().events(t, conv.id).await.unwrap();
        let history = store
            .conversations()
            .history(t, conv.id, 100)
            .await
            .unwrap();
        assert!(events.len() >= 2 && history.len() == 2, "{label}");

        let mut expected_events: Vec<String> = events
            .iter()
            .map(|e| format!("{} {}", written(&e.event.payload), written(&e.event.diff)))
            .collect();
        let mut expected_history: Vec<String> = history
            .iter()
            .map(|h| format!("{} {}", written(h.actor), written(&h.diff)))
            .collect();
        let stored = |table: &str, a: &str, b: &str| {
            let mut lines = db.raw().lines(
                &format!("SELECT {a} || ' ' || {b} AS line FROM {table} ORDER BY id"),
                &format!("SELECT {a}::text || ' ' || {b}::text AS line FROM {table} ORDER BY id"),
            );
            lines.sort();
            lines
        };
        expected_events.sort();
        expected_history.sort();
        assert_eq!(
            stored("outbox", "payload", "diff"),
            expected_events,
            "{label}"
        );
        assert_eq!(
            stored("change_history", "actor", "diff"),
            expected_history,
            "{label}"
        );
        assert!(
            expected_events
                .iter()
                .any(|e| e.contains("\"ada@example.com\"")),
            "{label}: {expected_events:?}"
        );
    }
}
