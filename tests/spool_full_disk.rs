//! Black-box, real fault (issue 6): the spool on a 2 MB tmpfs fills up. The client gets
//! `452 4.3.1`, no partial file is left, every file in the spool is whole, and once space is
//! back (the upstream returns and the spool drains) mail is accepted again. Needs root (or
//! CAP_SYS_ADMIN) to mount; skipped with a message otherwise.

mod gateway_support;

use gateway_support::sink::{closed_port, Answer, Sink};
use gateway_support::{message, poll, spooled_in, Gateway, Options};
use std::path::{Path, PathBuf};
use std::process::Command;

const ACME: &str = "support+acme@vendor.example";

/// A tmpfs mounted for the test; unmounted on drop, even when the test fails.
struct Tmpfs(PathBuf);

impl Tmpfs {
    fn mount(at: &Path, size: &str) -> Option<Tmpfs> {
        std::fs::create_dir_all(at).ok()?;
        let status = Command::new("mount")
            .args(["-t", "tmpfs", "-o", &format!("size={size}"), "tmpfs"])
            .arg(at)
            .stderr(std::process::Stdio::null())
            .status()
            .ok()?;
        status.success().then(|| Tmpfs(at.to_path_buf()))
    }
}

impl Drop for Tmpfs {
    fn drop(&mut self) {
        let _ = Command::new("umount").arg("-l").arg(&self.0).status();
    }
}

fn files(dir: &Path) -> Vec<String> {
    let mut names: Vec<String> = std::fs::read_dir(dir)
        .map(|d| {
            d.filter_map(Result::ok)
                .map(|e| e.file_name().to_string_lossy().into_owned())
                .collect()
        })
        .unwrap_or_default();
    names.sort();
    names
}

fn big_message(n: usize) -> Vec<u8> {
    let line = "0123456789abcdefghijklmnopqrstuvwxyz0123456789abcdefghijklmnopqrstuvwxyz\n";
    message(
        "chloe@acme.example",
        &format!("Big attachment #{n}"),
        &[],
        &line.repeat(4000),
    )
}

#[test]
fn a_full_spool_gives_452_leaves_no_partial_file_and_recovers_when_space_returns() {
    let mount_dir = tempfile::tempdir().unwrap();
    let spool_path = mount_dir.path().join("spool");
    let Some(_tmpfs) = Tmpfs::mount(&spool_path, "2m") else {
        eprintln!("SKIPPED a_full_spool_gives_452...: cannot mount a tmpfs here (needs root or CAP_SYS_ADMIN)");
        return;
    };
    let port = closed_port();
    let gw = Gateway::start(Options {
        queue: Some(format!("smtp://127.0.0.1:{port}")),
        spool: true,
        spool_path: Some(spool_path.clone()),
        ..Options::default()
    });
    let mut accepted = 0;
    let mut full_reply = None;
    for n in 0..20 {
        let reply = gw.send("chloe@acme.example", &[ACME], &big_message(n));
        if reply.starts_with("250 ") {
            accepted += 1;
        } else {
            full_reply = Some(reply);
            break;
        }
    }
    let full_reply = full_reply.unwrap_or_else(|| panic!("a 2 MB spool never filled up"));
    assert!(full_reply.starts_with("452 4.3.1 "), "{full_reply}");
    assert!(
        accepted >= 1,
        "the spool took nothing at all:\n{}",
        gw.log()
    );
    assert!(
        files(&spool_path.join("tmp")).is_empty(),
        "partial file left: {:?}",
        files(&spool_path.join("tmp"))
    );
    assert_eq!(spooled_in(&spool_path).len(), accepted);
    let listed = gw.cli(&["queue", "list", "--json"]);
    assert!(listed.status.success(), "{listed:?}");
    assert_eq!(
        String::from_utf8_lossy(&listed.stdout).lines().count(),
        accepted,
        "every spooled file whole"
    );
    assert!(gw.log().contains("spool not writable"), "{}", gw.log());

    // Space comes back: the upstream returns, the spool drains, mail is accepted again.
    let sink = Sink::start_on(port, Answer::Accept);
    sink.wait_for(accepted);
    poll(|| spooled_in(&spool_path).is_empty().then_some(()))
        .unwrap_or_else(|| panic!("spool not drained:\n{}", gw.log()));
    let reply = gw.send("chloe@acme.example", &[ACME], &big_message(99));
    assert!(reply.starts_with("250 "), "{reply}\n{}", gw.log());
    sink.wait_for(accepted + 1);
}
