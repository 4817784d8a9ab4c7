//! The modify engine's contract beyond a single write: customers under
//! contention, the caller's own rejections, changes that see the
//! conversation's links, deletes under a precondition, and the batched
//! link loader.

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

use serde_json::json;
use switchboard_domain::{
    AttributeType, Conversation, ConversationLinks, Customer, EntityKind, Location, Tag,
};
use switchboard_storage::{LinkSet, ModifyError, Precondition, StorageError};

use super::harness::{
    assert_all_counted, assert_not_found, concurrently, conversation_event_count,
    create_conversation, create_customer, define, delete_customer, draft, events, for_each_backend,
    for_each_tenant, load_conversation, new_agent, two_tenants,
};

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn concurrent_customer_changes_lose_no_update() {
    const TASKS: i64 = 8;
    const INCREMENTS: i64 = 25;
    for_each_tenant(|store, label, ctx| async move {
        define(
            &store,
            ctx.tenant.id,
            "counter",
            AttributeType::Number,
            "Counter",
        )
        .await;
        let mut c = Customer::new(ctx.tenant.id, store.now());
        c.custom_data.insert("counter".into(), json!(0));
        let customer = store.customers().create(&ctx, c).await.unwrap();
        concurrently(
            &store,
            &ctx,
            TASKS,
            INCREMENTS,
            move |store, ctx, task, i| async move {
                store
                    .customers()
                    .update(&ctx, customer.id, Precondition::NONE, move |c| {
                        let n = c.custom_data["counter"].as_i64().unwrap_or_default();
                        c.custom_data.insert("counter".into(), json!(n + 1));
                        // Every fifth write adds a tag of its own: the write
                        // then records it in the same transaction (no
                        // single-statement path).
                        if i % 5 == 0 {
                            c.add_tags([Tag::new(format!("t{task}-{i}"))]);
                        }
                    })
                    .await
                    .unwrap();
            },
        )
        .await;
        let counted = (EntityKind::Customer, customer.id.get());
        assert_all_counted(&store, ctx.tenant.id, counted, label, TASKS * INCREMENTS).await;
        let tags = store.admin().tags(ctx.tenant.id).await.unwrap();
        assert_eq!(tags.len() as i64, TASKS * INCREMENTS / 5, "{label}");
    })
    .await;
}

/// The caller's own error type, as a dialect would have it.
#[derive(Debug, PartialEq)]
struct Refused(&'static str);

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_change_refuses_with_its_own_error_and_writes_nothing() {
    for_each_tenant(|store, label, ctx| async move {
        let conv = create_conversation(&store, &ctx, "s-1").await;
        let customer = create_customer(&store, &ctx).await;
        let refused = store
            .conversations()
            .modify(&ctx, conv.id, Precondition::NONE, |c| {
                c.rating = Some(4);
                Err(Refused("no rating without an agent"))
            })
            .await;
        assert!(
            matches!(
                &refused,
                Err(ModifyError::Rejected(Refused("no rating without an agent")))
            ),
            "{label}: {refused:?}"
        );
        let refused = store
            .customers()
            .modify(&ctx, customer.id, Precondition::NONE, |c| {
                c.name = Some("x".into());
                Err(Refused("customer"))
            })
            .await;
        assert!(
            matches!(&refused, Err(ModifyError::Rejected(Refused("customer")))),
            "{label}: {refused:?}"
        );
        // A store error keeps its kind.
        let missing = store
            .conversations()
            .modify(
                &ctx,
                switchboard_domain::ConversationId::new(9999),
                Precondition::NONE,
                |_| Ok::<(), Refused>(()),
            )
            .await;
        assert!(
            matches!(missing, Err(ModifyError::Storage(StorageError::NotFound))),
            "{label}"
        );
        assert_eq!(
            load_conversation(&store, ctx.tenant.id, conv.id).await,
            conv,
            "{label}: nothing written"
        );
        assert_eq!(
            conversation_event_count(&store, &conv).await,
            1,
            "{label}: no event"
        );
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_linked_change_sees_the_rows_of_the_row_it_changes() {
    for_each_tenant(|store, label, ctx| async move {
        let t = ctx.tenant.id;
        let ada = new_agent(&store, t, "Ada").await;
        let bob = new_agent(&store, t, "Bob").await;
        let mut customer = Customer::new(t, store.now());
        customer.name = Some("Cleo".into());
        let customer = store.customers().create(&ctx, customer).await.unwrap();
        let mut d = draft(t, "s-1");
        d.assign(Some(ada.id));
        d.customer_id = Some(customer.id);
        let conv = store.conversations().create(&ctx, d).await.unwrap();

        let calls = Arc::new(AtomicUsize::new(0));
        let seen = Arc::clone(&calls);
        let (changed, links) = store
            .conversations()
            .modify_linked(&ctx, conv.id, Precondition::NONE, move |c, links| {
                seen.fetch_add(1, Ordering::SeqCst);
                let assignee = links.assignee(c).map(|a| a.name.clone());
                let person = links.customer.as_ref().and_then(|p| p.name.clone());
                if assignee.as_deref() != Some("Ada") || person.as_deref() != Some("Cleo") {
                    return Err(Refused("the links do not match the row"));
                }
                // Hand over to Bob, as the linked names say.
                c.assign(Some(bob.id));
                Ok(())
            })
            .await
            .unwrap();
        assert_eq!(calls.load(Ordering::SeqCst), 1, "{label}");
        assert_eq!(changed.assignee_id, Some(bob.id), "{label}");
        assert_eq!(changed.agent_ids, vec![ada.id, bob.id], "{label}");
        // The links come back for the conversation as written: read again,
        // as the change linked another agent.
        assert!(links.covers(&changed), "{label}: {links:?}");
        assert_eq!(
            links.assignee(&changed).map(|a| a.name.as_str()),
            Some("Bob"),
            "{label}"
        );

        // The next change sees Bob.
        let after = store
            .conversations()
            .modify_linked(&ctx, conv.id, Precondition::NONE, |c, links| {
                match links.assignee(c).map(|a| a.name.as_str()) {
                    Some("Bob") => Ok(()),
                    _ => Err(Refused("stale links")),
                }
            })
            .await;
        assert!(after.is_ok(), "{label}: {after:?}");
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_delete_checks_its_precondition_in_the_same_step() {
    for_each_tenant(|store, label, ctx| async move {
        let t = ctx.tenant.id;
        let conv = create_conversation(&store, &ctx, "s-1").await;
        // Someone writes after the client read version 1.
        store
            .conversations()
            .update(&ctx, conv.id, Precondition::NONE, |c| c.rank = 3)
            .await
            .unwrap();
        let stale = store
            .conversations()
            .delete(&ctx, conv.id, Precondition::version(1))
            .await;
        assert!(
            matches!(stale, Err(StorageError::PreconditionFailed)),
            "{label}: {stale:?}"
        );
        assert_eq!(
            load_conversation(&store, t, conv.id).await.version,
            2,
            "{label}: not deleted"
        );
        store
            .conversations()
            .delete(&ctx, conv.id, Precondition::version(2))
            .await
            .unwrap();
        assert_not_found(store.conversations().get(t, conv.id).await, label);

        // The same for customers, and a missing row stays not found.
        let customer = create_customer(&store, &ctx).await;
        assert!(matches!(
            store
                .customers()
                .delete(&ctx, customer.id, Precondition::version(7))
                .await,
            Err(StorageError::PreconditionFailed)
        ));
        store
            .customers()
            .delete(&ctx, customer.id, Precondition::version(1))
            .await
            .unwrap();
        assert_not_found(delete_customer(&store, &ctx, customer.id).await, label);
        let kinds: Vec<_> = events(&store, t, EntityKind::Customer, customer.id.get())
            .await
            .iter()
            .map(|e| e.event.event_type.as_str())
            .collect();
        assert_eq!(kinds, ["customer_created", "customer_deleted"], "{label}");
    })
    .await;
}

/// `LinkSet::CONTACT` links of each customer only what a conversation's
/// contact reads of it, drawn from the document by the database: the
/// contact (and the user id a chat shows) is the same as of the whole
/// customer, JSON escapes and all, for a page of conversations and for
/// one; every other member is left at its default; the agents and the
/// department (read by the same statement) are those of the full links;
/// another tenant's customer, agent or department is never linked.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn contact_links_hold_what_the_contact_reads_of_the_whole_customer() {
    for_each_backend(|store, label| async move {
        let (ctx, other) = two_tenants(&store).await;
        let t = ctx.tenant.id;
        let mut rich = Customer::new(t, store.now());
        rich.user_id = Some("u-\"7\" \\ ü".into());
        rich.name = Some("Zoë \"Q\" \\ 名前 \u{1F600}".into());
        rich.email = Some("Zoe.Q@Example.com".into());
        rich.phone = Some("+1 555 0100".into());
        rich.company = Some("A/B & C <d>".into());
        rich.location = Some(Location {
            region_code: Some("CA".into()),
            country_code: Some("US".into()),
            city: Some("Los Angeles".into()),
        });
        rich.notes = Some("not a contact member".into());
        rich.tags = vec![Tag::named("vip")];
        let rich = store.customers().create(&ctx, rich).await.unwrap();
        let bare = create_customer(&store, &ctx).await;
        let admin = store.admin();
        let ada = admin
            .create_agent(t, "Ada \"A\"", "ada@example.com", "admin")
            .await
            .unwrap();
        let sales = admin.create_department(t, "Sales & Co").await.unwrap();

        // A visitor who gave nothing, one who gave a name, a customer with
        // nothing, no customer at all; assigned or not, in a department or
        // not.
        let mut convs = Vec::new();
        for (key, customer, visitor_name, agent, department) in [
            ("c-1", Some(rich.id), None, Some(ada.id), Some(sales.id)),
            ("c-2", Some(rich.id), Some("Visitor"), None, Some(sales.id)),
            ("c-3", Some(bare.id), None, Some(ada.id), None),
            ("c-4", None, Some("Walk-in"), None, None),
        ] {
            let mut d = draft(t, key);
            d.customer_id = customer;
            d.visitor.name = visitor_name.map(Into::into);
            d.assign(agent);
            d.department_id = department;
            convs.push(store.conversations().create(&ctx, d).await.unwrap());
        }
        let whole = store
            .conversations()
            .links(t, &convs, LinkSet::ALL)
            .await
            .unwrap();
        let narrow = store
            .conversations()
            .links(t, &convs, LinkSet::CONTACT)
            .await
            .unwrap();
        let mut one = Vec::new();
        for c in &convs {
            one.push(
                store
                    .conversations()
                    .links_of(t, c, LinkSet::CONTACT)
                    .await
                    .unwrap(),
            );
        }
        for (i, c) in convs.iter().enumerate() {
            let w = whole[i].customer.as_ref();
            for n in [&narrow[i], &one[i]] {
                let n = n.customer.as_ref();
                assert_eq!(c.contact(n), c.contact(w), "{label}: conversation {i}");
                let shown =
                    |x: Option<&Customer>| x.map(|x| (x.id, x.tenant_id, x.user_id.clone()));
                assert_eq!(shown(n), shown(w), "{label}: conversation {i}");
            }
            for n in [&narrow[i], &one[i]] {
                assert_eq!(n.agents, whole[i].agents, "{label}: conversation {i}");
                assert_eq!(n.department, whole[i].department, "{label}: {i}");
            }
        }
        assert_eq!(
            (narrow[0].agents.as_slice(), narrow[0].department.as_deref()),
            (&[std::sync::Arc::new(ada.clone())][..], Some(&sales)),
            "{label}: the agent and the department, whole"
        );
        assert!(
            narrow[1].agents.is_empty() && narrow[2].department.is_none(),
            "{label}: {narrow:?}"
        );
        assert_eq!(
            narrow[0].customer.as_ref().and_then(|x| x.email.as_deref()),
            Some("Zoe.Q@Example.com"),
            "{label}: the document's email, not the lower-cased index column"
        );
        let got = narrow[0].customer.as_ref().unwrap();
        assert!(
            got.notes.is_none()
                && got.tags.is_empty()
                && got.location.as_ref().unwrap().city.is_none(),
            "{label}: only the contact's members are read: {got:?}"
        );

        let foreign = store
            .conversations()
            .links(other.tenant.id, &convs, LinkSet::CONTACT)
            .await
            .unwrap();
        assert!(
            foreign
                .iter()
                .all(|l| l.customer.is_none() && l.agents.is_empty() && l.department.is_none()),
            "{label}: {foreign:?}"
        );
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn links_load_per_conversation_in_one_pass_and_stay_in_the_tenant() {
    for_each_backend(|store, label| async move {
        let (ctx, other) = two_tenants(&store).await;
        let t = ctx.tenant.id;
        let admin = store.admin();
        let ada = admin
            .create_agent(t, "Ada", "ada@example.com", "agent")
            .await
            .unwrap();
        let bob = admin
            .create_agent(t, "Bob", "bob@example.com", "agent")
            .await
            .unwrap();
        let sales = admin.create_department(t, "Sales").await.unwrap();
        let cleo = create_customer(&store, &ctx).await;

        let mut first = draft(t, "s-1");
        first.assign(Some(ada.id));
        first.agent_ids.push(bob.id);
        first.transfer_to = Some(bob.id);
        first.customer_id = Some(cleo.id);
        first.department_id = Some(sales.id);
        let mut second = draft(t, "s-2");
        second.assign(Some(bob.id));
        let third = draft(t, "s-3");
        let mut convs = Vec::new();
        for d in [first, second, third] {
            convs.push(store.conversations().create(&ctx, d).await.unwrap());
        }

        let links = store
            .conversations()
            .links(t, &convs, LinkSet::ALL)
            .await
            .unwrap();
        assert_eq!(links.len(), 3, "{label}");
        let names = |l: &ConversationLinks, c: &Conversation| -> Vec<String> {
            l.participants(c).map(|a| a.name.clone()).collect()
        };
        assert_eq!(names(&links[0], &convs[0]), ["Ada", "Bob"], "{label}");
        assert_eq!(
            links[0].transfer_target(&convs[0]).map(|a| a.id),
            Some(bob.id),
            "{label}"
        );
        assert_eq!(
            links[0].customer.as_ref().map(|c| c.id),
            Some(cleo.id),
            "{label}"
        );
        assert_eq!(
            links[0].department.as_ref().map(|d| d.id),
            Some(sales.id),
            "{label}"
        );
        assert_eq!(names(&links[1], &convs[1]), ["Bob"], "{label}");
        assert_eq!(
            links[1].assignee(&convs[1]).map(|a| a.id),
            Some(bob.id),
            "{label}"
        );
        assert_eq!(links[2], ConversationLinks::default(), "{label}");

        // Only what was asked for.
        let agents_only = LinkSet {
            customer: false,
            contact_only: false,
            agents: true,
            department: false,
        };
        let links = store
            .conversations()
            .links(t, &convs[..1], agents_only)
            .await
            .unwrap();
        assert_eq!(names(&links[0], &convs[0]), ["Ada", "Bob"], "{label}");
        assert!(
            links[0].customer.is_none() && links[0].department.is_none(),
            "{label}"
        );

        // Another tenant gets nothing for the same ids.
        let foreign = store
            .conversations()
            .links(other.tenant.id, &convs, LinkSet::ALL)
            .await
            .unwrap();
        assert!(
            foreign.iter().all(|l| *l == ConversationLinks::default()),
            "{label}: {foreign:?}"
        );

        // A linked row that is gone is left out.
        delete_customer(&store, &ctx, cleo.id).await.unwrap();
        let links = store
            .conversations()
            .links_of(t, &convs[0], LinkSet::ALL)
            .await
            .unwrap();
        assert!(links.customer.is_none(), "{label}");
    })
    .await;
}
