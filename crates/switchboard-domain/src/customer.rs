//! Customers (contacts) and their typed updates.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};
use serde_json::Value;

use crate::validate::{self, ValidationErrors};
use crate::{
    AttributeSet, CustomerId, DomainError, Patch, Tag, TagCatalogue, TenantId, Timestamp,
    UpdateMode,
};

/// Upper bounds on a customer's collections.
pub const MAX_TAGS: usize = 100;
/// Longest tag name, in characters (after trimming).
pub const MAX_TAG_NAME_CHARS: usize = 100;
/// At most this many `customData` properties.
pub const MAX_CUSTOM_DATA: usize = 100;
/// Length limit for short text fields (name, email, company…).
pub const MAX_SHORT_TEXT: usize = 255;
/// Length limit for notes.
pub const MAX_NOTES: usize = 10_000;

/// What a customer's rules need besides the customer: the tenant's custom
/// attribute definitions and the part of its tag catalogue the write names.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct CustomerRules {
    /// The tenant's custom attribute definitions, by name.
    pub attributes: AttributeSet,
    /// The tenant's tags, with their colors: at least those the customer
    /// names without a color ([`Tag::named`]) that the tenant already has.
    pub tags: TagCatalogue,
}

impl CustomerRules {
    /// Rules with these attribute definitions and no known tags.
    #[must_use]
    pub fn new(attributes: AttributeSet) -> Self {
        Self {
            attributes,
            tags: TagCatalogue::new(),
        }
    }
}

/// Where a customer was last seen (HelpCrunch's `location`).
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Location {
    /// Region/state code.
    pub region_code: Option<String>,
    /// ISO 3166-1 alpha-2 country code.
    pub country_code: Option<String>,
    /// City name.
    pub city: Option<String>,
}

impl Location {
    /// Checks each member sent by the one rule of a location member:
    /// text of at most 255 characters (`MAX_SHORT_TEXT`) without NUL. `at` is
    /// where the members are (`/location` in a customer; `""` for the
    /// older API's top-level `regionCode`, `countryCode` and `city`, which
    /// have the same names).
    pub fn check(&self, e: &mut ValidationErrors, at: &str) {
        let Self {
            region_code,
            country_code,
            city,
        } = self;
        for (name, value) in [
            ("regionCode", region_code),
            ("countryCode", country_code),
            ("city", city),
        ] {
            if let Some(v) = value {
                let path = format!("{at}/{name}");
                validate::max_chars(e, &path, v, MAX_SHORT_TEXT);
                if v.contains('\0') {
                    e.push(path, "nul", "must not contain the NUL character");
                }
            }
        }
    }
}

/// The device a customer was last seen on (HelpCrunch's `device`).
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Device {
    /// IANA time zone name (`Europe/Kiev`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub timezone: Option<String>,
    /// The browser's user agent string.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub user_agent: Option<String>,
    /// `desktop`, `mobile`, `tablet`…
    pub platform: Option<String>,
    /// Operating system.
    pub os: Option<String>,
    /// Browser name and version.
    pub browser: Option<String>,
    /// Last known IP address.
    pub ip_address: Option<String>,
}

impl Device {
    /// Checks each member's length (at most 255 characters, `MAX_SHORT_TEXT`,
    /// a user agent 1,000), at `at` (`/device` in a customer). A dialect
    /// that takes one member under two names checks the one that loses
    /// with it too.
    pub fn check(&self, e: &mut ValidationErrors, at: &str) {
        let Self {
            timezone,
            user_agent,
            platform,
            os,
            browser,
            ip_address,
        } = self;
        for (name, value, max) in [
            ("platform", platform, MAX_SHORT_TEXT),
            ("os", os, MAX_SHORT_TEXT),
            ("browser", browser, MAX_SHORT_TEXT),
            ("ipAddress", ip_address, MAX_SHORT_TEXT),
            ("timezone", timezone, MAX_SHORT_TEXT),
            ("userAgent", user_agent, 1000),
        ] {
            if let Some(v) = value {
                validate::max_chars(e, &format!("{at}/{name}"), v, max);
            }
        }
    }
}

/// A customer (contact). Its canonical JSON is camelCase, as serde derives it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct Customer {
    /// Storage-assigned id. Read-only.
    pub id: CustomerId,
    /// Owning tenant. Read-only.
    pub tenant_id: TenantId,
    /// The integrator's own id for this person; unique per tenant.
    pub user_id: Option<String>,
    /// Full name.
    pub name: Option<String>,
    /// Email address.
    pub email: Option<String>,
    /// Phone number (free-form).
    pub phone: Option<String>,
    /// Company name.
    pub company: Option<String>,
    /// First visit.
    pub first_seen: Option<Timestamp>,
    /// Latest visit.
    pub last_seen: Option<Timestamp>,
    /// Opted out of emails.
    pub unsubscribed: bool,
    /// Blocked from chatting.
    pub blocked: bool,
    /// Acquisition source.
    pub source: Option<String>,
    /// Referring URL.
    pub referer: Option<String>,
    /// Last page URL visited.
    pub last_page: Option<String>,
    /// ISO 639-1 language code.
    pub locale: Option<String>,
    /// Agent notes.
    pub notes: Option<String>,
    /// Tags, in the order added; names are unique.
    pub tags: Vec<Tag>,
    /// Custom attribute values, checked against the tenant's definitions.
    pub custom_data: BTreeMap<String, Value>,
    /// Where the customer was last seen.
    pub location: Option<Location>,
    /// The device the customer was last seen on.
    pub device: Option<Device>,
    /// How the customer was created (`api`, `widget`, `import`…).
    pub created_from: Option<String>,
    /// Id of the integration that created it.
    pub integration_id: Option<String>,
    /// Creation time. Read-only.
    pub created_at: Timestamp,
    /// Last write time, in milliseconds. Read-only.
    pub updated_at: Timestamp,
    /// Incremented on every write. Read-only.
    pub version: i64,
}

impl Customer {
    /// Canonical member names that clients can never change.
    pub const READ_ONLY: &'static [&'static str] =
        &["id", "tenantId", "createdAt", "updatedAt", "version"];

    /// A new, empty customer (before storage assigns the id and version).
    #[must_use]
    pub fn new(tenant_id: TenantId, now: Timestamp) -> Self {
        Self {
            id: CustomerId::new(0),
            tenant_id,
            user_id: None,
            name: None,
            email: None,
            phone: None,
            company: None,
            first_seen: None,
            last_seen: None,
            unsubscribed: false,
            blocked: false,
            source: None,
            referer: None,
            last_page: None,
            locale: None,
            notes: None,
            tags: Vec::new(),
            custom_data: BTreeMap::new(),
            location: None,
            device: None,
            created_from: None,
            integration_id: None,
            created_at: now,
            updated_at: now,
            version: 0,
        }
    }

    /// Adds tags (by name; an existing tag keeps its place and takes the
    /// new color, or keeps its own when the tag is named without one).
    pub fn add_tags(&mut self, tags: impl IntoIterator<Item = Tag>) {
        for tag in tags {
            match self.tags.iter_mut().find(|t| t.name == tag.name) {
                Some(_) if tag.needs_color() => {}
                Some(existing) => existing.color = tag.color,
                None => self.tags.push(tag),
            }
        }
    }

    /// The names of the tags named without a color that `catalogue` does
    /// not hold yet: what a write must look up in the tenant's catalogue
    /// (nothing, and so no lookup, for most writes).
    pub fn uncolored_tags<'a>(
        &'a self,
        catalogue: &'a TagCatalogue,
    ) -> impl Iterator<Item = &'a str> + 'a {
        self.tags
            .iter()
            .filter(|t| t.needs_color() && !catalogue.contains_key(&t.name))
            .map(|t| t.name.as_str())
    }

    /// Gives each tag named without a color the tenant's color for that
    /// name, or [`DEFAULT_TAG_COLOR`](crate::DEFAULT_TAG_COLOR) when the
    /// name is new to the tenant. Tags sent with a color keep it.
    pub fn color_tags(&mut self, catalogue: &TagCatalogue) {
        for tag in &mut self.tags {
            tag.color_from(catalogue);
        }
    }

    /// Removes tags by name; unknown names are ignored.
    pub fn remove_tags<'a>(&mut self, names: impl IntoIterator<Item = &'a str>) {
        let names: Vec<&str> = names.into_iter().collect();
        self.tags.retain(|t| !names.contains(&t.name.as_str()));
    }

    /// Writes every date-typed custom data value as a UNIX-seconds number,
    /// however it was sent (`"1603885746"` becomes `1603885746`), so that
    /// dates always read back as numbers. Values that are not valid dates
    /// are left for [`validate`](Self::validate) to report.
    pub fn normalize_custom_data(&mut self, attributes: &AttributeSet) {
        for (key, value) in &mut self.custom_data {
            if let (Some(def), Value::String(s)) = (attributes.get(key), &*value)
                && def.kind == crate::AttributeType::Date
                && let Ok(t) = Timestamp::parse_unix(s.trim())
            {
                *value = Value::from(t.as_unix_seconds());
            }
        }
    }

    /// Checks every rule and reports all violations at once.
    ///
    /// `attributes` are the tenant's custom attribute definitions: every
    /// `customData` property must be defined and of the right type.
    pub fn validate(&self, attributes: &AttributeSet) -> Result<(), ValidationErrors> {
        let mut e = ValidationErrors::new();
        let short = [
            ("/userId", &self.user_id),
            ("/name", &self.name),
            ("/phone", &self.phone),
            ("/company", &self.company),
            ("/source", &self.source),
            ("/createdFrom", &self.created_from),
            ("/integrationId", &self.integration_id),
        ];
        for (path, value) in short {
            if let Some(v) = value {
                validate::max_chars(&mut e, path, v, MAX_SHORT_TEXT);
            }
        }
        if let Some(user_id) = &self.user_id
            && user_id.trim().is_empty()
        {
            e.push("/userId", "required", "must not be empty");
        }
        if let Some(email) = &self.email
            && !validate::email(email)
        {
            e.push("/email", "email", "must be a valid email address");
        }
        if let Some(locale) = &self.locale
            && !validate::locale(locale)
        {
            e.push("/locale", "locale", "must be an ISO 639-1 language code");
        }
        for (path, value) in [("/referer", &self.referer), ("/lastPage", &self.last_page)] {
            if let Some(v) = value
                && !validate::url(v)
            {
                e.push(path, "url", "must be an absolute http(s) URL");
            }
        }
        if let Some(notes) = &self.notes {
            validate::max_chars(&mut e, "/notes", notes, MAX_NOTES);
        }
        if let Some(l) = &self.location {
            l.check(&mut e, "/location");
        }
        if let Some(d) = &self.device {
            d.check(&mut e, "/device");
        }
        for (field, at) in [
            ("/firstSeen", self.first_seen),
            ("/lastSeen", self.last_seen),
        ] {
            if let Some(t) = at
                && !(0..=crate::time::MAX_MILLIS).contains(&t.as_millis())
            {
                e.push(field, "timestamp", "must be a UNIX timestamp");
            }
        }
        if self.tags.len() > MAX_TAGS {
            e.push("/tags", "length", format!("at most {MAX_TAGS} tags"));
        }
        for (i, tag) in self.tags.iter().enumerate() {
            if tag.name.trim().is_empty() {
                e.push(
                    format!("/tags/{i}/name"),
                    "required",
                    "tag name must not be empty",
                );
            }
            validate::max_chars(
                &mut e,
                &format!("/tags/{i}/name"),
                &tag.name,
                MAX_TAG_NAME_CHARS,
            );
            if !validate::css_color(&tag.color) {
                e.push(format!("/tags/{i}/color"), "color", "must be a CSS color");
            }
        }
        if self.custom_data.len() > MAX_CUSTOM_DATA {
            e.push(
                "/customData",
                "length",
                format!("at most {MAX_CUSTOM_DATA} properties"),
            );
        }
        for (key, value) in &self.custom_data {
            let path = format!("/customData/{}", validate::pointer_token(key));
            match attributes.get(key) {
                None => e.push(
                    path,
                    "unknown_property",
                    format!("custom attribute {key:?} is not defined"),
                ),
                Some(def) if !def.kind.accepts(value) => {
                    e.push(path, "type", format!("must be a {}", def.kind));
                }
                Some(_) => validate::free_form_value(&mut e, &path, value),
            }
        }
        validate::no_nul_in(&mut e, self);
        e.into_result()
    }
}

/// A typed PUT or PATCH of a customer's writable fields.
///
/// Build it from a request body; fields left [`Patch::Absent`] are kept by
/// [`UpdateMode::Merge`] and cleared by [`UpdateMode::Replace`].
///
/// ```
/// use switchboard_domain::{Customer, CustomerUpdate, Patch, TenantId, Timestamp, UpdateMode};
///
/// let mut c = Customer::new(TenantId::new(1), Timestamp::from_millis(0));
/// c.name = Some("Ada".into());
/// c.phone = Some("+47 123".into());
///
/// let patch = CustomerUpdate { email: Patch::Value("ada@example.com".into()), ..Default::default() };
/// patch.clone().apply(&mut c, UpdateMode::Merge);
/// assert_eq!(c.name.as_deref(), Some("Ada")); // kept
///
/// patch.apply(&mut c, UpdateMode::Replace);
/// assert_eq!(c.name, None); // PUT: absent becomes null
/// assert_eq!(c.email.as_deref(), Some("ada@example.com"));
/// ```
#[derive(Debug, Clone, Default, PartialEq)]
pub struct CustomerUpdate {
    /// See [`Customer::user_id`].
    pub user_id: Patch<String>,
    /// See [`Customer::name`].
    pub name: Patch<String>,
    /// See [`Customer::email`].
    pub email: Patch<String>,
    /// See [`Customer::phone`].
    pub phone: Patch<String>,
    /// See [`Customer::company`].
    pub company: Patch<String>,
    /// See [`Customer::first_seen`].
    pub first_seen: Patch<Timestamp>,
    /// See [`Customer::last_seen`].
    pub last_seen: Patch<Timestamp>,
    /// See [`Customer::unsubscribed`]; `null` means `false`.
    pub unsubscribed: Patch<bool>,
    /// See [`Customer::blocked`]; `null` means `false`.
    pub blocked: Patch<bool>,
    /// See [`Customer::source`].
    pub source: Patch<String>,
    /// See [`Customer::referer`].
    pub referer: Patch<String>,
    /// See [`Customer::last_page`].
    pub last_page: Patch<String>,
    /// See [`Customer::locale`].
    pub locale: Patch<String>,
    /// See [`Customer::notes`].
    pub notes: Patch<String>,
    /// The whole tag list. (Adding/removing single tags has its own calls.)
    pub tags: Patch<Vec<Tag>>,
    /// Custom data. Merge: per property, a `null` value removes it.
    /// Replace: the map becomes exactly these non-null properties.
    pub custom_data: Patch<BTreeMap<String, Value>>,
    /// See [`Customer::integration_id`].
    pub integration_id: Patch<String>,
    /// See [`Customer::location`]: the whole location.
    pub location: Patch<Location>,
    /// Single location members (HelpCrunch's older top-level `city`,
    /// `regionCode`, `countryCode`), applied after `location`, so a member
    /// sent both ways takes the top-level value: a value sets the member,
    /// `null` clears it, absent keeps it. Both forms are checked by the
    /// same rule ([`validate`](Self::validate)), whichever one wins.
    pub location_members: LocationMembers,
    /// See [`Customer::device`].
    pub device: Patch<Device>,
    /// Read-only members the client sent back (a GET body sent as a PUT):
    /// accepted when they equal the stored values, refused otherwise.
    pub echo: ReadOnlyEcho,
}

/// A patch of each member of a [`Location`].
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct LocationMembers {
    /// `regionCode`.
    pub region_code: Patch<String>,
    /// `countryCode`.
    pub country_code: Patch<String>,
    /// `city`.
    pub city: Patch<String>,
}

/// Read-only members of a customer as a client sent them back. Each one
/// given must equal the stored value ([`CustomerUpdate::check_echo`]);
/// `updatedAt` is not among them, as it changes with every write.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ReadOnlyEcho {
    /// `id`.
    pub id: Option<CustomerId>,
    /// `createdAt`, compared to the second.
    pub created_at: Option<Timestamp>,
    /// `createdFrom` (`Some(None)`: sent as `null`).
    pub created_from: Option<Option<String>>,
}

impl LocationMembers {
    /// The members sent with a value, as a [`Location`].
    fn values(&self) -> Location {
        let value = |p: &Patch<String>| match p {
            Patch::Value(v) => Some(v.clone()),
            Patch::Absent | Patch::Null => None,
        };
        Location {
            region_code: value(&self.region_code),
            country_code: value(&self.country_code),
            city: value(&self.city),
        }
    }
}

impl CustomerUpdate {
    /// Checks the values sent that [`apply`](Self::apply) may overwrite
    /// before [`Customer::validate`] sees the result: a `location` member
    /// and the top-level member of the same name, sent together, are both
    /// checked by the one rule of a location member ([`Location::check`]),
    /// so the one that loses is never a way around it. Paths are the
    /// request's: `/location/city`, `/city`.
    ///
    /// ```
    /// use switchboard_domain::{CustomerUpdate, Location, LocationMembers, Patch};
    /// let update = CustomerUpdate {
    ///     location: Patch::Value(Location { city: Some("x".repeat(300)), ..Location::default() }),
    ///     location_members: LocationMembers { city: Patch::Value("Oslo".into()), ..LocationMembers::default() },
    ///     ..CustomerUpdate::default()
    /// };
    /// let e = update.validate().unwrap_err();
    /// assert_eq!(e.violations()[0].path, "/location/city");
    /// ```
    pub fn validate(&self) -> Result<(), ValidationErrors> {
        let mut e = ValidationErrors::new();
        if let Patch::Value(l) = &self.location {
            l.check(&mut e, "/location");
        }
        self.location_members.values().check(&mut e, "");
        e.into_result()
    }

    /// Checks the read-only members sent back against the stored customer:
    /// an unchanged one is accepted (and ignored), a changed one refused.
    pub fn check_echo(&self, c: &Customer) -> Result<(), DomainError> {
        let ReadOnlyEcho {
            id,
            created_at,
            created_from,
        } = &self.echo;
        let refuse = |field: &str| {
            Err(DomainError::ReadOnly {
                field: field.to_string(),
            })
        };
        if id.is_some_and(|id| id != c.id) {
            return refuse("/id");
        }
        if created_at.is_some_and(|t| t.as_unix_seconds() != c.created_at.as_unix_seconds()) {
            return refuse("/createdAt");
        }
        if created_from.as_ref().is_some_and(|f| *f != c.created_from) {
            return refuse("/createdFrom");
        }
        Ok(())
    }

    /// Checks the read-only members sent back ([`check_echo`](Self::check_echo)),
    /// then applies the update.
    pub fn apply_checked(self, c: &mut Customer, mode: UpdateMode) -> Result<(), DomainError> {
        self.check_echo(c)?;
        self.apply(c, mode);
        Ok(())
    }

    /// Applies the update. `createdFrom` is set when a customer is created
    /// and is not part of an update. Validation is a separate step
    /// ([`Customer::validate`]) so that every violation is reported at once.
    pub fn apply(self, c: &mut Customer, mode: UpdateMode) {
        let Self {
            user_id,
            name,
            email,
            phone,
            company,
            first_seen,
            last_seen,
            unsubscribed,
            blocked,
            source,
            referer,
            last_page,
            locale,
            notes,
            tags,
            custom_data,
            integration_id,
            location,
            location_members,
            device,
            echo: _,
        } = self;
        location.apply_to(&mut c.location, mode);
        let LocationMembers {
            region_code,
            country_code,
            city,
        } = location_members;
        if region_code.is_present() || country_code.is_present() || city.is_present() {
            let l = c.location.get_or_insert_with(Location::default);
            region_code.merge_into(&mut l.region_code);
            country_code.merge_into(&mut l.country_code);
            city.merge_into(&mut l.city);
            if *l == Location::default() {
                c.location = None;
            }
        }
        device.apply_to(&mut c.device, mode);
        user_id.apply_to(&mut c.user_id, mode);
        name.apply_to(&mut c.name, mode);
        email.apply_to(&mut c.email, mode);
        phone.apply_to(&mut c.phone, mode);
        company.apply_to(&mut c.company, mode);
        first_seen.apply_to(&mut c.first_seen, mode);
        last_seen.apply_to(&mut c.last_seen, mode);
        apply_flag(unsubscribed, &mut c.unsubscribed, mode);
        apply_flag(blocked, &mut c.blocked, mode);
        source.apply_to(&mut c.source, mode);
        referer.apply_to(&mut c.referer, mode);
        last_page.apply_to(&mut c.last_page, mode);
        locale.apply_to(&mut c.locale, mode);
        notes.apply_to(&mut c.notes, mode);
        integration_id.apply_to(&mut c.integration_id, mode);
        match tags {
            Patch::Value(t) => {
                // The new list; a tag named without a color that the
                // customer had keeps the customer's color.
                let had = std::mem::take(&mut c.tags);
                c.add_tags(t.into_iter().map(|mut tag| {
                    if tag.needs_color()
                        && let Some(old) = had.iter().find(|o| o.name == tag.name)
                    {
                        tag.color.clone_from(&old.color);
                    }
                    tag
                }));
            }
            Patch::Null => c.tags.clear(),
            Patch::Absent if mode == UpdateMode::Replace => c.tags.clear(),
            Patch::Absent => {}
        }
        match (custom_data, mode) {
            (Patch::Value(map), UpdateMode::Merge) => {
                for (k, v) in map {
                    if v.is_null() {
                        c.custom_data.remove(&k);
                    } else {
                        c.custom_data.insert(k, v);
                    }
                }
            }
            (Patch::Value(map), UpdateMode::Replace) => {
                c.custom_data = map.into_iter().filter(|(_, v)| !v.is_null()).collect();
            }
            (Patch::Null, _) | (Patch::Absent, UpdateMode::Replace) => c.custom_data.clear(),
            (Patch::Absent, UpdateMode::Merge) => {}
        }
    }
}

fn apply_flag(p: Patch<bool>, slot: &mut bool, mode: UpdateMode) {
    match p {
        Patch::Value(v) => *slot = v,
        Patch::Null => *slot = false,
        Patch::Absent if mode == UpdateMode::Replace => *slot = false,
        Patch::Absent => {}
    }
}
