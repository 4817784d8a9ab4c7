//! Console sign-in: Argon2id passwords, server-side sessions with idle and
//! absolute expiry, tenant scoping, and the live stream's event reads.

use std::time::Duration;

use switchboard_domain::{Agent, Conversation, TenantId};
use switchboard_storage::{Clock, SessionPolicy, SignIn, StorageError, Store, now};

use super::harness::{
    for_each_backend, for_each_backend_clocked, for_each_tenant, tenant, two_tenants,
};

const PASSWORD: &str = "correct horse battery";

/// Whether `token` names a live session under `policy`.
/// Moves `clock` on 9 minutes and uses `token`, `times` times: the session
/// must be alive each time.
async fn used_every_9_minutes(
    store: &Store,
    clock: &Clock,
    token: &str,
    policy: SessionPolicy,
    times: u32,
    label: &str,
) {
    for _ in 0..times {
        clock.advance(Duration::from_secs(9 * 60));
        assert!(live(store, token, policy).await, "{label}");
    }
}

async fn live(store: &Store, token: &str, policy: SessionPolicy) -> bool {
    store
        .console()
        .session(token, policy)
        .await
        .unwrap()
        .is_some()
}

/// A new agent of the tenant (role `agent`) whose console password is
/// [`PASSWORD`].
async fn agent_with_password(store: &Store, tenant: TenantId, name: &str, email: &str) -> Agent {
    let agent = store
        .admin()
        .create_agent(tenant, name, email, "agent")
        .await
        .unwrap();
    store
        .console()
        .set_password(tenant, email, PASSWORD)
        .await
        .unwrap();
    agent
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn passwords_are_argon2id_and_only_the_right_one_signs_in() {
    for_each_tenant(|store, label, ctx| async move {
        let agent = store
            .admin()
            .create_agent(ctx.tenant.id, "Ada", "ada@example.com", "admin")
            .await
            .unwrap();
        // No password yet: nobody signs in as this agent.
        let r = store
            .console()
            .sign_in("ada@example.com", "", None)
            .await
            .unwrap();
        assert!(matches!(r, SignIn::Refused), "{label}");

        store
            .console()
            .set_password(ctx.tenant.id, "ADA@example.com ", PASSWORD)
            .await
            .unwrap();
        match store
            .console()
            .sign_in(" Ada@Example.com", PASSWORD, None)
            .await
            .unwrap()
        {
            SignIn::Agent(a) => assert_eq!(a.id, agent.id, "{label}"),
            other => panic!("{label}: {other:?}"),
        }
        for (email, password) in [
            ("ada@example.com", "correct horse battery!"),
            ("ada@example.com", ""),
            ("nobody@example.com", PASSWORD),
            ("", PASSWORD),
        ] {
            let r = store
                .console()
                .sign_in(email, password, None)
                .await
                .unwrap();
            assert!(matches!(r, SignIn::Refused), "{label}: {email} {password}");
        }
        // Too short a password is refused before anything is stored.
        let e = store
            .console()
            .set_password(ctx.tenant.id, "ada@example.com", "short")
            .await
            .unwrap_err();
        assert!(matches!(e, StorageError::Domain(_)), "{label}: {e:?}");
        // An unknown agent.
        let e = store
            .console()
            .set_password(ctx.tenant.id, "eve@example.com", PASSWORD)
            .await
            .unwrap_err();
        assert!(matches!(e, StorageError::NotFound), "{label}: {e:?}");
    })
    .await;
}

#[test]
fn the_stored_hash_is_an_argon2id_phc_string() {
    let hash = switchboard_storage::console::hash_password(PASSWORD).unwrap();
    assert!(hash.starts_with("$argon2id$"), "{hash}");
    assert!(switchboard_storage::console::verify_password(
        PASSWORD, &hash
    ));
    assert!(!switchboard_storage::console::verify_password(
        "nope", &hash
    ));
    assert!(!switchboard_storage::console::verify_password(
        PASSWORD,
        "not a hash"
    ));
    // A fresh salt each time.
    assert_ne!(
        hash,
        switchboard_storage::console::hash_password(PASSWORD).unwrap()
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_same_email_in_two_tenants_must_name_its_tenant() {
    for_each_backend(|store, label| async move {
        let (a, b) = two_tenants(&store).await;
        for t in [&a, &b] {
            agent_with_password(&store, t.tenant.id, "Sam", "sam@example.com").await;
        }
        let r = store
            .console()
            .sign_in("sam@example.com", PASSWORD, None)
            .await
            .unwrap();
        assert!(matches!(r, SignIn::Ambiguous), "{label}: {r:?}");
        match store
            .console()
            .sign_in("sam@example.com", PASSWORD, Some(b.tenant.id))
            .await
            .unwrap()
        {
            SignIn::Agent(agent) => assert_eq!(agent.tenant_id, b.tenant.id, "{label}"),
            other => panic!("{label}: {other:?}"),
        }
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sessions_end_when_idle_too_long_too_old_signed_out_or_on_a_new_password() {
    for_each_backend_clocked(|store, label, clock| async move {
        let ctx = tenant(&store, "acme").await;
        let agent = agent_with_password(&store, ctx.tenant.id, "Ada", "ada@example.com").await;
        let policy = SessionPolicy {
            idle: Duration::from_secs(600),
            max_age: Duration::from_secs(3600),
        };
        let console = store.console();

        // A live session names its agent and tenant and has a CSRF token.
        let new = console.create_session(&agent, policy).await.unwrap();
        assert!(new.token.starts_with("sbs_"), "{label}");
        let s = console.session(&new.token, policy).await.unwrap().unwrap();
        assert_eq!(
            (s.agent.id, s.tenant.id),
            (agent.id, ctx.tenant.id),
            "{label}"
        );
        assert_eq!(s.csrf.len(), 32, "{label}");
        assert!(!live(&store, "sbs_forged", policy).await);

        // Used every 9 minutes it stays alive; idle for 11 it has ended.
        used_every_9_minutes(&store, &clock, &new.token, policy, 3, label).await;
        clock.advance(Duration::from_secs(11 * 60));
        assert!(!live(&store, &new.token, policy).await, "{label}");

        // However busy, a session ends after max_age.
        let busy = console.create_session(&agent, policy).await.unwrap();
        used_every_9_minutes(&store, &clock, &busy.token, policy, 6, label).await;
        clock.advance(Duration::from_secs(9 * 60));
        assert!(!live(&store, &busy.token, policy).await, "{label}");

        // Sign-out ends one session.
        let one = console.create_session(&agent, policy).await.unwrap();
        let two = console.create_session(&agent, policy).await.unwrap();
        console.end_session(one.session.id).await.unwrap();
        assert!(!live(&store, &one.token, policy).await, "{label}");
        assert!(live(&store, &two.token, policy).await, "{label}");

        // A new password ends them all.
        console
            .set_password(ctx.tenant.id, "ada@example.com", "another long password")
            .await
            .unwrap();
        assert!(!live(&store, &two.token, policy).await, "{label}");
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn events_after_reads_only_the_tenants_events_in_order() {
    for_each_backend(|store, label| async move {
        let (a, b) = two_tenants(&store).await;
        let start = store.console().last_event_id().await.unwrap();
        let mine = store
            .conversations()
            .create(&a, Conversation::new(a.tenant.id, "a-1", now()))
            .await
            .unwrap();
        store
            .conversations()
            .create(&b, Conversation::new(b.tenant.id, "b-1", now()))
            .await
            .unwrap();
        let events = store
            .console()
            .events_after(a.tenant.id, start, 100)
            .await
            .unwrap();
        assert!(!events.is_empty(), "{label}");
        assert!(
            events
                .iter()
                .all(|(_, kind, id)| kind == "conversation" && *id == mine.id.get()),
            "{label}: {events:?}"
        );
        assert!(events.windows(2).all(|w| w[0].0 < w[1].0), "{label}");
        let last = events.last().unwrap().0;
        assert!(
            store
                .console()
                .events_after(a.tenant.id, last, 100)
                .await
                .unwrap()
                .is_empty()
        );
        assert!(
            store.console().last_event_id().await.unwrap() > last,
            "{label}"
        );
    })
    .await;
}
