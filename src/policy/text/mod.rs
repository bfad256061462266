//! The text of a message that P4 categories are matched on, in matching form ([`normalise`]).

pub mod normalise;

pub use normalise::{fold, MatchText};
