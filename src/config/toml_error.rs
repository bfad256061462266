//! TOML errors on one line, for both TOML files an administrator writes (the configuration,
//! read with toml 0.8, and the directory, read with toml 1.x). toml's own `Display` shows a
//! source snippet over several lines; ours says where, and which key when that can be told.

use std::ops::Range;

/// `line L, column C: MESSAGE`, from an error's message and byte span in `text`.
pub(crate) fn one_line(message: &str, span: Option<Range<usize>>, text: &str) -> String {
    let message = message.trim().replace('\n', " ");
    match span {
        Some(span) => {
            let (line, column) = position(text, span.start);
            format!("line {line}, column {column}: {message}")
        }
        None => message,
    }
}

/// Line and column (1-based, the column in characters as toml counts it) of byte `offset`.
fn position(text: &str, offset: usize) -> (usize, usize) {
    let offset = offset.min(text.len());
    let before = &text.as_bytes()[..offset];
    let line = before.iter().filter(|b| **b == b'\n').count() + 1;
    let line_start = before
        .iter()
        .rposition(|b| *b == b'\n')
        .map_or(0, |nl| nl + 1);
    let column = match text.get(line_start..offset) {
        Some(prefix) => prefix.chars().count() + 1,
        None => offset - line_start + 1,
    };
    (line, column)
}

/// The dotted key whose value is at byte `offset` (e.g. `server.max_recipients`), read from the
/// text: the key before `=` on that line, under the nearest `[table]` or `[[array]]` header
/// above. toml's errors carry the key path but neither toml 0.8 nor 1.x exposes it. `None` when
/// the offset is not in a `key = value` line (a header, or a multi-line array's continuation).
pub(crate) fn key_at(text: &str, offset: usize) -> Option<String> {
    let offset = offset.min(text.len());
    let line_start = text.get(..offset)?.rfind('\n').map_or(0, |nl| nl + 1);
    let (key, _) = text.get(line_start..offset)?.split_once('=')?;
    let key = dotted(key)?;
    let table = text[..line_start]
        .lines()
        .rev()
        .find_map(table_header)
        .unwrap_or_default();
    Some(if table.is_empty() {
        key
    } else {
        format!("{table}.{key}")
    })
}

/// The table name of a `[a.b]` or `[[a.b]]` line.
fn table_header(line: &str) -> Option<String> {
    let line = line.trim();
    let line = match line.split_once('#') {
        Some((before, _)) if !before.contains(['"', '\'']) => before.trim_end(),
        _ => line,
    };
    let inner = line
        .strip_prefix("[[")
        .and_then(|l| l.strip_suffix("]]"))
        .or_else(|| line.strip_prefix('[').and_then(|l| l.strip_suffix(']')))?;
    dotted(inner)
}

/// A key as written (`a . "b"`) in its plain dotted form (`a.b`); `None` if it is not a key.
fn dotted(key: &str) -> Option<String> {
    let parts: Vec<&str> = key
        .split('.')
        .map(|part| part.trim().trim_matches(['"', '\'']))
        .collect();
    let bare = |p: &&str| {
        !p.is_empty()
            && p.chars()
                .all(|c| c.is_alphanumeric() || matches!(c, '-' | '_' | ' ' | '/' | '+' | '@'))
    };
    parts.iter().all(bare).then(|| parts.join("."))
}

#[cfg(test)]
mod tests {
    use super::*;

    const TEXT: &str = "top = 1\n[server]\nmax_recipients = \"many\"\n# [not] a header\n\
        [[category]] # billing\nname = \"billing\"\npatterns = [\n  \"a\",\n  5,\n]\n\
        [server.tls]\n\"cert\" = 5\nclé = 3\n";

    fn at(needle: &str) -> usize {
        TEXT.find(needle).expect(needle)
    }

    #[test]
    fn names_the_key_under_its_table() {
        let table = [
            ("1\n", Some("top")),
            ("\"many\"", Some("server.max_recipients")),
            ("\"billing\"", Some("category.name")),
            ("5,", None),
            ("5\nclé", Some("server.tls.cert")),
            ("3\n", Some("server.tls.clé")),
            ("[[category]]", None),
        ];
        for (needle, expected) in table {
            assert_eq!(key_at(TEXT, at(needle)).as_deref(), expected, "{needle:?}");
        }
    }

    #[test]
    fn one_line_gives_line_and_column() {
        let message = one_line(
            "invalid type\nexpected u32\n",
            Some(at("\"many\"")..0),
            TEXT,
        );
        assert_eq!(message, "line 3, column 18: invalid type expected u32");
        assert_eq!(one_line("oops", None, TEXT), "oops");
        // Columns count characters, not bytes.
        assert_eq!(position(TEXT, at("3\n")), (13, 7));
        assert_eq!(position("", 5), (1, 1));
    }
}
