//! Agents and departments.

use serde::{Deserialize, Serialize};

use crate::{AgentId, DepartmentId, TenantId};

/// A support agent who can be assigned conversations.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Agent {
    /// Storage-assigned id.
    pub id: AgentId,
    /// Owning tenant.
    pub tenant_id: TenantId,
    /// Display name.
    pub name: String,
    /// Login email.
    pub email: String,
    /// Free-form role (`agent`, `admin`, …).
    pub role: String,
}

/// A department (team) that conversations can be routed to.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Department {
    /// Storage-assigned id.
    pub id: DepartmentId,
    /// Owning tenant.
    pub tenant_id: TenantId,
    /// Display name.
    pub name: String,
}

/// What an agent may do in the operator console.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum AgentRole {
    /// Works conversations and customers.
    Agent,
    /// Also manages the tenant's setup.
    Admin,
}

impl AgentRole {
    /// The stored name.
    #[must_use]
    pub const fn as_str(self) -> &'static str {
        match self {
            Self::Agent => "agent",
            Self::Admin => "admin",
        }
    }

    /// The role of a stored name (`agent`, `admin`); `None` for anything else.
    ///
    /// ```
    /// use switchboard_domain::AgentRole;
    /// assert_eq!(AgentRole::parse("admin"), Some(AgentRole::Admin));
    /// assert_eq!(AgentRole::parse("root"), None);
    /// ```
    #[must_use]
    pub fn parse(name: &str) -> Option<Self> {
        match name {
            "agent" => Some(Self::Agent),
            "admin" => Some(Self::Admin),
            _ => None,
        }
    }
}

impl Agent {
    /// The agent's console role: a stored role other than `admin` counts
    /// as `agent` (the least privilege).
    #[must_use]
    pub fn console_role(&self) -> AgentRole {
        AgentRole::parse(&self.role).unwrap_or(AgentRole::Agent)
    }
}
