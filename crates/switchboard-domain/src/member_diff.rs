//! The diff of two versions of an entity, member by member.
//!
//! An update's events carry the RFC 6902 diff between the entity's
//! canonical JSON before and after ([`json::diff()`] of the two
//! `serde_json::to_value`s). Converting the whole entity twice to diff a
//! write that changed two members is most of an event's cost, so
//! [`conversation`] compares the members as they are and converts only
//! those that differ, giving exactly the operations, in exactly the order,
//! that [`json::diff()`] gives for the two whole documents.

use std::collections::BTreeMap;

use serde::Serialize;
use serde_json::Value;

use crate::json::{self, Operation};
use crate::{Conversation, Visitor};

/// Where `a` and `b`, the values of the member `name` of two documents,
/// differ: [`json::diff_under`] at `/name` of their JSON.
fn member<T: Serialize + ?Sized>(ops: &mut Vec<Operation>, name: &str, a: &T, b: &T) {
    let to_json = |v: &T| serde_json::to_value(v).unwrap_or(Value::Null);
    json::diff_under(format!("/{name}"), &to_json(a), &to_json(b), ops);
}

/// Whether two free-form maps are the same JSON: as [`json::values_identical`]
/// compares, so `0.0` and `-0.0` differ (serde_json's `==` calls them equal).
fn same_free_form(a: &BTreeMap<String, Value>, b: &BTreeMap<String, Value>) -> bool {
    a.len() == b.len()
        && a.iter()
            .zip(b)
            .all(|((k, v), (l, w))| k == l && json::values_identical(v, w))
}

/// The diff of two versions of a conversation: the same operations, in the
/// same order, as [`json::diff()`] of their canonical JSON.
///
/// A conversation's JSON always has every member (none is skipped), so
/// the two documents have the same members, which `json::diff` walks in
/// their map's order (byte order of the names) and finishes last to first
/// (its work list is a stack), each member's operations together. Here
/// the members are visited in that order too, and each one that differs
/// is converted and diffed alone.
///
/// ```
/// use switchboard_domain::{Conversation, TenantId, Timestamp, json};
/// let a = Conversation::new(TenantId::new(1), "s-1", Timestamp::from_millis(0));
/// let mut b = a.clone();
/// b.rank = 3;
/// b.visitor.name = Some("Ada".into());
/// let whole = json::diff(&serde_json::to_value(&a)?, &serde_json::to_value(&b)?);
/// assert_eq!(switchboard_domain::event::conversation_diff(&a, &b), whole);
/// # Ok::<(), serde_json::Error>(())
/// ```
#[must_use]
pub fn conversation(a: &Conversation, b: &Conversation) -> Vec<Operation> {
    // Every member by name: a member added to `Conversation` fails to
    // compile here until it is listed below.
    let Conversation {
        id,
        tenant_id,
        session_key,
        status,
        visitor,
        customer_id,
        assignee_id,
        agent_ids,
        department_id,
        topic_id,
        rating,
        flags,
        alert_level,
        rank,
        initial_queue_pos,
        transfer_to,
        first_message,
        last_message,
        requested_at,
        started_at,
        ended_at,
        idle_at,
        fetched_at,
        last_message_at,
        last_customer_message_at,
        closed_at,
        closed_by,
        snoozed_until,
        chatbot_active,
        custom_info,
        created_with,
        created_at,
        updated_at,
        version,
    } = b;
    let mut ops = Vec::new();
    // Last to first in byte order of the JSON names: the test that changes
    // every member compares the whole sequence with `json::diff`'s.
    macro_rules! members {
        ($($name:literal: $field:ident),* $(,)?) => {
            $(if a.$field != *$field {
                member(&mut ops, $name, &a.$field, $field);
            })*
        };
    }
    if a.visitor != *visitor {
        visitor_diff(&mut ops, &a.visitor, visitor);
    }
    members!(
        "version": version,
        "updatedAt": updated_at,
        "transferTo": transfer_to,
        "topicId": topic_id,
        "tenantId": tenant_id,
        "status": status,
        "startedAt": started_at,
        "snoozedUntil": snoozed_until,
        "sessionKey": session_key,
        "requestedAt": requested_at,
        "rating": rating,
        "rank": rank,
        "lastMessageAt": last_message_at,
        "lastMessage": last_message,
        "lastCustomerMessageAt": last_customer_message_at,
        "initialQueuePos": initial_queue_pos,
        "idleAt": idle_at,
        "id": id,
        "flags": flags,
        "firstMessage": first_message,
        "fetchedAt": fetched_at,
        "endedAt": ended_at,
        "departmentId": department_id,
        "customerId": customer_id,
    );
    if !same_free_form(&a.custom_info, custom_info) {
        member(&mut ops, "customInfo", &a.custom_info, custom_info);
    }
    members!(
        "createdWith": created_with,
        "createdAt": created_at,
        "closedBy": closed_by,
        "closedAt": closed_at,
        "chatbotActive": chatbot_active,
        "assigneeId": assignee_id,
        "alertLevel": alert_level,
        "agentIds": agent_ids,
    );
    ops
}

/// Where two visitors, a conversation's `visitor` member, differ: as
/// [`json::diff()`] walks the member (it has the same members on both
/// sides), last to first.
fn visitor_diff(ops: &mut Vec<Operation>, a: &Visitor, b: &Visitor) {
    let Visitor {
        name,
        email,
        phone,
        company,
        country,
        host,
        alias,
        consented,
    } = b;
    macro_rules! members {
        ($($name:literal: $field:ident),* $(,)?) => {
            $(if a.$field != *$field {
                member(ops, concat!("visitor/", $name), &a.$field, $field);
            })*
        };
    }
    members!(
        "phone": phone,
        "name": name,
        "host": host,
        "email": email,
        "country": country,
        "consented": consented,
        "company": company,
        "alias": alias,
    );
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;
    use crate::{Actor, AgentId, ConversationStatus, CustomerId, TenantId, Timestamp};

    /// Every member changed at once, and the free-form map's `-0.0`.
    #[test]
    fn every_member_changed_gives_json_diffs_operations() {
        let a = Conversation::new(TenantId::new(1), "s", Timestamp::from_millis(0));
        let mut b = a.clone();
        b.id = crate::ConversationId::new(9);
        b.tenant_id = TenantId::new(2);
        b.session_key = "t".into();
        b.status = ConversationStatus::Closed;
        b.visitor = Visitor {
            name: Some("Ada".into()),
            email: Some("a@example.com".into()),
            phone: Some("+47".into()),
            company: Some("Acme".into()),
            country: Some("NO".into()),
            host: Some("h".into()),
            alias: Some("ada".into()),
            consented: true,
        };
        b.customer_id = Some(CustomerId::new(3));
        b.assignee_id = Some(AgentId::new(4));
        b.agent_ids = vec![AgentId::new(4), AgentId::new(5)];
        b.topic_id = Some(6);
        b.rating = Some(5);
        b.flags = 3;
        b.alert_level = 2;
        b.rank = 7;
        b.initial_queue_pos = 8;
        b.transfer_to = Some(AgentId::new(5));
        b.first_message = Some("hi".into());
        b.last_message = Some("bye".into());
        let t = Some(Timestamp::from_millis(5));
        (b.requested_at, b.started_at, b.ended_at, b.idle_at) = (t, t, t, t);
        (b.fetched_at, b.last_message_at, b.last_customer_message_at) = (t, t, t);
        (b.closed_at, b.snoozed_until) = (t, t);
        b.closed_by = Some(Actor::System);
        b.chatbot_active = true;
        b.custom_info.insert("k".into(), json!({"x": [1, 2]}));
        b.created_with = Some("api".into());
        b.created_at = Timestamp::from_millis(1);
        b.updated_at = Timestamp::from_millis(2);
        b.version = 2;
        let whole = |a: &Conversation, b: &Conversation| {
            json::diff(
                &serde_json::to_value(a).unwrap(),
                &serde_json::to_value(b).unwrap(),
            )
        };
        assert_eq!(conversation(&a, &b), whole(&a, &b));
        assert_eq!(conversation(&b, &a), whole(&b, &a));
        assert!(conversation(&b, &b).is_empty());
        let mut zero = b.clone();
        zero.custom_info.insert("z".into(), json!(0.0));
        let mut negative = b.clone();
        negative.custom_info.insert("z".into(), json!(-0.0));
        let ops = conversation(&zero, &negative);
        assert_eq!(ops, whole(&zero, &negative));
        assert_eq!(ops.len(), 1, "{ops:?}");
    }
}
