//! Types and rules shared by the server and the browser. Nothing here touches I/O, so
//! the browser validates with exactly the rules the server enforces.

pub mod integration;
pub mod name;

pub use integration::{Description, IntegrationId, IntegrationSummary, NewIntegration};
pub use name::IntegrationName;
