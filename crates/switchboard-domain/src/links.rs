//! The rows a conversation refers to.

use crate::{Agent, AgentId, Conversation, Customer, Department};

/// The rows a conversation refers to, loaded together for rendering it.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct ConversationLinks {
    /// The linked customer, if any (and if loaded).
    pub customer: Option<Customer>,
    /// Every agent the conversation names (assignee, transfer target,
    /// participants), each once, that still exists.
    pub agents: Vec<Agent>,
    /// The department, if any (and if loaded).
    pub department: Option<Department>,
}

impl ConversationLinks {
    /// The agent with this id, if loaded.
    #[must_use]
    pub fn agent(&self, id: AgentId) -> Option<&Agent> {
        self.agents.iter().find(|a| a.id == id)
    }

    /// The conversation's assignee, if loaded.
    #[must_use]
    pub fn assignee(&self, c: &Conversation) -> Option<&Agent> {
        c.assignee_id.and_then(|id| self.agent(id))
    }

    /// The agent the conversation is being transferred to, if loaded.
    #[must_use]
    pub fn transfer_target(&self, c: &Conversation) -> Option<&Agent> {
        c.transfer_to.and_then(|id| self.agent(id))
    }

    /// The participating agents, in the conversation's order (those loaded).
    pub fn participants<'a>(&'a self, c: &'a Conversation) -> impl Iterator<Item = &'a Agent> {
        c.agent_ids.iter().filter_map(|id| self.agent(*id))
    }
}
