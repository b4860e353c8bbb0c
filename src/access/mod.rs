//! Who may do what: principals (a jurisdiction and roles), the bearer tokens and API keys that
//! name them. The HTTP layer (`api::auth`, `api::viewer`) and the CLI (`gridmap token`,
//! `gridmap api-key`) both use these; how a refusal becomes an HTTP answer is `api::error`'s.

pub mod api_key;
pub mod principal;
pub mod token;

pub use api_key::{ApiKeys, KeyError};
pub use principal::{OutOfScope, Principal, Role};
pub use token::{parse_ttl, Auth, TokenError, VerifyError};
