//! The directory of accounts and agents (SPEC §9), loaded into an index by normalised address.
//!
//! `model` is the file format, `load` reads it into `index`, the loaded, queryable form, and
//! `lint` (with `finding`) is the consistency report of `supportgate directory lint`. The policy
//! core reads the directory only through [`Directory`]'s query methods, so the other source,
//! PostgreSQL (`postgres`: SPEC §12), builds the same index from the same [`AccountEntry`]s;
//! `live` follows the database's changes and swaps them in with `patch`.

mod batches;
mod finding;
mod index;
mod layered;
mod lint;
mod live;
mod load;
mod model;
mod patch;
mod postgres;

pub use finding::{Finding, Severity};
pub use index::{AccountId, AddressListing, Directory};
pub use live::{follow, DirectoryHost};
pub use load::DirectoryError;
pub use model::{Account, AccountEntry, AccountStatus, Agent, AgentEntry, Language, Role};
pub use patch::AccountChange;
pub use postgres::{load_once, DatabaseError, DirectoryDatabase, Snapshot};
