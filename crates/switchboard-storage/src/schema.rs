//! The one Diesel schema for both backends.
//!
//! Hand-maintained to match `migrations/{sqlite,postgres}`; the migration
//! tests check that both backends end with exactly these tables and columns.

/// SQL types that differ between the backends.
pub mod sql_types {
    /// JSON: `jsonb` on PostgreSQL, `TEXT` on SQLite.
    #[derive(
        Debug, Clone, Copy, Default, diesel::sql_types::SqlType, diesel::query_builder::QueryId,
    )]
    #[diesel(postgres_type(oid = 3802, array_oid = 3807))]
    #[diesel(sqlite_type(name = "Text"))]
    pub struct Json;

    /// JSON kept as the text written: `json` on PostgreSQL, `TEXT` on
    /// SQLite. For what is only ever read back whole and never searched by
    /// content (an event's payload and diff, a history row's actor and
    /// diff): PostgreSQL checks its syntax when it is written but does not
    /// build `jsonb` from it (a tree with every object's members sorted),
    /// which was a tenth of a write's database CPU (issue #18).
    #[derive(
        Debug, Clone, Copy, Default, diesel::sql_types::SqlType, diesel::query_builder::QueryId,
    )]
    #[diesel(postgres_type(oid = 114, array_oid = 199))]
    #[diesel(sqlite_type(name = "Text"))]
    pub struct WrittenJson;
}

diesel::table! {
    tenants (id) {
        id -> BigInt,
        name -> Text,
        created_at -> BigInt,
    }
}

diesel::table! {
    use diesel::sql_types::*;
    use super::sql_types::Json;

    api_keys (id) {
        id -> BigInt,
        tenant_id -> BigInt,
        name -> Text,
        prefix -> Text,
        secret_hash -> Text,
        scopes -> Json,
        created_at -> BigInt,
    }
}

diesel::table! {
    agents (id) {
        id -> BigInt,
        tenant_id -> BigInt,
        name -> Text,
        email -> Text,
        role -> Text,
        password_hash -> Nullable<Text>,
    }
}

diesel::table! {
    console_sessions (id) {
        id -> BigInt,
        tenant_id -> BigInt,
        agent_id -> BigInt,
        token_hash -> Text,
        csrf_token -> Text,
        created_at -> BigInt,
        last_seen_at -> BigInt,
    }
}

diesel::table! {
    departments (id) {
        id -> BigInt,
        tenant_id -> BigInt,
        name -> Text,
    }
}

diesel::table! {
    tags (id) {
        id -> BigInt,
        tenant_id -> BigInt,
        name -> Text,
        color -> Text,
    }
}

diesel::table! {
    custom_attributes (id) {
        id -> BigInt,
        tenant_id -> BigInt,
        name -> Text,
        kind -> Text,
        label -> Text,
    }
}

diesel::table! {
    use diesel::sql_types::*;
    use super::sql_types::Json;

    customers (id) {
        id -> BigInt,
        tenant_id -> BigInt,
        user_id -> Nullable<Text>,
        email -> Nullable<Text>,
        doc -> Json,
        created_at -> BigInt,
        updated_at -> BigInt,
        version -> BigInt,
    }
}

diesel::table! {
    use diesel::sql_types::*;
    use super::sql_types::Json;

    conversations (id) {
        id -> BigInt,
        tenant_id -> BigInt,
        session_key -> Text,
        status -> Text,
        customer_id -> Nullable<BigInt>,
        visitor_email -> Nullable<Text>,
        doc -> Json,
        created_at -> BigInt,
        updated_at -> BigInt,
        version -> BigInt,
    }
}

diesel::table! {
    webhook_subscriptions (id) {
        id -> BigInt,
        tenant_id -> BigInt,
        target_url -> Text,
        event -> Text,
        secret -> Text,
        previous_secret -> Nullable<Text>,
        previous_secret_expires_at -> Nullable<BigInt>,
        state -> Text,
        failing_since -> Nullable<BigInt>,
        created_at -> BigInt,
    }
}

diesel::table! {
    use diesel::sql_types::*;
    use super::sql_types::WrittenJson;

    outbox (id) {
        id -> BigInt,
        tenant_id -> BigInt,
        event_type -> Text,
        entity_kind -> Text,
        entity_id -> BigInt,
        version_before -> Nullable<BigInt>,
        version_after -> Nullable<BigInt>,
        payload -> WrittenJson,
        diff -> WrittenJson,
        created_at -> BigInt,
        available_at -> BigInt,
        claimed_by -> Nullable<Text>,
        processed_at -> Nullable<BigInt>,
        fan_out_failures -> Integer,
        last_error -> Nullable<Text>,
        quarantined_at -> Nullable<BigInt>,
    }
}

diesel::table! {
    deliveries (id) {
        id -> BigInt,
        tenant_id -> BigInt,
        outbox_id -> BigInt,
        subscription_id -> BigInt,
        message_id -> Text,
        state -> Text,
        attempt_count -> Integer,
        next_attempt_at -> BigInt,
        lease_until -> Nullable<BigInt>,
        claimed_by -> Nullable<Text>,
        last_status_code -> Nullable<Integer>,
        created_at -> BigInt,
        completed_at -> Nullable<BigInt>,
    }
}

diesel::table! {
    delivery_attempts (id) {
        id -> BigInt,
        delivery_id -> BigInt,
        attempt_no -> Integer,
        started_at -> BigInt,
        duration_ms -> BigInt,
        status_code -> Nullable<Integer>,
        outcome -> Text,
        error -> Nullable<Text>,
        response_excerpt -> Nullable<Text>,
    }
}

diesel::table! {
    use diesel::sql_types::*;
    use super::sql_types::WrittenJson;

    change_history (id) {
        id -> BigInt,
        tenant_id -> BigInt,
        entity_kind -> Text,
        entity_id -> BigInt,
        actor -> WrittenJson,
        api -> Text,
        diff -> WrittenJson,
        version_before -> Nullable<BigInt>,
        version_after -> Nullable<BigInt>,
        created_at -> BigInt,
    }
}

diesel::table! {
    nodes (id) {
        id -> Text,
        seen_at -> BigInt,
    }
}

diesel::joinable!(api_keys -> tenants (tenant_id));
diesel::joinable!(console_sessions -> agents (agent_id));
diesel::joinable!(deliveries -> outbox (outbox_id));
diesel::joinable!(deliveries -> webhook_subscriptions (subscription_id));
diesel::joinable!(delivery_attempts -> deliveries (delivery_id));

diesel::allow_tables_to_appear_in_same_query!(
    tenants,
    api_keys,
    agents,
    departments,
    tags,
    custom_attributes,
    customers,
    conversations,
    webhook_subscriptions,
    outbox,
    deliveries,
    delivery_attempts,
    change_history,
    nodes,
    console_sessions,
);

/// Every table and its columns, in declaration order; the migration tests
/// compare each backend's live catalog against this list.
#[cfg(test)]
pub(crate) const TABLES: &[(&str, &[&str])] = &[
    ("tenants", &["id", "name", "created_at"]),
    (
        "customer_attribute_values",
        &["tenant_id", "customer_id", "name", "value"],
    ),
    ("nodes", &["id", "seen_at"]),
    (
        "api_keys",
        &[
            "id",
            "tenant_id",
            "name",
            "prefix",
            "secret_hash",
            "scopes",
            "created_at",
        ],
    ),
    (
        "agents",
        &["id", "tenant_id", "name", "email", "role", "password_hash"],
    ),
    ("departments", &["id", "tenant_id", "name"]),
    ("tags", &["id", "tenant_id", "name", "color"]),
    (
        "custom_attributes",
        &["id", "tenant_id", "name", "kind", "label"],
    ),
    (
        "customers",
        &[
            "id",
            "tenant_id",
            "user_id",
            "email",
            "doc",
            "created_at",
            "updated_at",
            "version",
        ],
    ),
    (
        "conversations",
        &[
            "id",
            "tenant_id",
            "session_key",
            "status",
            "customer_id",
            "visitor_email",
            "doc",
            "created_at",
            "updated_at",
            "version",
        ],
    ),
    (
        "webhook_subscriptions",
        &[
            "id",
            "tenant_id",
            "target_url",
            "event",
            "secret",
            "previous_secret",
            "previous_secret_expires_at",
            "state",
            "failing_since",
            "created_at",
        ],
    ),
    (
        "outbox",
        &[
            "id",
            "tenant_id",
            "event_type",
            "entity_kind",
            "entity_id",
            "version_before",
            "version_after",
            "payload",
            "diff",
            "created_at",
            "available_at",
            "claimed_by",
            "processed_at",
            "fan_out_failures",
            "last_error",
            "quarantined_at",
        ],
    ),
    (
        "deliveries",
        &[
            "id",
            "tenant_id",
            "outbox_id",
            "subscription_id",
            "message_id",
            "state",
            "attempt_count",
            "next_attempt_at",
            "lease_until",
            "claimed_by",
            "last_status_code",
            "created_at",
            "completed_at",
        ],
    ),
    (
        "delivery_attempts",
        &[
            "id",
            "delivery_id",
            "attempt_no",
            "started_at",
            "duration_ms",
            "status_code",
            "outcome",
            "error",
            "response_excerpt",
        ],
    ),
    (
        "change_history",
        &[
            "id",
            "tenant_id",
            "entity_kind",
            "entity_id",
            "actor",
            "api",
            "diff",
            "version_before",
            "version_after",
            "created_at",
        ],
    ),
    (
        "console_sessions",
        &[
            "id",
            "tenant_id",
            "agent_id",
            "token_hash",
            "csrf_token",
            "created_at",
            "last_seen_at",
        ],
    ),
    // The running counts (`sql::counts`): written by triggers, read by the
    // statement builder of `sql::query`; no query names them through Diesel.
    ("customer_counts", &["id", "tenant_id", "n"]),
    (
        "conversation_counts",
        &[
            "id",
            "tenant_id",
            "status",
            "assignee_key",
            "department_key",
            "n",
        ],
    ),
    // The directory's stamps (`crate::directory`): written by triggers on
    // `agents` and `departments`, read by a chat page's statement.
    ("directory_stamps", &["tenant_id", "stamp"]),
];

diesel::table! {
    /// SQLite only (see [`SQLITE_ONLY_TABLES`]): a stamp per tenant that
    /// triggers count up on every change of its custom attribute
    /// definitions, which validates a node's cached definitions
    /// (`crate::attributes`).
    attribute_stamps (tenant_id) {
        tenant_id -> BigInt,
        stamp -> BigInt,
    }
}

/// Tables only SQLite has, with their columns: what PostgreSQL does with
/// an index over the documents, SQLite does with a table kept in step by
/// triggers (`conversation_info_values`: the custom info values, for
/// their equality; no query names it through Diesel; the custom attribute
/// values' table is on both backends), and what
/// PostgreSQL's nodes learn by `NOTIFY`, SQLite's processes read from a
/// trigger-kept stamp (`attribute_stamps`).
#[cfg(test)]
pub(crate) const SQLITE_ONLY_TABLES: &[(&str, &[&str])] = &[
    (
        "conversation_info_values",
        &["tenant_id", "conversation_id", "key", "value"],
    ),
    ("attribute_stamps", &["tenant_id", "stamp"]),
];
