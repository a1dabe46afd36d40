//! Pieces shared by several pages.

pub mod actions;
pub mod badges;
pub mod chart;
pub mod diff;
pub mod field;
pub mod pager;
