//! Customer tags.

use serde::{Deserialize, Serialize};

/// The color HelpCrunch gives a tag that was created without one.
pub const DEFAULT_TAG_COLOR: &str = "#c377e0";

/// A tag on a customer. Tags are per tenant and identified by name
/// (case-sensitive, trimmed); unknown tags are created on first use.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Tag {
    /// The tag's name.
    pub name: String,
    /// Any CSS color (see [`validate::css_color`](crate::validate::css_color)).
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
}
