//! Field projection for the SuperOffice `$select` query option.

use serde_json::{Map, Value};

/// A parsed `$select` list: which members of an object to keep.
///
/// Applying a projection keeps the selected members and sets every other
/// member to `null` (unselected members stay present, as SuperOffice does).
/// Member names match ASCII-case-insensitively. A nested selection such as
/// `category/id` keeps `category` as an object in which `id` is kept and the
/// other members are `null`; selecting `category` itself keeps it whole
/// (and wins over any nested selection below it). Selecting a member that
/// does not exist is ignored. Under a nested selection, a value that is not
/// an object (e.g. a `null` association, or an array) is kept unchanged.
/// Non-object documents are returned unchanged. An empty projection sets
/// every top-level member to `null`.
///
/// ```
/// use serde_json::json;
/// use switchboard_domain::json::Projection;
/// let p = Projection::parse("Name, category/id")?;
/// let doc = json!({"name": "Ada", "email": "a@x", "Category": {"Id": 3, "Label": "VIP"}});
/// assert_eq!(
///     p.apply(&doc),
///     json!({"name": "Ada", "email": null, "Category": {"Id": 3, "Label": null}}),
/// );
/// # Ok::<(), switchboard_domain::json::ProjectionError>(())
/// ```
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Projection {
    root: Node,
    fields: usize,
}

/// Selected members of one object level; names are stored lower-cased.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
struct Node {
    children: Vec<(String, Selection)>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
enum Selection {
    Whole,
    Partial(Node),
}

impl Node {
    fn find(&self, name: &str) -> Option<&Selection> {
        self.children
            .iter()
            .find(|(n, _)| n.eq_ignore_ascii_case(name))
            .map(|(_, s)| s)
    }

    fn find_mut(&mut self, name: &str) -> Option<&mut Selection> {
        self.children
            .iter_mut()
            .find(|(n, _)| n.eq_ignore_ascii_case(name))
            .map(|(_, s)| s)
    }
}

/// Why a `$select` list was rejected.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum ProjectionError {
    /// More than [`Projection::MAX_FIELDS`] non-empty entries.
    #[error("too many fields selected (max {max})")]
    TooManyFields {
        /// The maximum number of fields.
        max: usize,
    },
    /// A field with more than [`Projection::MAX_DEPTH`] `/`-separated segments.
    #[error("field '{field}' is nested too deeply (max {max} segments)")]
    TooDeep {
        /// The offending field, as written.
        field: String,
        /// The maximum number of segments.
        max: usize,
    },
    /// A field with an empty segment, e.g. `category/` or `a//b`.
    #[error("field '{field}' has an empty segment")]
    EmptySegment {
        /// The offending field, as written.
        field: String,
    },
}

impl Projection {
    /// Maximum number of fields in one `$select` list.
    pub const MAX_FIELDS: usize = 100;
    /// Maximum number of `/`-separated segments in one field.
    pub const MAX_DEPTH: usize = 8;

    /// Parses a comma-separated `$select` list such as
    /// `"Name,department,category/id"`.
    ///
    /// Entries and segments are whitespace-trimmed, empty entries are
    /// ignored, names are case-insensitive.
    ///
    /// # Errors
    /// [`ProjectionError`] when there are more than [`Self::MAX_FIELDS`]
    /// fields, a field is deeper than [`Self::MAX_DEPTH`], or a field has an
    /// empty segment.
    pub fn parse(select: &str) -> Result<Self, ProjectionError> {
        let mut projection = Self::default();
        for field in select.split(',').map(str::trim).filter(|f| !f.is_empty()) {
            projection.fields += 1;
            if projection.fields > Self::MAX_FIELDS {
                return Err(ProjectionError::TooManyFields {
                    max: Self::MAX_FIELDS,
                });
            }
            let depth = field.split('/').count();
            if depth > Self::MAX_DEPTH {
                return Err(ProjectionError::TooDeep {
                    field: field.to_owned(),
                    max: Self::MAX_DEPTH,
                });
            }
            if field.split('/').any(|s| s.trim().is_empty()) {
                return Err(ProjectionError::EmptySegment {
                    field: field.to_owned(),
                });
            }
            projection
                .root
                .select(field.split('/').map(str::trim), depth);
        }
        Ok(projection)
    }

    /// Number of (non-empty) fields the list held.
    #[must_use]
    pub fn len(&self) -> usize {
        self.fields
    }

    /// The selected top-level member names (lower-cased), in the order
    /// first named: for checking them against an entity's members.
    ///
    /// ```
    /// use switchboard_domain::json::Projection;
    /// let p = Projection::parse("Name, category/id, name")?;
    /// assert_eq!(p.members().collect::<Vec<_>>(), ["name", "category"]);
    /// # Ok::<(), switchboard_domain::json::ProjectionError>(())
    /// ```
    pub fn members(&self) -> impl Iterator<Item = &str> {
        self.root.children.iter().map(|(name, _)| name.as_str())
    }

    /// Whether the list held no field at all.
    #[must_use]
    pub fn is_empty(&self) -> bool {
        self.fields == 0
    }

    /// Applies the projection to `v` (see the [type docs](Self)).
    #[must_use]
    pub fn apply(&self, v: &Value) -> Value {
        match v {
            Value::Object(map) => Value::Object(project(map, &self.root)),
            other => other.clone(),
        }
    }
}

impl Node {
    /// Adds the selection of the `depth` segments in `segments`.
    fn select<'s>(&mut self, segments: impl Iterator<Item = &'s str>, depth: usize) {
        let mut node = self;
        for (i, segment) in segments.enumerate() {
            let last = i + 1 == depth;
            if node.find(segment).is_none() {
                let selection = if last {
                    Selection::Whole
                } else {
                    Selection::Partial(Node::default())
                };
                node.children
                    .push((segment.to_ascii_lowercase(), selection));
            }
            let Some(selection) = node.find_mut(segment) else {
                return;
            };
            if last {
                *selection = Selection::Whole;
                return;
            }
            match selection {
                Selection::Whole => return,
                Selection::Partial(child) => node = child,
            }
        }
    }
}

fn project(map: &Map<String, Value>, node: &Node) -> Map<String, Value> {
    map.iter()
        .map(|(key, value)| {
            let projected = match node.find(key) {
                None => Value::Null,
                Some(Selection::Whole) => value.clone(),
                Some(Selection::Partial(child)) => match value {
                    Value::Object(inner) => Value::Object(project(inner, child)),
                    other => other.clone(),
                },
            };
            (key.clone(), projected)
        })
        .collect()
}
