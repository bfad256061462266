//! The directory of accounts and agents (SPEC §9), loaded into an index by normalised address.
//!
//! `model` is the file format, `index` the loaded, queryable form, `lint` the consistency report
//! of `supportgate directory lint`. The policy core reads the directory only through
//! [`Directory`]'s query methods, so another source (a database) can later build the same index.

mod batches;
mod index;
mod lint;
mod model;

pub use index::{AccountId, AddressListing, Directory, DirectoryError};
pub use lint::{Finding, Severity};
pub use model::{Account, AccountEntry, Agent, AgentEntry, Language, Role};
