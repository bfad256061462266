//! `supportgate state migrate`: brings the `[state] backend = "postgres"` schema up to date
//! (the gateway does it at start too; idempotent, safe beside a running fleet).

use super::config_location::ConfigArg;
use crate::config::StateSettings;
use crate::store::postgres::{connect_and_migrate, MIGRATIONS};
use std::process::ExitCode;

pub fn migrate(config: &ConfigArg) -> ExitCode {
    let config = match config.load_or_exit() {
        Ok(config) => config,
        Err(code) => return code,
    };
    let StateSettings::Postgres(database) = &config.state else {
        println!(
            "[state] backend = \"embedded\": nothing to migrate (serve creates its redb files)"
        );
        return ExitCode::SUCCESS;
    };
    let runtime = match tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
    {
        Ok(runtime) => runtime,
        Err(e) => {
            eprintln!("supportgate state migrate: cannot start a runtime: {e}");
            return ExitCode::from(1);
        }
    };
    match runtime.block_on(connect_and_migrate(database)) {
        Ok((_, migrated)) => {
            let url = database.redacted_url();
            if migrated.applied.is_empty() {
                println!(
                    "{url}: schema supportgate at version {}: up to date",
                    migrated.version
                );
            } else {
                println!(
                    "{url}: schema supportgate migrated to version {} (applied: {})",
                    migrated.version,
                    migrated.applied.join(", ")
                );
            }
            if usize::try_from(migrated.version).is_ok_and(|v| v > MIGRATIONS.len()) {
                println!("note: the database is newer than this binary knows");
            }
            ExitCode::SUCCESS
        }
        Err(e) => {
            eprintln!(
                "supportgate state migrate: {}: {e}",
                database.redacted_url()
            );
            ExitCode::from(1)
        }
    }
}
