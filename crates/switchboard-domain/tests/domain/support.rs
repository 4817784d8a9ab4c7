//! What several test modules build alike.

use switchboard_domain::{AttributeSet, AttributeType, CustomAttribute, TenantId};

/// Tenant 1's definitions of one attribute of each type (`plan`, `seats`,
/// `trial`, `renewal`, `homepage`), each labelled by `label` of its name.
pub(crate) fn attributes(label: fn(&str) -> String) -> AttributeSet {
    [
        ("plan", AttributeType::String),
        ("seats", AttributeType::Number),
        ("trial", AttributeType::Boolean),
        ("renewal", AttributeType::Date),
        ("homepage", AttributeType::Url),
    ]
    .into_iter()
    .map(|(name, kind)| {
        let attribute = CustomAttribute::new(TenantId::new(1), name, kind, label(name));
        (name.to_string(), attribute)
    })
    .collect()
}
