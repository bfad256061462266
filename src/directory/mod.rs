//! The directory of accounts and agents (SPEC §9), loaded into an index by normalised address.
//!
//! `model` is the file format, `load` reads it into `index`, the loaded, queryable form, and
//! `lint` (with `finding`) is the consistency report of `supportgate directory lint`. The policy
//! core reads the directory only through [`Directory`]'s query methods, so another source (a
//! database) can later build the same index.

mod batches;
mod finding;
mod index;
mod lint;
mod load;
mod model;

pub use finding::{Finding, Severity};
pub use index::{AccountId, AddressListing, Directory};
pub use load::DirectoryError;
pub use model::{Account, AccountEntry, AccountStatus, Agent, AgentEntry, Language, Role};
