//! Who made a change.

use serde::{Deserialize, Serialize};

use crate::{AgentId, ApiKeyId};

/// Who performed an action (for `closedBy` and the change history).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(tag = "type", content = "id", rename_all = "camelCase")]
pub enum Actor {
    /// A support agent.
    Agent(AgentId),
    /// An integration acting through an API key.
    ApiKey(ApiKeyId),
    /// The customer/visitor themself.
    Customer,
    /// Switchboard itself (demo data, maintenance).
    System,
}

impl Actor {
    /// The agent id, when the actor is an agent.
    #[must_use]
    pub const fn agent(self) -> Option<AgentId> {
        match self {
            Self::Agent(id) => Some(id),
            _ => None,
        }
    }
}
