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
