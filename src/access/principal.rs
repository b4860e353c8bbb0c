//! Who is asking: a principal (a jurisdiction code and roles), whichever credential named it.
//! "Inside my jurisdiction" is a prefix test on area codes (DESIGN.md "The hierarchy").

use serde::{Deserialize, Serialize};

use crate::model::scope_contains;

/// A role a principal may hold (DESIGN.md "Surface").
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Role {
    Viewer,
    Analyst,
    Dispatcher,
    Admin,
    Device,
}

impl Role {
    /// All roles.
    pub const ALL: [Role; 5] = [
        Role::Viewer,
        Role::Analyst,
        Role::Dispatcher,
        Role::Admin,
        Role::Device,
    ];

    /// The text form used in tokens.
    pub fn as_str(self) -> &'static str {
        match self {
            Role::Viewer => "viewer",
            Role::Analyst => "analyst",
            Role::Dispatcher => "dispatcher",
            Role::Admin => "admin",
            Role::Device => "device",
        }
    }

    /// Parses a role name, with the accepted names in the error.
    pub fn parse(s: &str) -> Result<Role, String> {
        Role::ALL.into_iter().find(|r| r.as_str() == s).ok_or_else(|| {
            format!("unknown role {s:?}: expected one of viewer, analyst, dispatcher, admin, device")
        })
    }
}

/// The caller of a request, established from its token.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Principal {
    pub sub: String,
    pub scope: String,
    pub roles: Vec<Role>,
}

impl Principal {
    /// Whether `code` is inside this principal's jurisdiction.
    pub fn covers(&self, code: &str) -> bool {
        scope_contains(&self.scope, code)
    }

    /// Ok when `code` is inside the jurisdiction, else [`OutOfScope`] naming both.
    pub fn check_scope(&self, code: &str) -> Result<(), OutOfScope> {
        if self.covers(code) {
            Ok(())
        } else {
            Err(OutOfScope {
                scope: self.scope.clone(),
                code: code.to_string(),
            })
        }
    }

    /// Whether the principal holds `role` (admin holds every role).
    pub fn has_role(&self, role: Role) -> bool {
        self.roles.contains(&role) || self.roles.contains(&Role::Admin)
    }
}

/// A code outside the principal's jurisdiction.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{code} is outside your jurisdiction {scope}; ask for a token scoped to an area that contains it")]
pub struct OutOfScope {
    pub scope: String,
    pub code: String,
}
