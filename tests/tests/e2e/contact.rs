//! Who a chat is with, across dialects: the visitor's own details set
//! through one dialect show in every other, and a linked customer's
//! details fill what the visitor left out (the rule is the domain's
//! `Conversation::contact`: the visitor's own first, then the linked
//! customer's). SuperOffice has a member for each, so it shows the
//! visitor's in `Customer*` and the customer's in `Person`. Both backends,
//! with wire snapshots of each dialect's view of one such chat.

use reqwest::Method;
use serde_json::{Value, json};
use switchboard_e2e::{FetchJson, TestApp, for_each_backend};

use crate::e2e::common::{update_email, zoho};
use crate::e2e::snapshots::snap_each;

/// Every dialect's view of chat `id` (whose chatbot `sessionid` is
/// `session`): HelpCrunch's chat, SalesIQ's conversation, SuperOffice's
/// ChatSession and the chatbot's chat log.
struct Views {
    helpcrunch: Value,
    zoho: Value,
    superoffice: Value,
    chatbot: Value,
}

async fn views(app: &TestApp, id: i64, session: &str) -> Views {
    let helpcrunch = app
        .get(&format!("/v1/chats/{id}"))
        .fetch_expecting(200)
        .await;
    let zoho = zoho(app, Method::GET, &format!("/conversations/{id}"))
        .fetch_expecting(200)
        .await;
    let superoffice = app
        .get(&format!("/api/v1/ChatSession/{id}"))
        .fetch_expecting(200)
        .await;
    let chatbot = app
        .get(&format!("/chatbot/v1/chatlog/{session}"))
        .fetch_expecting(200)
        .await;
    Views {
        helpcrunch,
        zoho: zoho["data"].clone(),
        superoffice,
        chatbot,
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn details_set_through_the_chatbot_show_in_every_dialect() {
    for_each_backend(|app| async move {
        let created = app
            .post("/chatbot/v1/chatlog")
            .json(&json!({"sessionid": "bot-1", "name": "Ada", "country": "GB"}))
            .fetch_expecting(201)
            .await;
        let id = created["id"].as_i64().unwrap();
        update_email(&app, "bot-1", "ada@example.com").await;

        let v = views(&app, id, "bot-1").await;
        assert_eq!(
            v.helpcrunch["customer"],
            json!({"id": null, "name": "Ada", "email": "ada@example.com", "userId": null,
                   "phone": null, "company": null}),
            "a HelpCrunch chat shows the visitor, not linked to a customer"
        );
        assert_eq!(v.zoho["visitor"]["name"], "Ada");
        assert_eq!(v.zoho["visitor"]["email"], "ada@example.com");
        assert_eq!(v.zoho["visitor"]["country_code"], "gb");
        assert_eq!(v.zoho["visitor"]["type"], "lead");
        assert_eq!(v.superoffice["CustomerName"], "Ada");
        assert_eq!(v.superoffice["CustomerEmail"], "ada@example.com");
        assert_eq!(v.superoffice["Person"], Value::Null);
        assert_eq!(v.chatbot["name"], "Ada");
        assert_eq!(v.chatbot["email"], "ada@example.com");
        assert_eq!(v.chatbot["country"], "GB");
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn details_set_through_superoffice_show_in_every_dialect() {
    for_each_backend(|app| async move {
        let created = app
            .post("/api/v1/ChatSession")
            .json(&json!({"CustomerName": "Grace", "FirstMessage": "Hi"}))
            .fetch_expecting(201)
            .await;
        let id = created["ChatSessionId"].as_i64().unwrap();
        let session = created["SessionKey"].as_str().unwrap().to_owned();
        app.patch(&format!("/api/v1/ChatSession/{id}"))
            .header("Content-Type", "application/json-patch+json")
            .body(
                json!([
                    {"op": "replace", "path": "/CustomerEmail", "value": "grace@example.com"},
                    {"op": "replace", "path": "/CustomerPhone", "value": "+47 555"},
                    {"op": "replace", "path": "/CustomerCompanyName", "value": "Navy"},
                ])
                .to_string(),
            )
            .fetch_expecting(200)
            .await;

        let v = views(&app, id, &session).await;
        assert_eq!(
            v.helpcrunch["customer"],
            json!({"id": null, "name": "Grace", "email": "grace@example.com", "userId": null,
                   "phone": "+47 555", "company": "Navy"})
        );
        assert_eq!(v.zoho["visitor"]["name"], "Grace");
        assert_eq!(v.zoho["visitor"]["email"], "grace@example.com");
        assert_eq!(v.zoho["visitor"]["phone"], "+47 555");
        assert_eq!(v.chatbot["name"], "Grace");
        assert_eq!(v.chatbot["email"], "grace@example.com");
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_linked_customer_fills_what_the_visitor_left_out() {
    for_each_backend(|app| async move {
        let customer = app
            .post("/v1/customers")
            .json(
                &json!({"name": "Linus", "email": "linus@example.com", "phone": "+1 555",
                          "company": "Kernel", "userId": "u-7"}),
            )
            .fetch_expecting(201)
            .await;
        let customer_id = customer["id"].as_i64().unwrap();
        // A chatbot chat where the visitor gave only a name, then linked to
        // the customer by a SuperOffice agent (`Person`).
        let created = app
            .post("/chatbot/v1/chatlog")
            .json(&json!({"sessionid": "bot-linked", "name": "Lin"}))
            .fetch_expecting(201)
            .await;
        let id = created["id"].as_i64().unwrap();
        app.patch(&format!("/api/v1/ChatSession/{id}"))
            .header("Content-Type", "application/merge-patch+json")
            .body(json!({"Person": {"PersonId": customer_id}}).to_string())
            .fetch_expecting(200)
            .await;

        // The visitor's name; the customer's email, phone and company.
        let v = views(&app, id, "bot-linked").await;
        assert_eq!(
            v.helpcrunch["customer"],
            json!({"id": customer_id, "name": "Lin", "email": "linus@example.com",
                   "userId": "u-7", "phone": "+1 555", "company": "Kernel"})
        );
        assert_eq!(v.zoho["visitor"]["name"], "Lin");
        assert_eq!(v.zoho["visitor"]["email"], "linus@example.com");
        assert_eq!(v.zoho["visitor"]["phone"], "+1 555");
        assert_eq!(v.zoho["visitor"]["type"], "contact");
        assert_eq!(v.zoho["visitor"]["id"], customer_id.to_string());
        assert_eq!(v.chatbot["name"], "Lin");
        assert_eq!(v.chatbot["email"], "linus@example.com");
        // SuperOffice has a member for each: the visitor's own in
        // `Customer*`, the customer's in `Person`.
        assert_eq!(v.superoffice["CustomerName"], "Lin");
        assert_eq!(v.superoffice["CustomerEmail"], Value::Null);
        assert_eq!(v.superoffice["Person"]["FullName"], "Linus");
        assert_eq!(v.superoffice["Person"]["Email"], "linus@example.com");

        // A later change of the customer shows where the visitor gave nothing.
        app.patch(&format!("/v1/customers/{customer_id}"))
            .json(&json!({"name": "Linus T.", "email": "lt@example.com"}))
            .fetch_expecting(200)
            .await;
        let v = views(&app, id, "bot-linked").await;
        assert_eq!(v.helpcrunch["customer"]["name"], "Lin");
        assert_eq!(v.helpcrunch["customer"]["email"], "lt@example.com");
        assert_eq!(v.zoho["visitor"]["email"], "lt@example.com");
        assert_eq!(v.chatbot["email"], "lt@example.com");
        assert_eq!(v.superoffice["Person"]["FullName"], "Linus T.");

        // The visitor gives another address in the chat: it wins there;
        // the customer's record keeps its own.
        update_email(&app, "bot-linked", "linus@home.example").await;
        let v = views(&app, id, "bot-linked").await;
        assert_eq!(
            v.helpcrunch["customer"],
            json!({"id": customer_id, "name": "Lin", "email": "linus@home.example",
                   "userId": "u-7", "phone": "+1 555", "company": "Kernel"})
        );
        assert_eq!(v.zoho["visitor"]["email"], "linus@home.example");
        assert_eq!(v.chatbot["email"], "linus@home.example");
        assert_eq!(v.superoffice["CustomerEmail"], "linus@home.example");
        assert_eq!(v.superoffice["Person"]["Email"], "lt@example.com");
        let (_, record) = app
            .get(&format!("/v1/customers/{customer_id}"))
            .fetch()
            .await;
        assert_eq!(record["email"], "lt@example.com");

        // Every dialect's view of this chat, on the wire.
        snap_each(vec![
            (
                "contact_helpcrunch_chat",
                app.get(&format!("/v1/chats/{id}")),
            ),
            (
                "contact_zoho_conversation",
                zoho(&app, Method::GET, &format!("/conversations/{id}")),
            ),
            (
                "contact_superoffice_chatsession",
                app.get(&format!("/api/v1/ChatSession/{id}")),
            ),
            (
                "contact_chatbot_chatlog",
                app.get("/chatbot/v1/chatlog/bot-linked"),
            ),
        ])
        .await;
    })
    .await;
}

/// A chat started for a customer through HelpCrunch takes the customer's
/// details as the chat's own when it starts (`Conversation::for_customer`),
/// so `chats.customer.email` finds it; every dialect shows them.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_chat_started_for_a_customer_shows_their_details_everywhere() {
    for_each_backend(|app| async move {
        let customer = app
            .post("/v1/customers")
            .json(&json!({"name": "Ada", "email": "ada@example.com", "userId": "u-1"}))
            .fetch_expecting(201)
            .await;
        let customer_id = customer["id"].as_i64().unwrap();
        let chat = app
            .post("/v1/chats")
            .json(&json!({"customer": customer_id, "message": "Hello"}))
            .fetch_expecting(201)
            .await;
        assert_eq!(
            chat["customer"],
            json!({"id": customer_id, "name": "Ada", "email": "ada@example.com",
                   "userId": "u-1", "phone": null, "company": null})
        );
        let id = chat["id"].as_i64().unwrap();
        let (_, so) = app.get(&format!("/api/v1/ChatSession/{id}")).fetch().await;
        assert_eq!(so["CustomerEmail"], "ada@example.com");
        let session = so["SessionKey"].as_str().unwrap().to_owned();
        let v = views(&app, id, &session).await;
        assert_eq!(v.zoho["visitor"]["email"], "ada@example.com");
        assert_eq!(v.chatbot["email"], "ada@example.com");
        let found = app
            .post("/v1/chats/search")
            .json(
                &json!({"filter": [{"field": "chats.customer.email", "operator": "=",
                                      "value": "ada@example.com"}]}),
            )
            .fetch_expecting(200)
            .await;
        assert_eq!(found["data"][0]["id"], id);
    })
    .await;
}

/// The ids of a list, in ascending order (HelpCrunch's are numbers,
/// SalesIQ's strings).
fn ids(list: &Value) -> Vec<i64> {
    let mut ids: Vec<i64> = list
        .as_array()
        .unwrap()
        .iter()
        .map(|c| {
            c["id"]
                .as_i64()
                .unwrap_or_else(|| c["id"].as_str().unwrap().parse().unwrap())
        })
        .collect();
    ids.sort_unstable();
    ids
}

/// A customer and a chatbot chat linked to them by a SuperOffice agent,
/// where the visitor gave nothing: `(customer id, chat id)`.
async fn linked_chat(app: &TestApp, session: &str, customer: Value) -> (i64, i64) {
    let (status, customer) = app.post("/v1/customers").json(&customer).fetch().await;
    assert_eq!(status, 201, "{customer}");
    let customer_id = customer["id"].as_i64().unwrap();
    let (status, created) = app
        .post("/chatbot/v1/chatlog")
        .json(&json!({"sessionid": session}))
        .fetch()
        .await;
    assert_eq!(status, 201, "{created}");
    let id = created["id"].as_i64().unwrap();
    let (status, body) = app
        .patch(&format!("/api/v1/ChatSession/{id}"))
        .header("Content-Type", "application/merge-patch+json")
        .body(json!({"Person": {"PersonId": customer_id}}).to_string())
        .fetch()
        .await;
    assert_eq!(status, 200, "{body}");
    (customer_id, id)
}

/// `email_updated` names who the chat is with by the same rule as every
/// dialect's view of it: the visitor gave no name or country, so the
/// linked customer's are delivered (Zapier's performList lists the real
/// payloads), for a new email and for the same email sent again.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn email_updated_names_the_linked_customer_where_the_visitor_gave_nothing() {
    for_each_backend(|app| async move {
        let (_, id) = linked_chat(
            &app,
            "bot-mail",
            json!({"name": "Linus", "email": "linus@example.com", "countryCode": "FI"}),
        )
        .await;
        let v = views(&app, id, "bot-mail").await;
        assert_eq!(v.chatbot["name"], "Linus");
        assert_eq!(v.chatbot["country"], "FI");

        for _ in 0..2 {
            update_email(&app, "bot-mail", "linus@home.example").await;
        }
        let (status, list) = app.get("/zapier/v1/samples/email_updated").fetch().await;
        assert_eq!(status, 200, "{list}");
        let items = list.as_array().unwrap();
        assert_eq!(items.len(), 2, "{list}");
        for item in items {
            assert_eq!(item["user_session_id"], "bot-mail", "{item}");
            assert_eq!(item["receiver_email"], "linus@home.example", "{item}");
            assert_eq!(item["name"], "Linus", "{item}");
            assert_eq!(item["country"], "FI", "{item}");
        }
    })
    .await;
}

/// HelpCrunch's `chats.customer.email` and SalesIQ's `email` mean the
/// chat's customer's email: a chat matches by the visitor's own email or
/// by its linked customer's, within the tenant only.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn email_filters_match_the_visitor_or_the_linked_customer() {
    for_each_backend(|app| async move {
        let (_, linked) =
            linked_chat(&app, "bot-find", json!({"name": "Linus", "email": "Linus@Example.com"})).await;
        // The visitor's own email, no customer.
        let (status, own) = app
            .post("/chatbot/v1/chatlog")
            .json(&json!({"sessionid": "bot-own"}))
            .fetch()
            .await;
        assert_eq!(status, 201, "{own}");
        let own = own["id"].as_i64().unwrap();
        update_email(&app, "bot-own", "vera@example.com").await;
        // Another tenant's chat, linked to its own customer of that email.
        let (_, key) = app.other_tenant("globex").await;
        let (status, theirs) = app
            .request_with_key(Method::POST, "/v1/customers", &key)
            .json(&json!({"email": "linus@example.com"}))
            .fetch()
            .await;
        assert_eq!(status, 201, "{theirs}");
        let (status, _) = app
            .request_with_key(Method::POST, "/v1/chats", &key)
            .json(&json!({"customer": theirs["id"], "message": "Hi"}))
            .fetch()
            .await;
        assert_eq!(status, 201);

        let helpcrunch = |op: &'static str, value: &'static str| {
            let app = &app;
            async move {
                let (status, found) = app
                    .post("/v1/chats/search")
                    .json(&json!({"filter": [{"field": "chats.customer.email", "operator": op, "value": value}]}))
                    .fetch()
                    .await;
                assert_eq!(status, 200, "{found}");
                ids(&found["data"])
            }
        };
        let salesiq = |emails: &'static str| {
            let app = &app;
            async move {
                let (status, found) = zoho(app, Method::GET, &format!("/conversations?email={emails}"))
                    .fetch()
                    .await;
                assert_eq!(status, 200, "{found}");
                ids(&found["data"])
            }
        };
        assert_eq!(helpcrunch("=", "LINUS@example.com").await, [linked], "the customer's email");
        assert_eq!(helpcrunch("=", "vera@example.com").await, [own], "the visitor's own");
        assert_eq!(helpcrunch("!=", "linus@example.com").await, [own]);
        assert_eq!(helpcrunch("~", "example.com").await, [linked, own]);
        assert_eq!(salesiq("linus@example.com").await, [linked]);
        assert_eq!(salesiq("linus@example.com,VERA@example.com").await, [linked, own]);
        assert_eq!(salesiq("nobody@example.com").await, Vec::<i64>::new());

        // The visitor's own email and the customer's both find the chat.
        update_email(&app, "bot-find", "linus@home.example").await;
        assert_eq!(salesiq("linus@home.example").await, [linked]);
        assert_eq!(salesiq("linus@example.com").await, [linked]);
        // Unlinked, the customer's email no longer finds it.
        let (status, body) = app
            .patch(&format!("/api/v1/ChatSession/{linked}"))
            .header("Content-Type", "application/merge-patch+json")
            .body(json!({"Person": null}).to_string())
            .fetch()
            .await;
        assert_eq!(status, 200, "{body}");
        assert_eq!(helpcrunch("=", "linus@example.com").await, Vec::<i64>::new());
    })
    .await;
}
