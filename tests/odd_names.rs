//! Spec section 1, ack names, through the real `aim daemon`: however odd a partner's file name
//! (control characters, 255 bytes, not UTF-8), the file gets exactly one ack under the name the
//! rule gives, its bytes reach the archive, and no raw control character reaches a log line.
#![allow(
    clippy::unwrap_used,
    clippy::too_many_lines,
    clippy::cast_possible_truncation,
    clippy::cast_sign_loss,
    clippy::cast_possible_wrap
)] // Test code: a panic is the failure report, a scenario reads top to bottom.

mod common;
mod daemon_harness;

use daemon_harness::*;
use std::ffi::OsStr;
use std::fs;
use std::os::unix::ffi::OsStrExt;
use std::time::Duration;

/// Move `bytes` into `dir` under the raw name `name` (written beside the inbox first: the
/// hidden temporary name of `drop_file` would not fit a 255-byte name).
fn drop_raw(env: &Env, dir: &std::path::Path, name: &[u8], bytes: &[u8]) {
    fs::create_dir_all(dir).unwrap();
    let staging = env.dir.path().join("staging.xml");
    fs::write(&staging, bytes).unwrap();
    fs::rename(&staging, dir.join(OsStr::from_bytes(name))).unwrap();
}

/// Characters that must never appear raw in a log line: U+0000–U+001F (the line break that
/// ends each line aside) and U+007F–U+009F.
fn raw_controls(text: &str) -> Vec<(usize, char)> {
    text.lines()
        .enumerate()
        .flat_map(|(n, l)| {
            l.chars()
                .filter(|&c| c < '\u{20}' || ('\u{7f}'..='\u{9f}').contains(&c))
                .map(move |c| (n + 1, c))
        })
        .collect()
}

#[test]
fn odd_file_names_get_exactly_one_ack_each_and_clean_log_lines() {
    let env = Env::new();
    let mut d = env.start_ready();
    let (inbox, outbox) = (env.inbox_of(ACME), env.outbox_of(ACME));

    let long = format!("a{}.xml", "é".repeat(125));
    assert_eq!(long.len(), 255, "the longest name a file system allows");
    // (raw name, expected ack name, control number)
    let cases: Vec<(Vec<u8>, String, &str)> = vec![
        (
            b"line\n\x1b[31mred.xml".to_vec(),
            "line__[31mred.ack.xml".into(),
            "301",
        ),
        (
            long.clone().into_bytes(),
            // 1 + 2×125 stem bytes cut to 240 at a character boundary: 239.
            format!("a{}.ack.xml", "é".repeat(119)),
            "302",
        ),
        // Latin-1 é, and 0x85 (U+0085, a C1 control once read as Latin-1).
        (b"caf\xe9-\x85.xml".to_vec(), "café-_.ack.xml".into(), "303"),
    ];
    let mut contents = Vec::new();
    for (name, _, control) in &cases {
        let bytes = valid_with_control(control).into_bytes();
        drop_raw(&env, &inbox, name, &bytes);
        contents.push(bytes);
    }

    for (name, ack_name, _) in &cases {
        let raw = d.wait_ack(&outbox, ack_name);
        let ack = parse_ack(&raw);
        assert_eq!(
            ack.status,
            "accepted",
            "{:?}: {ack:#?}",
            String::from_utf8_lossy(name)
        );
    }
    d.wait_for("the inbox to empty", WAIT, || {
        entry_names(&inbox).is_empty().then_some(())
    });
    // Give a rescan the chance to pick anything up twice.
    std::thread::sleep(Duration::from_secs(RESCAN_SECS) + Duration::from_millis(500));
    let mut got: Vec<String> = visible_files(&outbox).into_keys().collect();
    got.sort();
    let mut want: Vec<String> = cases.iter().map(|(_, a, _)| a.clone()).collect();
    want.sort();
    assert_eq!(
        got, want,
        "exactly one ack per file, under the rule's names"
    );
    assert!(
        entry_names(&outbox).iter().all(|n| !n.starts_with('.')),
        "no staging file left: {:?}",
        entry_names(&outbox)
    );

    // FileName: the name as text (control characters replaced), Latin-1 read as such.
    let file_name = |ack: &str| {
        parse_ack(&fs::read(outbox.join(ack)).unwrap())
            .file_name
            .unwrap()
    };
    assert_eq!(
        file_name("line__[31mred.ack.xml"),
        "line\u{FFFD}\u{FFFD}[31mred.xml"
    );
    assert_eq!(file_name(&cases[1].1), long);
    assert_eq!(file_name("café-_.ack.xml"), "café-\u{FFFD}.xml");

    let archive = archived(&env);
    for (bytes, (name, ..)) in contents.iter().zip(&cases) {
        assert_eq!(
            archive.get(&sha256_hex(bytes)),
            Some(&1),
            "{:?} is not in the archive exactly once",
            String::from_utf8_lossy(name)
        );
    }

    d.signal(rustix::process::Signal::TERM);
    assert!(d.wait_exit(WAIT).success());
    let logs: Vec<std::path::PathBuf> = fs::read_dir(env.data.join("log"))
        .unwrap()
        .flatten()
        .map(|e| e.path())
        .collect();
    assert!(!logs.is_empty(), "no log file under <data>/log");
    let mut processed = 0;
    for p in &logs {
        let text = fs::read_to_string(p).unwrap();
        processed += text.matches("filing processed").count();
        assert_eq!(raw_controls(&text), [], "{}:\n{text}", p.display());
    }
    assert_eq!(processed, 3, "each file logged once");
    let stderr = d.stderr();
    assert_eq!(raw_controls(&stderr), [], "daemon stderr:\n{stderr}");
}
