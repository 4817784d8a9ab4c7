//! HelpCrunch's wire shapes: camelCase, dates as UNIX-timestamp strings,
//! `customData` as `[{property, value}]` in requests and an object in
//! responses, `tags` as `[{name, color}]`.

use std::collections::BTreeMap;

use serde::{Deserialize, Deserializer, Serialize};
use serde_json::Value;
use switchboard_domain::{Patch, Timestamp};
use utoipa::ToSchema;

/// A UNIX timestamp as HelpCrunch sends it: a string of seconds (`"1570000000"`)
/// or a number.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct UnixTime(pub Timestamp);

impl<'de> Deserialize<'de> for UnixTime {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        #[derive(Deserialize)]
        #[serde(untagged)]
        enum Raw {
            Int(i64),
            Text(String),
        }
        let err =
            || serde::de::Error::custom("must be a UNIX timestamp (seconds), e.g. \"1570000000\"");
        match Raw::deserialize(d).map_err(|_| err())? {
            Raw::Int(s) if (0..=switchboard_domain::MAX_MILLIS / 1000).contains(&s) => {
                Ok(Self(Timestamp::from_unix_seconds(s)))
            }
            Raw::Int(_) => Err(err()),
            Raw::Text(s) => Timestamp::parse_unix(&s).map(Self).map_err(|_| err()),
        }
    }
}

/// Renders a timestamp as HelpCrunch does: whole seconds, as a string.
#[must_use]
pub fn unix_string(t: Timestamp) -> String {
    t.as_unix_seconds().to_string()
}

/// A timestamp in an answer, written as [`unix_string`] renders it (a
/// string of whole seconds) straight into the answer, without building the
/// string first.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct UnixSeconds(pub Timestamp);

impl Serialize for UnixSeconds {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(itoa::Buffer::new().format(self.0.as_unix_seconds()))
    }
}

/// A tag in a request: the color is optional (the account's color for the
/// tag, or `#c377e0` for a new one).
#[derive(Debug, Clone, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct TagInput {
    /// Tag name (not blank).
    #[schema(max_length = 100, pattern = r"\S")]
    pub name: String,
    /// Any CSS color.
    #[serde(default)]
    #[schema(schema_with = crate::schema_rules::css_color)]
    pub color: Option<String>,
}

/// One `customData` entry in a request.
#[derive(Debug, Clone, PartialEq, Deserialize, Serialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CustomDataInput {
    /// The custom attribute's property name.
    pub property: String,
    /// Its value (`null` removes it on PATCH).
    #[schema(value_type = Object)]
    pub value: Value,
}

/// `customData` in a request: the documented array form
/// (`[{"property": "plan", "value": "pro"}]`) or the object form a GET
/// answers with (`{"plan": "pro"}`), so that a GET body can be sent back.
#[derive(Debug, Clone, PartialEq)]
pub struct CustomDataField(pub Vec<CustomDataInput>);

impl<'de> Deserialize<'de> for CustomDataField {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct Either;

        impl<'de> serde::de::Visitor<'de> for Either {
            type Value = CustomDataField;

            fn expecting(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.write_str("an array of {\"property\", \"value\"} or an object of values")
            }

            fn visit_seq<A: serde::de::SeqAccess<'de>>(
                self,
                mut seq: A,
            ) -> Result<Self::Value, A::Error> {
                let mut items = Vec::new();
                while let Some(Object(item)) = seq.next_element::<Object<CustomDataInput>>()? {
                    items.push(item);
                }
                Ok(CustomDataField(items))
            }

            fn visit_map<A: serde::de::MapAccess<'de>>(
                self,
                mut map: A,
            ) -> Result<Self::Value, A::Error> {
                let mut items = Vec::new();
                while let Some((property, value)) = map.next_entry::<String, Value>()? {
                    items.push(CustomDataInput { property, value });
                }
                Ok(CustomDataField(items))
            }
        }

        d.deserialize_any(Either)
    }
}

/// The schema of `customData` in a request (either form).
#[derive(Debug, Serialize, ToSchema)]
#[serde(untagged)]
pub enum CustomDataSchema {
    /// `[{"property": "plan", "value": "pro"}]`.
    List(Vec<CustomDataInput>),
    /// `{"plan": "pro"}` (as a GET answers).
    #[schema(value_type = Object)]
    Map(BTreeMap<String, Value>),
}

/// A request member that must be a JSON object: `T` read from an object
/// only. serde's derive also reads a struct from an array of its members
/// in order (`[null, "UA", "Kyiv"]`), which the vendor does not document
/// and the request schema does not allow.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Object<T>(pub T);

impl<'de, T: Deserialize<'de>> Deserialize<'de> for Object<T> {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct Only<T>(std::marker::PhantomData<T>);
        impl<'de, T: Deserialize<'de>> serde::de::Visitor<'de> for Only<T> {
            type Value = T;
            fn expecting(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.write_str("an object")
            }
            fn visit_map<A: serde::de::MapAccess<'de>>(self, map: A) -> Result<T, A::Error> {
                T::deserialize(serde::de::value::MapAccessDeserializer::new(map))
            }
        }
        d.deserialize_map(Only(std::marker::PhantomData)).map(Self)
    }
}

/// A list whose items must each be a JSON object ([`Object`]).
pub(crate) fn objects<'de, D: Deserializer<'de>, T: Deserialize<'de>>(
    d: D,
) -> Result<Vec<T>, D::Error> {
    Vec::<Object<T>>::deserialize(d).map(|items| items.into_iter().map(|Object(t)| t).collect())
}

/// [`objects`] as a request member: absent, `null` or the list.
fn patch_of_objects<'de, D: Deserializer<'de>, T: Deserialize<'de>>(
    d: D,
) -> Result<Patch<Vec<T>>, D::Error> {
    Patch::<Vec<Object<T>>>::deserialize(d)
        .map(|p| p.map(|items| items.into_iter().map(|Object(t)| t).collect()))
}

/// `location` in a request (all members optional).
#[derive(Debug, Clone, Default, PartialEq, Deserialize, ToSchema)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct LocationInput {
    /// Region code.
    #[serde(default)]
    #[schema(max_length = 255)]
    pub region_code: Option<String>,
    /// Country code.
    #[serde(default)]
    #[schema(max_length = 255)]
    pub country_code: Option<String>,
    /// City.
    #[serde(default)]
    #[schema(max_length = 255)]
    pub city: Option<String>,
}

/// `device` in a request (all members optional).
#[derive(Debug, Clone, Default, PartialEq, Deserialize, ToSchema)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct DeviceInput {
    /// The device's id as a GET shows it (the customer's id); read-only,
    /// ignored.
    #[serde(default)]
    #[schema(value_type = Option<i64>)]
    pub id: Option<Value>,
    /// IP address (the vendor's name).
    #[serde(default)]
    #[schema(max_length = 255)]
    pub ip: Option<String>,
    /// IP address (Switchboard's older name; `ip` wins when both are sent).
    #[serde(default)]
    #[schema(max_length = 255)]
    pub ip_address: Option<String>,
    /// IANA time zone.
    #[serde(default)]
    #[schema(max_length = 255)]
    pub timezone: Option<String>,
    /// `desktop`, `mobile`, …
    #[serde(default)]
    #[schema(max_length = 255)]
    pub platform: Option<String>,
    /// User agent.
    #[serde(default)]
    #[schema(max_length = 1000)]
    pub user_agent: Option<String>,
    /// Operating system.
    #[serde(default)]
    #[schema(max_length = 255)]
    pub os: Option<String>,
    /// Browser.
    #[serde(default)]
    #[schema(max_length = 255)]
    pub browser: Option<String>,
}

/// The body of `POST`, `PUT` and `PATCH /v1/customers…`. Absent members are
/// kept by PATCH and cleared by PUT; `null` clears.
#[derive(Debug, Clone, Default, Deserialize, ToSchema)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct CustomerInput {
    /// The integrator's own id, unique per account.
    #[serde(default)]
    #[schema(value_type = Option<String>, max_length = 255, pattern = r"\S")]
    pub user_id: Patch<String>,
    /// Full name.
    #[serde(default)]
    #[schema(value_type = Option<String>, max_length = 255)]
    pub name: Patch<String>,
    /// Email.
    #[serde(default)]
    #[schema(value_type = Option<String>, format = Email, max_length = 254)]
    pub email: Patch<String>,
    /// Phone.
    #[serde(default)]
    #[schema(value_type = Option<String>, max_length = 255)]
    pub phone: Patch<String>,
    /// Company.
    #[serde(default)]
    #[schema(value_type = Option<String>, max_length = 255)]
    pub company: Patch<String>,
    /// First visit, UNIX seconds.
    #[serde(default)]
    #[schema(schema_with = crate::schema_rules::unix_seconds)]
    pub first_seen: Patch<UnixTime>,
    /// Last visit, UNIX seconds.
    #[serde(default)]
    #[schema(schema_with = crate::schema_rules::unix_seconds)]
    pub last_seen: Patch<UnixTime>,
    /// Opted out of emails.
    #[serde(default)]
    #[schema(value_type = Option<bool>)]
    pub unsubscribed: Patch<bool>,
    /// Blocked from chatting.
    #[serde(default)]
    #[schema(value_type = Option<bool>)]
    pub blocked: Patch<bool>,
    /// Acquisition source.
    #[serde(default)]
    #[schema(value_type = Option<String>, max_length = 255)]
    pub source: Patch<String>,
    /// Referring URL.
    #[serde(default)]
    #[schema(value_type = Option<String>, max_length = 2048, pattern = "^[hH][tT][tT][pP][sS]?://[A-Za-z0-9](?:[A-Za-z0-9-]*[A-Za-z0-9])?(?:\\.[A-Za-z0-9](?:[A-Za-z0-9-]*[A-Za-z0-9])?)*(?:/[!-~]*)?$")]
    pub referer: Patch<String>,
    /// Last page URL.
    #[serde(default)]
    #[schema(value_type = Option<String>, max_length = 2048, pattern = "^[hH][tT][tT][pP][sS]?://[A-Za-z0-9](?:[A-Za-z0-9-]*[A-Za-z0-9])?(?:\\.[A-Za-z0-9](?:[A-Za-z0-9-]*[A-Za-z0-9])?)*(?:/[!-~]*)?$")]
    pub last_page: Patch<String>,
    /// ISO 639-1 language code.
    #[serde(default)]
    #[schema(schema_with = crate::schema_rules::locale)]
    pub locale: Patch<String>,
    /// Agent notes.
    #[serde(default)]
    #[schema(value_type = Option<String>, max_length = 10000)]
    pub notes: Patch<String>,
    /// The whole tag list (unknown tags are created).
    #[serde(default, deserialize_with = "patch_of_objects")]
    #[schema(value_type = Option<Vec<TagInput>>, max_items = 100)]
    pub tags: Patch<Vec<TagInput>>,
    /// Custom attribute values, as an array of `{property, value}` or an
    /// object; each property must be defined for the account.
    #[serde(default)]
    #[schema(value_type = Option<CustomDataSchema>)]
    pub custom_data: Patch<CustomDataField>,
    /// Id of the integration that created the customer.
    #[serde(default)]
    #[schema(value_type = Option<String>, max_length = 255)]
    pub integration_id: Patch<String>,
    /// Where the customer was last seen.
    #[serde(default)]
    #[schema(value_type = Option<LocationInput>)]
    pub location: Patch<Object<LocationInput>>,
    /// The device the customer was last seen on.
    #[serde(default)]
    #[schema(value_type = Option<DeviceInput>)]
    pub device: Patch<Object<DeviceInput>>,
    /// `location.city`, as the older API took it at the top level: the
    /// same rule as `location.city`; sent with `location`, this one wins.
    #[serde(default)]
    #[schema(value_type = Option<String>, max_length = 255)]
    pub city: Patch<String>,
    /// `location.regionCode`, as the older API took it at the top level: the
    /// same rule as `location.regionCode`; sent with `location`, this one wins.
    #[serde(default)]
    #[schema(value_type = Option<String>, max_length = 255)]
    pub region_code: Patch<String>,
    /// `location.countryCode`, as the older API took it at the top level: the
    /// same rule as `location.countryCode`; sent with `location`, this one wins.
    #[serde(default)]
    #[schema(value_type = Option<String>, max_length = 255)]
    pub country_code: Patch<String>,
    /// Read-only: accepted when it is the customer's id, refused otherwise.
    #[serde(default)]
    #[schema(value_type = Option<i64>, read_only)]
    pub id: Patch<Value>,
    /// Read-only: accepted when it equals the stored value, refused otherwise.
    #[serde(default)]
    #[schema(value_type = Option<String>, read_only)]
    pub created_at: Patch<UnixTime>,
    /// Read-only and changed by every write: accepted and ignored.
    #[serde(default)]
    #[schema(value_type = Option<String>, read_only)]
    pub updated_at: Patch<Value>,
    /// Read-only: accepted when it equals the stored value, refused otherwise.
    #[serde(default)]
    #[schema(value_type = Option<String>, read_only)]
    pub created_from: Patch<String>,
}

/// One item of `PUT /v1/customers/batch`: `customer` (the id) plus any
/// [`CustomerInput`] fields, merged.
#[derive(Debug, Clone, ToSchema)]
pub struct BatchItem {
    /// The customer's id.
    pub customer: i64,
    /// The fields to merge.
    #[schema(inline)]
    pub fields: CustomerInput,
}

/// The body of `PUT|DELETE /v1/customers/{id}/tags`.
#[derive(Debug, Clone, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct TagsInput {
    /// Tags to add (with optional color) or remove (by name).
    #[serde(deserialize_with = "objects")]
    pub tags: Vec<TagInput>,
}

/// A tag in a response.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct TagOutput {
    /// Tag name.
    pub name: String,
    /// CSS color.
    pub color: String,
}

/// A customer's location.
#[derive(Debug, Clone, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct LocationOutput {
    /// Region code.
    pub region_code: Option<String>,
    /// Country code.
    pub country_code: Option<String>,
    /// City.
    pub city: Option<String>,
}

/// A customer's device.
#[derive(Debug, Clone, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct DeviceOutput {
    /// The device's id: the customer's id (one device is kept per customer).
    pub id: i64,
    /// IP address.
    pub ip: Option<String>,
    /// IANA time zone.
    pub timezone: Option<String>,
    /// User agent.
    pub user_agent: Option<String>,
    /// Platform.
    pub platform: Option<String>,
    /// Operating system.
    pub os: Option<String>,
    /// Browser.
    pub browser: Option<String>,
    /// IP address (same as `ip`; Switchboard's older name).
    pub ip_address: Option<String>,
}

/// HelpCrunch's customer object.
#[derive(Debug, Clone, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct CustomerOutput {
    /// Id.
    pub id: i64,
    /// The integrator's own id.
    pub user_id: Option<String>,
    /// Name.
    pub name: Option<String>,
    /// Email.
    pub email: Option<String>,
    /// Phone.
    pub phone: Option<String>,
    /// Company.
    pub company: Option<String>,
    /// First visit (UNIX seconds string).
    pub first_seen: Option<String>,
    /// Last visit (UNIX seconds string).
    pub last_seen: Option<String>,
    /// Opted out of emails.
    pub unsubscribed: bool,
    /// Blocked.
    pub blocked: bool,
    /// Source.
    pub source: Option<String>,
    /// Referer.
    pub referer: Option<String>,
    /// Last page.
    pub last_page: Option<String>,
    /// Locale.
    pub locale: Option<String>,
    /// Notes.
    pub notes: Option<String>,
    /// Tags.
    pub tags: Vec<TagOutput>,
    /// Custom data, as an object.
    #[schema(value_type = Object)]
    pub custom_data: BTreeMap<String, Value>,
    /// Location.
    pub location: Option<LocationOutput>,
    /// Device.
    pub device: Option<DeviceOutput>,
    /// How it was created.
    pub created_from: Option<String>,
    /// Integration id.
    pub integration_id: Option<String>,
    /// Created (UNIX seconds string).
    pub created_at: String,
    /// Updated (UNIX seconds string).
    pub updated_at: String,
}

/// The body of `POST /v1/chats`.
#[derive(Debug, Clone, Deserialize, ToSchema)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct ChatCreateInput {
    /// The customer the chat is with.
    pub customer: i64,
    /// Initial status (default `new`).
    #[serde(default)]
    pub status: Option<String>,
    /// Assigned agent id.
    #[serde(default)]
    pub assignee: Option<i64>,
    /// Department id.
    #[serde(default)]
    pub department: Option<i64>,
    /// First message text.
    #[serde(default)]
    pub message: Option<String>,
}

/// The body of `PUT /v1/chats/status`.
#[derive(Debug, Clone, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ChatStatusInput {
    /// Chat id.
    pub id: i64,
    /// `new`, `opened` (`open`), `pending`, `on hold` (`on-hold`), `no communication`, `closed`.
    pub status: String,
}

/// The body of `PUT /v1/chats/assignee`.
#[derive(Debug, Clone, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ChatAssigneeInput {
    /// Chat id.
    pub id: i64,
    /// Agent id, or `null` to unassign.
    pub assignee: Option<i64>,
}

/// The body of `PUT /v1/chats/department`.
#[derive(Debug, Clone, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ChatDepartmentInput {
    /// Chat id.
    pub id: i64,
    /// Department id, or `null` to clear.
    pub department: Option<i64>,
}

/// An agent as embedded in a chat.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct AgentOutput<'a> {
    /// Id.
    pub id: i64,
    /// Name.
    pub name: &'a str,
    /// Email.
    pub email: &'a str,
    /// Role.
    pub role: &'a str,
}

/// A department as embedded in a chat.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct DepartmentOutput<'a> {
    /// Id.
    pub id: i64,
    /// Name.
    pub name: &'a str,
}

/// HelpCrunch's chat object, plus `customInfo` (Switchboard's extension).
// It borrows what it shows from the conversation and its links, so a page
// of chats is written out without copying them (a doc comment here would
// be the schema's description).
#[derive(Debug, Clone, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct ChatOutput<'a> {
    /// Id (the same id every family uses).
    pub id: i64,
    /// Who closed the chat: `customer` or `agent` (`null` while open).
    pub closed_by: Option<&'static str>,
    /// Time of the customer's latest message.
    #[schema(value_type = Option<String>)]
    pub last_customer_message_at: Option<UnixSeconds>,
    /// Status.
    pub status: &'static str,
    /// When closed.
    #[schema(value_type = Option<String>)]
    pub closed_at: Option<UnixSeconds>,
    /// How the customer rated the chat: `great`, `average` or `poor`.
    pub rating: Option<&'static str>,
    /// Created.
    #[schema(value_type = String)]
    pub created_at: UnixSeconds,
    /// Time of the latest message.
    #[schema(value_type = Option<String>)]
    pub last_message_at: Option<UnixSeconds>,
    /// Channel it was created with.
    pub created_with: Option<&'a str>,
    /// Snoozed until.
    #[schema(value_type = Option<String>)]
    pub snoozed_until: Option<UnixSeconds>,
    /// Text of the latest message.
    pub last_message_text: Option<&'a str>,
    /// Id of the latest message: messages are not stored one by one, so
    /// `null`.
    pub last_message_id: Option<i64>,
    /// The application (widget) the chat came through: none is recorded,
    /// so `null`.
    pub application_id: Option<i64>,
    /// The agent who last wrote.
    pub last_communicated_agent_id: Option<i64>,
    /// Participating agents.
    pub agents: Vec<AgentOutput<'a>>,
    /// Who the chat is with: the visitor's own details, the linked
    /// customer's where the visitor gave none; `null` when nothing is known
    /// about them.
    pub customer: Option<ChatCustomerOutput<'a>>,
    /// The assignee.
    pub assignee: Option<AgentOutput<'a>>,
    /// The department.
    pub department: Option<DepartmentOutput<'a>>,
    /// Custom info (Zoho's `customer_info`), as an object.
    #[schema(value_type = Object)]
    pub custom_info: &'a BTreeMap<String, Value>,
}

/// The `customer` of a chat: the person the chat is with, in HelpCrunch's
/// shape (`id`, `name`, `email`, `userId`) with `phone` and `company`.
#[derive(Debug, Clone, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
#[schema(as = HelpCrunchChatCustomer)]
pub struct ChatCustomerOutput<'a> {
    /// The linked customer's id; `null` when the chat is with a visitor
    /// not linked to a customer.
    pub id: Option<i64>,
    /// Name: the visitor's, else the linked customer's.
    pub name: Option<&'a str>,
    /// Email: the visitor's, else the linked customer's.
    pub email: Option<&'a str>,
    /// The linked customer's `userId`.
    pub user_id: Option<&'a str>,
    /// Phone: the visitor's, else the linked customer's.
    pub phone: Option<&'a str>,
    /// Company: the visitor's, else the linked customer's.
    pub company: Option<&'a str>,
}

/// One result of a batch update.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct BatchResult {
    /// The customer's id.
    pub customer: i64,
    /// The customer after the update.
    pub data: CustomerOutput,
}

/// A page of `GET /v1/customers` or `POST /v1/customers/search`.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct CustomerList {
    /// The customers of the page.
    pub data: Vec<CustomerOutput>,
    /// How many customers match in all.
    pub total: u64,
}

/// The `meta` of a page of chats.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct ListMeta {
    /// How many chats match in all.
    pub total: u64,
}

/// A page of `GET /v1/chats` or `POST /v1/chats/search`.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct ChatList<'a> {
    /// The chats of the page.
    pub data: Vec<ChatOutput<'a>>,
    /// The total.
    pub meta: ListMeta,
}
