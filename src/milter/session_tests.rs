use super::*;
use std::time::Duration;

fn limits() -> MilterLimits {
    MilterLimits {
        max_frame: 1 << 20,
        max_message_size: 1000,
        max_header_size: 200,
        max_header_count: 5,
        max_recipients: 3,
        max_macros: 8,
        max_connections: 1,
        idle_timeout: Duration::from_secs(1),
        shutdown_grace: Duration::from_secs(1),
    }
}

fn support(rcpt: &str) -> bool {
    rcpt.starts_with("support")
}

/// A session negotiated as Postfix does (everything offered).
fn negotiated() -> Session {
    let mut session = Session::new("s1".into(), limits());
    let step = session.on_command(
        Command::Negotiate {
            version: 6,
            actions: 0x1ff,
            protocol: 0x1f_ffff,
        },
        &support,
    );
    assert_eq!(
        step,
        Step::Reply(vec![Response::Negotiate {
            version: 6,
            actions: ACTIONS,
            protocol: PROTOCOL
        }])
    );
    session
}

fn run(session: &mut Session, commands: Vec<Command>) -> Vec<Step> {
    commands
        .into_iter()
        .map(|c| session.on_command(c, &support))
        .collect()
}

fn header(name: &str, value: &str) -> Command {
    Command::Header {
        name: name.into(),
        value: value.into(),
    }
}

fn envelope(rcpts: &[&str]) -> Vec<Command> {
    let mut commands = vec![
        Command::Macros {
            stage: b'C',
            pairs: vec![("j".into(), "mx.vendor.example".into())],
        },
        Command::Connect {
            hostname: "client.example".into(),
            address: ClientAddress::Inet("192.0.2.7:4000".parse().unwrap()),
        },
        Command::Helo("client.example".into()),
        Command::Mail(vec!["<alice@acme.example>".into()]),
    ];
    for rcpt in rcpts {
        commands.push(Command::Recipient(vec![format!("<{rcpt}>")]));
    }
    commands
}

#[test]
fn the_message_of_a_support_recipient_is_rebuilt_byte_for_byte() {
    let mut session = negotiated();
    let mut commands = envelope(&["support@v.example", "sales@v.example"]);
    commands.extend([
        Command::Macros {
            stage: b'E',
            pairs: vec![("i".into(), "4AbC12".into())],
        },
        header("Subject", " hello\n\tworld"),
        header("From", "<alice@acme.example>"),
        Command::EndOfHeaders,
        Command::Body(b"line 1\r\n".to_vec()),
        Command::EndOfMessage(b"line 2\r\n".to_vec()),
    ]);
    let steps = run(&mut session, commands);
    // No replies before the end of the headers (all "no reply" steps), Continue there.
    assert!(steps[..9].iter().all(|s| *s == Step::Reply(Vec::new())));
    assert_eq!(steps[9], Step::Reply(vec![Response::Continue]));
    assert_eq!(steps[10], Step::Reply(Vec::new()));
    let Step::Decide(message) = &steps[11] else {
        panic!("{:?}", steps[11]);
    };
    assert_eq!(
        String::from_utf8_lossy(&message.bytes),
        "Subject: hello\r\n\tworld\r\nFrom:<alice@acme.example>\r\n\r\nline 1\r\nline 2\r\n"
    );
    assert_eq!(message.mail_from.as_deref(), Some("alice@acme.example"));
    assert_eq!(
        message.recipients[1],
        (
            "<sales@v.example>".to_string(),
            "sales@v.example".to_string()
        )
    );
    assert_eq!(message.mta_queue_id.as_deref(), Some("4AbC12"));
    assert_eq!(message.mta_hostname.as_deref(), Some("mx.vendor.example"));
    assert_eq!(
        message.client,
        ClientAddress::Inet("192.0.2.7:4000".parse().unwrap())
    );
    assert_eq!(message.helo.as_deref(), Some("client.example"));
    assert!(!session.in_message());
}

#[test]
fn mail_for_others_only_is_accepted_at_the_end_of_the_headers() {
    let mut session = negotiated();
    let mut commands = envelope(&["sales@v.example"]);
    commands.extend([header("Subject", " hi"), Command::EndOfHeaders]);
    let steps = run(&mut session, commands);
    assert_eq!(steps.last(), Some(&Step::Reply(vec![Response::Accept])));
    assert!(!session.in_message());
}

#[test]
fn limits_refuse_at_the_end_of_the_message() {
    let reply_code = |step: &Step| match step {
        Step::Reply(r) => match r.as_slice() {
            [Response::ReplyCode(text)] => text[..3].to_string(),
            other => panic!("{other:?}"),
        },
        other => panic!("{other:?}"),
    };
    let mut session = negotiated();
    let mut commands = envelope(&["support@v.example"]);
    commands.extend([
        Command::EndOfHeaders,
        Command::Body(vec![b'x'; 1500]),
        Command::EndOfMessage(Vec::new()),
    ]);
    let steps = run(&mut session, commands);
    assert_eq!(reply_code(steps.last().unwrap()), "552");

    let mut commands = envelope(&["support@v.example"]);
    for i in 0..6 {
        commands.push(header("X-Many", &format!(" {i}")));
    }
    commands.extend([Command::EndOfHeaders, Command::EndOfMessage(Vec::new())]);
    let steps = run(&mut session, commands);
    assert_eq!(reply_code(steps.last().unwrap()), "552");

    // A fourth recipient is one we did not look at: never let through.
    let commands = envelope(&["a@x", "b@x", "c@x", "d@x"])
        .into_iter()
        .chain([Command::EndOfHeaders, Command::EndOfMessage(Vec::new())])
        .collect();
    let steps = run(&mut session, commands);
    assert_eq!(reply_code(steps.last().unwrap()), "452");
}

#[test]
fn protocol_errors_close_and_abort_forgets_the_message() {
    let mut session = Session::new("s1".into(), limits());
    assert!(matches!(
        session.on_command(Command::Helo("x".into()), &support),
        Step::Close(Some(_))
    ));
    let mut session = Session::new("s1".into(), limits());
    assert!(matches!(
        session.on_command(
            Command::Negotiate {
                version: 2,
                actions: 0x1ff,
                protocol: 0x7f
            },
            &support
        ),
        Step::Close(Some(_))
    ));
    let mut session = negotiated();
    assert!(matches!(
        session.on_command(Command::Recipient(vec!["<a@b>".into()]), &support),
        Step::Close(Some(_))
    ));
    let mut session = negotiated();
    run(&mut session, envelope(&["support@v.example"]));
    assert!(session.in_message());
    run(&mut session, vec![Command::Abort]);
    assert!(!session.in_message());
    assert_eq!(
        session.on_command(Command::Quit, &support),
        Step::Close(None)
    );
}

#[test]
fn without_the_no_reply_steps_each_step_is_answered() {
    let mut session = Session::new("s1".into(), limits());
    session.on_command(
        Command::Negotiate {
            version: 6,
            actions: 0x1ff,
            protocol: 0,
        },
        &support,
    );
    let steps = run(&mut session, envelope(&["support@v.example"]));
    assert_eq!(steps[1], Step::Reply(vec![Response::Continue]));
    // Header values without their leading space: rebuilt with one.
    let steps = run(
        &mut session,
        vec![
            header("Subject", "hi"),
            Command::EndOfHeaders,
            Command::EndOfMessage(Vec::new()),
        ],
    );
    let Step::Decide(message) = &steps[2] else {
        panic!("{steps:?}");
    };
    assert_eq!(
        String::from_utf8_lossy(&message.bytes),
        "Subject: hi\r\n\r\n"
    );
    assert_eq!(message.headers[0].1, " hi");
}
