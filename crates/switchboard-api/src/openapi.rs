//! The generated OpenAPI document.

use utoipa::openapi::security::{HttpAuthScheme, HttpBuilder, SecurityScheme};
use utoipa::{Modify, OpenApi};

/// Every public route and schema.
#[derive(Debug, OpenApi)]
#[openapi(
    info(
        title = "Switchboard",
        description = "Self-hosted store of chat sessions and contacts speaking HelpCrunch, SuperOffice, Zoho SalesIQ, chatbot and Zapier dialects over one model."
    ),
    paths(
        crate::ops::healthz,
        crate::ops::readyz,
        crate::ops::metrics,
        crate::ops::openapi_json,
        crate::helpcrunch::routes::list_customers,
        crate::helpcrunch::routes::search_customers,
        crate::helpcrunch::routes::create_customer,
        crate::helpcrunch::routes::get_customer,
        crate::helpcrunch::routes::put_customer,
        crate::helpcrunch::routes::patch_customer,
        crate::helpcrunch::routes::delete_customer,
        crate::helpcrunch::routes::add_tags,
        crate::helpcrunch::routes::remove_tags,
        crate::helpcrunch::routes::batch_update,
        crate::helpcrunch::routes::list_chats,
        crate::helpcrunch::routes::search_chats,
        crate::helpcrunch::routes::create_chat,
        crate::helpcrunch::routes::get_chat,
        crate::helpcrunch::routes::chat_status,
        crate::helpcrunch::routes::chat_assignee,
        crate::helpcrunch::routes::chat_department,
        crate::zoho::routes::create_conversation,
        crate::zoho::routes::list_conversations,
        crate::zoho::routes::get_conversation,
        crate::zoho::routes::update_conversation,
        crate::zoho::routes::close_conversation,
        crate::chatbot::routes::create_chatlog,
        crate::chatbot::routes::get_chatlog,
        crate::chatbot::routes::update_email,
        crate::superoffice::routes::timezones,
        crate::superoffice::routes::list,
        crate::superoffice::routes::create,
        crate::superoffice::routes::get,
        crate::superoffice::routes::put,
        crate::superoffice::routes::patch,
        crate::superoffice::routes::delete,
        crate::zapier::routes::me,
        crate::zapier::routes::list_hooks,
        crate::zapier::routes::create_hook,
        crate::zapier::routes::delete_hook,
        crate::zapier::routes::list_deliveries,
        crate::zapier::routes::redeliver,
        crate::zapier::routes::rotate_secret,
        crate::zapier::routes::samples,
    ),
    modifiers(&Security),
    tags(
        (name = "operations", description = "Health, readiness, metrics and this document"),
        (name = "helpcrunch", description = "HelpCrunch-style customers and chats (REST API v1)"),
        (name = "zoho-salesiq", description = "Zoho SalesIQ-style conversations (REST API v2)"),
        (name = "superoffice", description = "SuperOffice-style ChatSession entities: JSON Patch, Merge Patch, $select, preconditions, XML"),
        (name = "chatbot", description = "Chatbot chat logs and the email update that fires email_updated"),
        (name = "zapier", description = "Zapier REST hooks: subscriptions, sample payloads, the delivery log and redelivery (docs/webhooks.md)"),
    )
)]
pub struct ApiDoc;

struct Security;

impl Modify for Security {
    fn modify(&self, openapi: &mut utoipa::openapi::OpenApi) {
        let components = openapi.components.get_or_insert_with(Default::default);
        components.add_security_scheme(
            "bearer",
            SecurityScheme::Http(HttpBuilder::new().scheme(HttpAuthScheme::Bearer).build()),
        );
        components.add_security_scheme(
            "zoho_oauthtoken",
            SecurityScheme::ApiKey(utoipa::openapi::security::ApiKey::Header(
                utoipa::openapi::security::ApiKeyValue::with_description(
                    "Authorization",
                    "`Zoho-oauthtoken <key>` (or `Bearer <key>`)",
                ),
            )),
        );
    }
}
