//! `supportgate generate man DIR` and `supportgate generate completions bash|zsh DIR` (hidden):
//! the manual page `supportgate.8` and the shell completions, from the same clap definitions
//! as the commands themselves, so they cannot drift. `scripts/check-deb.sh` writes them into
//! `target/assets/` before `cargo deb` packages them.

use clap::{CommandFactory, Subcommand, ValueEnum};
use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::ExitCode;

#[derive(Debug, Subcommand)]
pub enum GenerateCommand {
    /// Write the manual page supportgate.8 into DIR.
    Man { dir: PathBuf },
    /// Write the completion script for SHELL into DIR (bash: `supportgate`, zsh: `_supportgate`).
    Completions { shell: Shell, dir: PathBuf },
}

#[derive(Debug, Clone, Copy, ValueEnum)]
pub enum Shell {
    Bash,
    Zsh,
}

pub fn run(command: GenerateCommand) -> ExitCode {
    let written = match command {
        GenerateCommand::Man { dir } => write_man(&dir),
        GenerateCommand::Completions { shell, dir } => write_completions(shell, &dir),
    };
    match written {
        Ok(path) => {
            println!("{}", path.display());
            ExitCode::SUCCESS
        }
        Err(e) => {
            eprintln!("supportgate generate: {e}");
            ExitCode::from(1)
        }
    }
}

fn create(dir: &Path, name: &str) -> Result<(PathBuf, std::fs::File), String> {
    std::fs::create_dir_all(dir).map_err(|e| format!("{}: {e}", dir.display()))?;
    let path = dir.join(name);
    let file = std::fs::File::create(&path).map_err(|e| format!("{}: {e}", path.display()))?;
    Ok((path, file))
}

fn write_man(dir: &Path) -> Result<PathBuf, String> {
    let (path, mut file) = create(dir, "supportgate.8")?;
    file.write_all(&man_page())
        .map_err(|e| format!("{}: {e}", path.display()))?;
    Ok(path)
}

/// supportgate(8): clap_mangen's page for the whole program, then a COMMANDS section with
/// every command (`supportgate config check`, …), its description, usage and options.
pub fn man_page() -> Vec<u8> {
    let mut command = super::Cli::command();
    command.build();
    let mut page = Vec::new();
    let man = clap_mangen::Man::new(command.clone())
        .section("8")
        .manual("System Administration");
    // Not clap_mangen's SUBCOMMANDS section: it points at one page per command, and this is
    // one page. Writing into a Vec cannot fail.
    let _ = man.render_title(&mut page);
    let _ = man.render_name_section(&mut page);
    let _ = man.render_synopsis_section(&mut page);
    let _ = man.render_description_section(&mut page);
    let _ = man.render_options_section(&mut page);
    page.extend_from_slice(b".SH COMMANDS\n");
    for (name, sub) in leaf_commands(&command, "supportgate") {
        let mut sub = sub.clone();
        let usage = sub.render_usage().to_string();
        page.extend_from_slice(format!(".SS \"{}\"\n", roff(&name)).as_bytes());
        let about = sub.get_long_about().or(sub.get_about());
        if let Some(about) = about {
            page.extend_from_slice(format!("{}\n.PP\n", roff(&about.to_string())).as_bytes());
        }
        let usage = usage.trim_start_matches("Usage:").trim();
        page.extend_from_slice(format!(".B {}\n", roff(usage)).as_bytes());
        for arg in sub.get_arguments().filter(|a| !a.is_hide_set()) {
            let Some(long) = arg.get_long() else { continue };
            if long == "help" {
                continue;
            }
            let help = arg.get_help().map(|h| h.to_string()).unwrap_or_default();
            page.extend_from_slice(
                format!(".TP\n\\fB\\-\\-{}\\fR\n{}\n", roff(long), roff(&help)).as_bytes(),
            );
        }
    }
    let _ = man.render_version_section(&mut page);
    page
}

/// Every command that is run as such (`serve`, `config check`, …), hidden ones left out.
fn leaf_commands<'a>(command: &'a clap::Command, prefix: &str) -> Vec<(String, &'a clap::Command)> {
    let mut out = Vec::new();
    for sub in command.get_subcommands().filter(|s| !s.is_hide_set()) {
        if sub.get_name() == "help" {
            continue;
        }
        let name = format!("{prefix} {}", sub.get_name());
        if sub.has_subcommands() {
            out.extend(leaf_commands(sub, &name));
        } else {
            out.push((name, sub));
        }
    }
    out
}

/// Text for a roff line: backslashes and hyphens escaped, no line that starts a request.
fn roff(text: &str) -> String {
    text.replace('\\', "\\\\")
        .replace('-', "\\-")
        .lines()
        .map(|line| {
            if line.starts_with(['.', '\'']) {
                format!("\\&{line}")
            } else {
                line.to_string()
            }
        })
        .collect::<Vec<_>>()
        .join("\n")
}

fn write_completions(shell: Shell, dir: &Path) -> Result<PathBuf, String> {
    let (shell, name) = match shell {
        Shell::Bash => (clap_complete::Shell::Bash, "supportgate"),
        Shell::Zsh => (clap_complete::Shell::Zsh, "_supportgate"),
    };
    let (path, mut file) = create(dir, name)?;
    clap_complete::generate(shell, &mut super::Cli::command(), "supportgate", &mut file);
    file.flush()
        .map_err(|e| format!("{}: {e}", path.display()))?;
    Ok(path)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_man_page_mentions_every_command_and_its_options() {
        let page = String::from_utf8(man_page()).unwrap();
        assert!(page.contains(".TH supportgate 8"), "{page}");
        let mut command = super::super::Cli::command();
        command.build();
        let leaves = leaf_commands(&command, "supportgate");
        assert!(leaves.len() >= 12, "{leaves:?}");
        for (name, sub) in leaves {
            assert!(page.contains(&format!(".SS \"{}\"", roff(&name))), "{name}");
            for arg in sub.get_arguments().filter_map(|a| a.get_long()) {
                if arg != "help" {
                    assert!(page.contains(&roff(&format!("--{arg}"))), "{name} --{arg}");
                }
            }
        }
        assert!(!page.contains("generate"), "the hidden command is left out");
        assert!(
            !page.contains("supportgate\\-serve(8)"),
            "no pages that do not exist"
        );
    }
}
