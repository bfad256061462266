//! `supportgate directory reload`: check the new configuration, directory and templates, then
//! ask the running server (its `[server] pid_file`) to reload them with SIGHUP. A set that does
//! not load is reported and the server is not disturbed.

use super::config_location::ConfigLocation;
use crate::config::Config;
use crate::pipeline::{Engine, EngineError};
use std::process::ExitCode;

pub fn run(location: &ConfigLocation) -> ExitCode {
    let config_path = location.path();
    let engine = match location
        .load()
        .map_err(EngineError::Config)
        .and_then(Engine::from_config)
    {
        Ok(engine) => engine,
        Err(e) => {
            eprintln!("supportgate directory reload: not reloaded, the new files do not load: {e}");
            return ExitCode::from(1);
        }
    };
    let config: &Config = &engine.config;
    let Some(pid_file) = &config.server.pid_file else {
        eprintln!(
            "supportgate directory reload: {}: server.pid_file is not set; set it, or send SIGHUP (systemctl reload supportgate)",
            config_path.display()
        );
        return ExitCode::from(super::EXIT_UNUSABLE);
    };
    let pid = match std::fs::read_to_string(pid_file).map(|t| t.trim().parse::<u32>()) {
        Ok(Ok(pid)) => pid,
        Ok(Err(_)) => {
            eprintln!(
                "supportgate directory reload: {}: not a process id",
                pid_file.display()
            );
            return ExitCode::from(1);
        }
        Err(e) => {
            eprintln!(
                "supportgate directory reload: {}: {e} (is `supportgate serve` running with this configuration?)",
                pid_file.display()
            );
            return ExitCode::from(1);
        }
    };
    // Only signal a process that is a supportgate (a stale pid file may name another one now).
    let is_supportgate = std::fs::read(format!("/proc/{pid}/cmdline")).is_ok_and(|cmdline| {
        cmdline
            .split(|b| *b == 0)
            .next()
            .is_some_and(|exe| exe.ends_with(b"supportgate"))
    });
    if !is_supportgate {
        eprintln!(
            "supportgate directory reload: process {pid} from {} is not a running supportgate",
            pid_file.display()
        );
        return ExitCode::from(1);
    }
    match std::process::Command::new("kill")
        .args(["-HUP", &pid.to_string()])
        .status()
    {
        Ok(status) if status.success() => {
            println!(
                "reload requested from process {pid}: {} accounts, {} agents in {}",
                engine.directory.account_count(),
                engine.directory.agent_count(),
                config.directory_path.display()
            );
            ExitCode::SUCCESS
        }
        Ok(status) => {
            eprintln!("supportgate directory reload: kill -HUP {pid} failed ({status})");
            ExitCode::from(1)
        }
        Err(e) => {
            eprintln!("supportgate directory reload: cannot run kill: {e}");
            ExitCode::from(1)
        }
    }
}
