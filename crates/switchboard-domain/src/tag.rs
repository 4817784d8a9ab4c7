//! Customer tags and the tenant's tag catalogue.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

/// The color HelpCrunch gives a tag that was created without one.
pub const DEFAULT_TAG_COLOR: &str = "#c377e0";

/// The tenant's tag catalogue as far as a write needs it: each tag name the
/// tenant already has, with its color. Tags belong to the tenant (the
/// account), not to one customer.
pub type TagCatalogue = BTreeMap<String, String>;

/// A tag on a customer. Tags are per tenant and identified by name
/// (case-sensitive, trimmed); unknown tags are created on first use.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Tag {
    /// The tag's name.
    pub name: String,
    /// Any CSS color (see [`validate::css_color`](crate::validate::css_color)).
    /// Empty in a tag named without a color ([`Tag::named`]) until the
    /// customer's rules give it one; a stored tag always has one.
    pub color: String,
}

impl Tag {
    /// A tag with the default color.
    ///
    /// ```
    /// use switchboard_domain::{Tag, DEFAULT_TAG_COLOR};
    /// assert_eq!(Tag::new("vip").color, DEFAULT_TAG_COLOR);
    /// ```
    #[must_use]
    pub fn new(name: impl Into<String>) -> Self {
        Self {
            name: name.into(),
            color: DEFAULT_TAG_COLOR.to_string(),
        }
    }

    /// A tag of this color.
    ///
    /// ```
    /// use switchboard_domain::Tag;
    /// assert_eq!(Tag::colored("vip", "red").color, "red");
    /// ```
    #[must_use]
    pub fn colored(name: impl Into<String>, color: impl Into<String>) -> Self {
        Self {
            name: name.into(),
            color: color.into(),
        }
    }

    /// A tag named without a color. Added to a customer that has the tag,
    /// it keeps the customer's color; otherwise the customer's rules give
    /// it the color of the tenant's tag of that name, or
    /// [`DEFAULT_TAG_COLOR`] when the name is new ([`Tag::color_from`]).
    ///
    /// ```
    /// use switchboard_domain::{Tag, TagCatalogue, DEFAULT_TAG_COLOR};
    /// let catalogue = TagCatalogue::from([("vip".to_string(), "#ff0000".to_string())]);
    /// let mut vip = Tag::named("vip");
    /// assert!(vip.needs_color());
    /// vip.color_from(&catalogue);
    /// assert_eq!(vip.color, "#ff0000");
    /// let mut new = Tag::named("lead");
    /// new.color_from(&catalogue);
    /// assert_eq!(new.color, DEFAULT_TAG_COLOR);
    /// ```
    #[must_use]
    pub fn named(name: impl Into<String>) -> Self {
        Self {
            name: name.into(),
            color: String::new(),
        }
    }

    /// Whether the tag was named without a color and has none yet.
    #[must_use]
    pub fn needs_color(&self) -> bool {
        self.color.is_empty()
    }

    /// Gives a tag named without a color the catalogue's color for its
    /// name, or [`DEFAULT_TAG_COLOR`] when the name is new. A tag that has
    /// a color keeps it.
    pub fn color_from(&mut self, catalogue: &TagCatalogue) {
        if self.needs_color() {
            self.color = catalogue
                .get(&self.name)
                .map_or(DEFAULT_TAG_COLOR, String::as_str)
                .to_string();
        }
    }
}
