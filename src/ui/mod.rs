//! What people see: pages (one per route) and the components they share.

pub mod components;
pub mod format;
pub mod live;
pub mod pages;

/// Where people sign in.
pub const SIGN_IN_PATH: &str = "/sign-in";
/// Where the first administrator is created.
pub const FIRST_RUN_PATH: &str = "/first-run";
/// The signed-in user's API tokens.
pub const TOKENS_PATH: &str = "/tokens";
