//! `[queue] target = "pipe:..."`: the command line of a helpdesk mail-gate, split without a
//! shell.

use std::path::PathBuf;
use std::time::Duration;

/// A command run without a shell: the program and its arguments, split by [`split_command`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PipeCommand {
    pub program: PathBuf,
    pub args: Vec<String>,
    /// Killed after this long (`[queue] pipe_timeout`, default 60 s); the client gets 451.
    pub timeout: Duration,
}

/// Splits a command line the way a shell would for plain words: whitespace separates,
/// `'...'` keeps everything literally, `"..."` keeps everything but `\"` and `\\`, and a
/// backslash outside quotes escapes the next character. No variables, globs or pipes.
pub fn split_command(line: &str) -> Result<Vec<String>, String> {
    let mut words = Vec::new();
    let mut word: Option<String> = None;
    let mut chars = line.chars();
    while let Some(c) = chars.next() {
        match c {
            c if c.is_whitespace() => words.extend(word.take()),
            '\'' => {
                let w = word.get_or_insert_with(String::new);
                loop {
                    match chars.next() {
                        Some('\'') => break,
                        Some(c) => w.push(c),
                        None => return Err("unclosed single quote".into()),
                    }
                }
            }
            '"' => {
                let w = word.get_or_insert_with(String::new);
                loop {
                    match chars.next() {
                        Some('"') => break,
                        Some('\\') => match chars.next() {
                            Some(c @ ('"' | '\\')) => w.push(c),
                            Some(c) => {
                                w.push('\\');
                                w.push(c);
                            }
                            None => return Err("unclosed double quote".into()),
                        },
                        Some(c) => w.push(c),
                        None => return Err("unclosed double quote".into()),
                    }
                }
            }
            '\\' => match chars.next() {
                Some(c) => word.get_or_insert_with(String::new).push(c),
                None => return Err("backslash at the end".into()),
            },
            c => word.get_or_insert_with(String::new).push(c),
        }
    }
    words.extend(word);
    Ok(words)
}

#[cfg(test)]
mod tests {
    use super::split_command;

    #[test]
    fn splits_like_a_shell_for_plain_words_and_quotes() {
        let table: &[(&str, &[&str])] = &[
            (
                "/usr/bin/rt-mailgate --queue support",
                &["/usr/bin/rt-mailgate", "--queue", "support"],
            ),
            ("  a   b\tc ", &["a", "b", "c"]),
            ("a 'b c' \"d \\\" e\"", &["a", "b c", "d \" e"]),
            ("a '' b", &["a", "", "b"]),
            ("a\\ b", &["a b"]),
            ("x='$HOME;|*'", &["x=$HOME;|*"]),
        ];
        for (line, words) in table {
            assert_eq!(split_command(line).unwrap(), *words, "{line}");
        }
        assert!(split_command("a 'b").is_err());
        assert!(split_command("a \"b").is_err());
    }
}
