//! The language of reply template files: `{{name}}` substitution and one kind of conditional.
//!
//! - `{{name}}` inserts a variable; spaces inside the braces are allowed (`{{ name }}`).
//! - `{{#if notified}} … {{else}} … {{/if}}` keeps one branch; `{{else}}` is optional and blocks
//!   do not nest. A block tag alone on its line takes its line with it, so a conditional
//!   paragraph leaves no blank line behind when it is dropped.
//!
//! Anything else between `{{` and `}}`, an unclosed `{{`, or a block that is not closed is an
//! error found when the file is loaded, with its line number, never when a reply is sent.

use std::fmt::Write as _;

/// A value a template can insert.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Variable {
    AccountName,
    SignInUrl,
    Reason,
    ReasonText,
    OriginalSubject,
    SupportAddress,
    /// The local part of the support address (`support` in `support@vendor.example`).
    SupportLocal,
    /// The domain of the support address.
    SupportDomain,
    Category,
    /// Whom the customers of an inactive account contact (`[replies] billing_contact`).
    BillingContact,
    /// The address that made a P4 request; in the notification and the approval request only.
    Sender,
    /// SPEC §11, in the approval request only: the approve and decline addresses, and the
    /// start of the request's text.
    ApproveAddress,
    DeclineAddress,
    TextStart,
}

impl Variable {
    pub const ALL: [Variable; 14] = [
        Variable::AccountName,
        Variable::SignInUrl,
        Variable::Reason,
        Variable::ReasonText,
        Variable::OriginalSubject,
        Variable::SupportAddress,
        Variable::SupportLocal,
        Variable::SupportDomain,
        Variable::Category,
        Variable::BillingContact,
        Variable::Sender,
        Variable::ApproveAddress,
        Variable::DeclineAddress,
        Variable::TextStart,
    ];

    pub fn name(self) -> &'static str {
        match self {
            Variable::AccountName => "account_name",
            Variable::SignInUrl => "sign_in_url",
            Variable::Reason => "reason",
            Variable::ReasonText => "reason_text",
            Variable::OriginalSubject => "original_subject",
            Variable::SupportAddress => "support_address",
            Variable::SupportLocal => "support_local",
            Variable::SupportDomain => "support_domain",
            Variable::Category => "category",
            Variable::BillingContact => "billing_contact",
            Variable::Sender => "sender",
            Variable::ApproveAddress => "approve_address",
            Variable::DeclineAddress => "decline_address",
            Variable::TextStart => "text_start",
        }
    }
}

/// A yes/no fact a template can test with `{{#if name}}`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Flag {
    /// The owner and admins were notified of a P4 request.
    Notified,
}

impl Flag {
    fn from_name(name: &str) -> Option<Flag> {
        (name == "notified").then_some(Flag::Notified)
    }
}

/// Replies to the sender may not name the sender's own address back (it is the recipient);
/// only the P4 notification and the approval request have `{{sender}}`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TemplateKind {
    Reply,
    Notification,
    /// SPEC §11's request to the owner and admins.
    ApprovalRequest,
}

impl TemplateKind {
    fn allows(self, variable: Variable) -> bool {
        match variable {
            Variable::Sender => self != TemplateKind::Reply,
            Variable::ApproveAddress | Variable::DeclineAddress | Variable::TextStart => {
                self == TemplateKind::ApprovalRequest
            }
            _ => true,
        }
    }

    fn known(self) -> String {
        let names: Vec<_> = Variable::ALL
            .into_iter()
            .filter(|v| self.allows(*v))
            .map(Variable::name)
            .collect();
        names.join(", ")
    }
}

/// The values a template is rendered with. Callers sanitise them; rendering copies them as is.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Values {
    pub account_name: String,
    pub sign_in_url: String,
    pub reason: String,
    pub reason_text: String,
    pub original_subject: String,
    pub support_address: String,
    pub support_local: String,
    pub support_domain: String,
    pub category: String,
    pub billing_contact: String,
    pub sender: String,
    pub approve_address: String,
    pub decline_address: String,
    pub text_start: String,
    pub notified: bool,
}

impl Values {
    fn get(&self, variable: Variable) -> &str {
        match variable {
            Variable::AccountName => &self.account_name,
            Variable::SignInUrl => &self.sign_in_url,
            Variable::Reason => &self.reason,
            Variable::ReasonText => &self.reason_text,
            Variable::OriginalSubject => &self.original_subject,
            Variable::SupportAddress => &self.support_address,
            Variable::SupportLocal => &self.support_local,
            Variable::SupportDomain => &self.support_domain,
            Variable::Category => &self.category,
            Variable::BillingContact => &self.billing_contact,
            Variable::Sender => &self.sender,
            Variable::ApproveAddress => &self.approve_address,
            Variable::DeclineAddress => &self.decline_address,
            Variable::TextStart => &self.text_start,
        }
    }

    fn flag(&self, flag: Flag) -> bool {
        match flag {
            Flag::Notified => self.notified,
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
enum Segment {
    Text(String),
    Insert(Variable),
    Choice {
        flag: Flag,
        then: Vec<Segment>,
        otherwise: Vec<Segment>,
    },
}

/// A parsed, validated template.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Template {
    segments: Vec<Segment>,
}

enum Tag {
    Insert(Variable),
    If(Flag),
    Else,
    EndIf,
}

impl Tag {
    fn parse(tag: &str, kind: TemplateKind) -> Result<Tag, String> {
        if let Some(condition) = tag.strip_prefix("#if") {
            let name = condition.trim();
            return Flag::from_name(name)
                .map(Tag::If)
                .ok_or_else(|| format!("unknown condition {{{{#if {name}}}}}; known: notified"));
        }
        match tag {
            "else" => return Ok(Tag::Else),
            "/if" => return Ok(Tag::EndIf),
            _ => {}
        }
        Variable::ALL
            .into_iter()
            .find(|v| v.name() == tag && kind.allows(*v))
            .map(Tag::Insert)
            .ok_or_else(|| format!("unknown variable {{{{{tag}}}}}; known: {}", kind.known()))
    }
}

/// A conditional being read.
struct Block {
    flag: Flag,
    line: usize,
    then: Vec<Segment>,
    otherwise: Option<Vec<Segment>>,
}

impl Template {
    /// Parses template text (CRLF or LF line endings).
    pub fn parse(text: &str, kind: TemplateKind) -> Result<Template, String> {
        let text = text.replace("\r\n", "\n");
        let mut segments = Vec::new();
        let mut block: Option<Block> = None;
        let mut pos = 0;
        while let Some(found) = text[pos..].find("{{") {
            let open = pos + found;
            let line = text[..open].matches('\n').count() + 1;
            let close = text[open + 2..]
                .find("}}")
                .map(|i| open + 2 + i + 2)
                .ok_or_else(|| format!("line {line}: \"{{{{\" is never closed by \"}}}}\""))?;
            let tag = Tag::parse(text[open + 2..close - 2].trim(), kind)
                .map_err(|e| format!("line {line}: {e}"))?;
            let (text_end, resume) = match tag {
                Tag::Insert(_) => (open, close),
                _ => standalone_line(&text, open, close)
                    .map(|(start, end)| (start.max(pos), end))
                    .unwrap_or((open, close)),
            };
            push_text(target(&mut segments, &mut block), &text[pos..text_end]);
            pos = resume;
            match tag {
                Tag::Insert(v) => target(&mut segments, &mut block).push(Segment::Insert(v)),
                Tag::If(flag) => {
                    if let Some(outer) = &block {
                        return Err(format!(
                            "line {line}: {{{{#if}}}} inside the {{{{#if}}}} of line {}; blocks do not nest",
                            outer.line
                        ));
                    }
                    block = Some(Block {
                        flag,
                        line,
                        then: Vec::new(),
                        otherwise: None,
                    });
                }
                Tag::Else => match &mut block {
                    Some(b) if b.otherwise.is_none() => b.otherwise = Some(Vec::new()),
                    Some(_) => return Err(format!("line {line}: a second {{{{else}}}}")),
                    None => return Err(format!("line {line}: {{{{else}}}} outside {{{{#if}}}}")),
                },
                Tag::EndIf => {
                    let b = block
                        .take()
                        .ok_or_else(|| format!("line {line}: {{{{/if}}}} without {{{{#if}}}}"))?;
                    segments.push(Segment::Choice {
                        flag: b.flag,
                        then: b.then,
                        otherwise: b.otherwise.unwrap_or_default(),
                    });
                }
            }
        }
        if let Some(b) = block {
            return Err(format!(
                "line {}: {{{{#if}}}} is never closed by {{{{/if}}}}",
                b.line
            ));
        }
        push_text(&mut segments, &text[pos..]);
        Ok(Template { segments })
    }

    /// The text with every variable replaced (line endings LF).
    pub fn render(&self, values: &Values) -> String {
        let mut out = String::new();
        render_into(&mut out, &self.segments, values);
        out
    }
}

fn render_into(out: &mut String, segments: &[Segment], values: &Values) {
    for segment in segments {
        match segment {
            Segment::Text(t) => out.push_str(t),
            Segment::Insert(v) => {
                let _ = write!(out, "{}", values.get(*v));
            }
            Segment::Choice {
                flag,
                then,
                otherwise,
            } => {
                let branch = if values.flag(*flag) { then } else { otherwise };
                render_into(out, branch, values);
            }
        }
    }
}

/// Where text goes: inside the open block's current branch, or at top level.
fn target<'a>(
    segments: &'a mut Vec<Segment>,
    block: &'a mut Option<Block>,
) -> &'a mut Vec<Segment> {
    match block {
        Some(Block {
            otherwise: Some(branch),
            ..
        }) => branch,
        Some(b) => &mut b.then,
        None => segments,
    }
}

fn push_text(segments: &mut Vec<Segment>, text: &str) {
    if !text.is_empty() {
        segments.push(Segment::Text(text.to_string()));
    }
}

/// If the tag at `open..close` is alone on its line, the span of that whole line (with its LF).
fn standalone_line(text: &str, open: usize, close: usize) -> Option<(usize, usize)> {
    let start = text[..open].rfind('\n').map_or(0, |i| i + 1);
    let end = text[close..]
        .find('\n')
        .map_or(text.len(), |i| close + i + 1);
    let blank = |s: &str| s.chars().all(|c| c == ' ' || c == '\t' || c == '\n');
    (blank(&text[start..open]) && blank(&text[close..end])).then_some((start, end))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn values() -> Values {
        Values {
            account_name: "Acme SAS".into(),
            sign_in_url: "https://acme.vendor.example".into(),
            reason: "not-registered".into(),
            sender: "bob@acme.example".into(),
            ..Values::default()
        }
    }

    fn render(text: &str, values: &Values) -> String {
        Template::parse(text, TemplateKind::Notification)
            .unwrap()
            .render(values)
    }

    #[test]
    fn substitutes_variables_with_or_without_inner_spaces() {
        let text = "Account {{account_name}}, sign in at {{ sign_in_url }} ({{reason}}).";
        assert_eq!(
            render(text, &values()),
            "Account Acme SAS, sign in at https://acme.vendor.example (not-registered)."
        );
    }

    #[test]
    fn a_value_that_looks_like_a_tag_is_not_expanded_again() {
        let v = Values {
            account_name: "{{sender}}".into(),
            ..values()
        };
        assert_eq!(render("{{account_name}}", &v), "{{sender}}");
    }

    #[test]
    fn conditional_keeps_one_branch_and_standalone_tags_take_their_line() {
        let text = "A\n{{#if notified}}\nWe told them.\n{{else}}\nNobody was told.\n{{/if}}\nB\n";
        let mut v = values();
        v.notified = true;
        assert_eq!(render(text, &v), "A\nWe told them.\nB\n");
        v.notified = false;
        assert_eq!(render(text, &v), "A\nNobody was told.\nB\n");
    }

    #[test]
    fn inline_conditional_without_else() {
        let text = "Done.{{#if notified}} They know.{{/if}} End.";
        let mut v = values();
        assert_eq!(render(text, &v), "Done. End.");
        v.notified = true;
        assert_eq!(render(text, &v), "Done. They know. End.");
    }

    #[test]
    fn errors_name_the_line_and_the_problem() {
        let cases = [
            ("a\n{{nope}}", "line 2: unknown variable {{nope}}"),
            (
                "{{#if owner}}x{{/if}}",
                "line 1: unknown condition {{#if owner}}",
            ),
            ("{{account_name", "line 1: \"{{\" is never closed"),
            ("{{#if notified}}\nx", "line 1: {{#if}} is never closed"),
            ("x{{/if}}", "line 1: {{/if}} without {{#if}}"),
            ("{{else}}", "line 1: {{else}} outside {{#if}}"),
            (
                "{{#if notified}}{{#if notified}}{{/if}}{{/if}}",
                "blocks do not nest",
            ),
            (
                "{{#if notified}}{{else}}{{else}}{{/if}}",
                "a second {{else}}",
            ),
        ];
        for (text, expected) in cases {
            let err = Template::parse(text, TemplateKind::Notification).unwrap_err();
            assert!(err.contains(expected), "{text:?}: {err}");
        }
    }

    #[test]
    fn sender_is_only_known_to_the_notification() {
        let err = Template::parse("{{sender}}", TemplateKind::Reply).unwrap_err();
        assert!(err.contains("unknown variable {{sender}}"), "{err}");
        assert!(
            !err.contains("sender,") && !err.ends_with("sender"),
            "{err}"
        );
        assert!(Template::parse("{{sender}}", TemplateKind::Notification).is_ok());
    }

    #[test]
    fn crlf_files_render_with_lf() {
        assert_eq!(
            render("a\r\n{{reason}}\r\n", &values()),
            "a\nnot-registered\n"
        );
    }
}
