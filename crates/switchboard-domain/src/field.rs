//! The three-state field used by every partial update.

use serde::{Deserialize, Deserializer, Serialize, Serializer};

/// One field of an update: absent, explicitly `null`, or a value.
///
/// JSON distinguishes a member that is missing from a member that is `null`;
/// PATCH semantics depend on it (absent keeps, `null` clears), and PUT
/// semantics treat absent as `null`. `Patch<T>` keeps the three states apart.
///
/// Use it with `#[serde(default)]` so a missing member deserializes to
/// [`Patch::Absent`]:
///
/// ```
/// use serde::Deserialize;
/// use switchboard_domain::Patch;
///
/// #[derive(Deserialize)]
/// struct Body {
///     #[serde(default)]
///     name: Patch<String>,
///     #[serde(default)]
///     phone: Patch<String>,
///     #[serde(default)]
///     email: Patch<String>,
/// }
///
/// let body: Body = serde_json::from_str(r#"{"name": "Ada", "phone": null}"#).unwrap();
/// assert_eq!(body.name, Patch::Value("Ada".to_string()));
/// assert_eq!(body.phone, Patch::Null);
/// assert_eq!(body.email, Patch::Absent);
///
/// // PATCH (merge): absent keeps, null clears.
/// let mut phone = Some("+4712345678".to_string());
/// body.phone.clone().merge_into(&mut phone);
/// assert_eq!(phone, None);
///
/// // PUT (replace): absent becomes null too.
/// let mut email = Some("old@example.com".to_string());
/// body.email.clone().replace_into(&mut email);
/// assert_eq!(email, None);
/// ```
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub enum Patch<T> {
    /// The member was not sent.
    #[default]
    Absent,
    /// The member was sent as `null`.
    Null,
    /// The member was sent with a value.
    Value(T),
}

impl<T> Patch<T> {
    /// Whether the member was sent at all (as `null` or a value).
    #[must_use]
    pub const fn is_present(&self) -> bool {
        !matches!(self, Self::Absent)
    }

    /// Merge semantics: absent keeps the current value, `null` clears it, a
    /// value replaces it.
    pub fn merge_into(self, slot: &mut Option<T>) {
        match self {
            Self::Absent => {}
            Self::Null => *slot = None,
            Self::Value(v) => *slot = Some(v),
        }
    }

    /// Replace semantics: absent and `null` both clear, a value replaces.
    pub fn replace_into(self, slot: &mut Option<T>) {
        *slot = self.into_option();
    }

    /// Applies with the given [`UpdateMode`].
    pub fn apply_to(self, slot: &mut Option<T>, mode: UpdateMode) {
        match mode {
            UpdateMode::Merge => self.merge_into(slot),
            UpdateMode::Replace => self.replace_into(slot),
        }
    }

    /// The value, if one was sent.
    #[must_use]
    pub fn into_option(self) -> Option<T> {
        match self {
            Self::Value(v) => Some(v),
            Self::Absent | Self::Null => None,
        }
    }

    /// A reference to the value, if one was sent.
    #[must_use]
    pub const fn as_value(&self) -> Option<&T> {
        match self {
            Self::Value(v) => Some(v),
            Self::Absent | Self::Null => None,
        }
    }

    /// Maps the value, keeping the state.
    pub fn map<U>(self, f: impl FnOnce(T) -> U) -> Patch<U> {
        match self {
            Self::Absent => Patch::Absent,
            Self::Null => Patch::Null,
            Self::Value(v) => Patch::Value(f(v)),
        }
    }

    /// Maps the value through a fallible conversion, keeping the state.
    pub fn try_map<U, E>(self, f: impl FnOnce(T) -> Result<U, E>) -> Result<Patch<U>, E> {
        Ok(match self {
            Self::Absent => Patch::Absent,
            Self::Null => Patch::Null,
            Self::Value(v) => Patch::Value(f(v)?),
        })
    }
}

impl<T> From<Option<T>> for Patch<T> {
    /// `Some` is a value and `None` is an explicit `null`.
    fn from(v: Option<T>) -> Self {
        v.map_or(Self::Null, Self::Value)
    }
}

/// How an update treats fields it does not mention.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum UpdateMode {
    /// PUT: the body is the whole resource; missing nullable fields become null.
    Replace,
    /// PATCH: only the fields sent change; `null` clears.
    Merge,
}

impl<'de, T: Deserialize<'de>> Deserialize<'de> for Patch<T> {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        Option::<T>::deserialize(d).map(Self::from)
    }
}

impl<T: Serialize> Serialize for Patch<T> {
    /// Absent and null both serialize as `null`; skip absent members with
    /// `#[serde(skip_serializing_if = "Patch::is_absent")]`.
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        match self {
            Self::Value(v) => s.serialize_some(v),
            Self::Absent | Self::Null => s.serialize_none(),
        }
    }
}

impl<T> Patch<T> {
    /// Whether the member was not sent (for `skip_serializing_if`).
    #[must_use]
    pub const fn is_absent(&self) -> bool {
        matches!(self, Self::Absent)
    }
}
