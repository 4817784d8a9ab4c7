//! The rows a conversation refers to.

use std::sync::Arc;

use crate::{Agent, AgentId, Conversation, Customer, Department};

/// The rows a conversation refers to, loaded together for rendering it.
///
/// Agents and departments are shared (`Arc`): the conversations of a page
/// name the same few, and each conversation's links hold the one row
/// rather than a copy of its strings.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct ConversationLinks {
    /// The linked customer, if any (and if loaded).
    pub customer: Option<Customer>,
    /// Every agent the conversation names (assignee, transfer target,
    /// participants), each once, that still exists.
    pub agents: Vec<Arc<Agent>>,
    /// The department, if any (and if loaded).
    pub department: Option<Arc<Department>>,
}

impl ConversationLinks {
    /// The agent with this id, if loaded.
    #[must_use]
    pub fn agent(&self, id: AgentId) -> Option<&Agent> {
        self.agents.iter().find(|a| a.id == id).map(Arc::as_ref)
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

impl ConversationLinks {
    /// Whether these are the rows `c` links to, every kind loaded: its
    /// customer, every agent it names and its department, and no other. A
    /// change that linked other rows (or a row that is gone) makes it false.
    #[must_use]
    pub fn covers(&self, c: &Conversation) -> bool {
        let named = |id: AgentId| {
            c.assignee_id == Some(id) || c.transfer_to == Some(id) || c.agent_ids.contains(&id)
        };
        let agents_named = c
            .assignee_id
            .iter()
            .chain(&c.transfer_to)
            .chain(&c.agent_ids)
            .all(|id| self.agent(*id).is_some());
        c.customer_id == self.customer.as_ref().map(|x| x.id)
            && c.department_id == self.department.as_ref().map(|d| d.id)
            && agents_named
            && self.agents.iter().all(|a| named(a.id))
    }
}
