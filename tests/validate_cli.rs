//! `aim validate` as a person and a script meet it: the folder a file lies in stands for an
//! inbox only when it is a partner's, problems one per line like a compiler's, the ack XML for
//! scripts, folders refused, and a `--help` that describes everything.
#![allow(
    clippy::unwrap_used,
    clippy::too_many_lines,
    clippy::cast_possible_truncation,
    clippy::cast_sign_loss,
    clippy::cast_possible_wrap
)] // Test code: a panic is the failure report, a scenario reads top to bottom.

mod common;

use assert_cmd::Command;
use common::{FILING_DAY, read_ack, samples_dir};
use std::path::{Path, PathBuf};

fn aim() -> Command {
    let mut c = Command::cargo_bin("aim").expect("the aim binary");
    // Run where no config/aim.toml exists, so the built-in defaults apply.
    c.current_dir(std::env::temp_dir());
    c
}

struct Run {
    code: Option<i32>,
    stdout: String,
    stderr: String,
}

fn validate(args: &[&std::ffi::OsStr]) -> Run {
    let out = aim()
        .args(["validate", "--today", FILING_DAY])
        .args(args)
        .output()
        .expect("run aim validate");
    Run {
        code: out.status.code(),
        stdout: String::from_utf8(out.stdout).expect("UTF-8 stdout"),
        stderr: String::from_utf8(out.stderr).expect("UTF-8 stderr"),
    }
}

fn sample(name: &str) -> PathBuf {
    samples_dir().join("ACMEBRK").join(name)
}

/// `dir/<folder>/<name>` holding the sample `sample`.
fn copy_into(dir: &Path, folder: &str, name: &str, sample_name: &str) -> PathBuf {
    let d = dir.join(folder);
    std::fs::create_dir_all(&d).unwrap();
    let p = d.join(name);
    std::fs::copy(sample(sample_name), &p).unwrap();
    p
}

#[test]
fn a_folder_that_is_no_partner_stands_for_no_inbox() {
    let tmp = tempfile::tempdir().unwrap();
    // ~/work/mine.xml naming sender ACMEBRK.
    let mine = copy_into(tmp.path(), "work", "mine.xml", "valid-single.xml");
    let r = validate(&[mine.as_os_str(), "--format".as_ref(), "xml".as_ref()]);
    assert_eq!(r.code, Some(0), "{}", r.stderr);
    let ack = read_ack(r.stdout.as_bytes());
    assert_eq!(ack.status, "accepted");
    assert!(ack.file_codes.is_empty());
    assert!(
        r.stderr.contains(
            "folder \"work\" is not a registered partner's id, so it stands for no inbox: F004"
        ) && r.stderr.contains("not checked"),
        "{}",
        r.stderr
    );
    // Two files of the same folder: the note once.
    let other = copy_into(tmp.path(), "work", "other.xml", "valid-secondary-only.xml");
    let r = validate(&[
        mine.as_os_str(),
        other.as_os_str(),
        "--format".as_ref(),
        "text".as_ref(),
    ]);
    assert_eq!(r.code, Some(0), "{}", r.stderr);
    assert_eq!(
        r.stderr.matches("stands for no inbox").count(),
        1,
        "{}",
        r.stderr
    );
    // --sender stands for the inbox: F004 is checked, and there is no note.
    let r = validate(&[mine.as_os_str(), "--sender".as_ref(), "DEMO".as_ref()]);
    assert_eq!(r.code, Some(1));
    assert_eq!(read_ack(r.stdout.as_bytes()).file_codes, ["F004"]);
    assert!(!r.stderr.contains("stands for no inbox"), "{}", r.stderr);
    // A partner's folder is that partner's inbox: F004 when another partner's file is in it.
    let demo = copy_into(tmp.path(), "DEMO", "x.xml", "valid-single.xml");
    let r = validate(&[demo.as_os_str()]);
    assert_eq!(r.code, Some(1));
    assert_eq!(read_ack(r.stdout.as_bytes()).file_codes, ["F004"]);
    assert!(!r.stderr.contains("stands for no inbox"), "{}", r.stderr);
    let acme = copy_into(tmp.path(), "ACMEBRK", "x.xml", "valid-single.xml");
    let r = validate(&[acme.as_os_str()]);
    assert_eq!(r.code, Some(0));
    assert_eq!(
        r.stderr,
        format!(
            "{}: accepted — 1 application, 1 issued, 0 errors, 0 warnings\n",
            acme.display()
        )
    );
    // A relative path in the current folder: its folder's name counts.
    let out = aim()
        .current_dir(tmp.path().join("work"))
        .args(["validate", "--today", FILING_DAY, "mine.xml"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(0));
    assert!(String::from_utf8_lossy(&out.stderr).contains("folder \"work\""));
    // An unregistered sender is still F003.
    let text = std::fs::read_to_string(&mine)
        .unwrap()
        .replace("<SenderId>ACMEBRK<", "<SenderId>NOBODY<");
    let nobody = tmp.path().join("work/nobody.xml");
    std::fs::write(&nobody, text).unwrap();
    let r = validate(&[nobody.as_os_str()]);
    assert_eq!(read_ack(r.stdout.as_bytes()).file_codes, ["F003"]);
}

#[test]
fn text_reports_one_line_per_problem_and_a_summary() {
    let partial = sample("partial-two-apps.xml");
    let notes = sample("notes.txt");
    let single = sample("valid-single.xml");
    let r = validate(&[
        "--format".as_ref(),
        "text".as_ref(),
        partial.as_os_str(),
        notes.as_os_str(),
        single.as_os_str(),
    ]);
    assert_eq!(r.code, Some(1), "{}", r.stderr);
    assert!(!r.stdout.contains("<LicenseAck"), "{}", r.stdout);
    let (p, n, s) = (
        partial.display().to_string(),
        notes.display().to_string(),
        single.display().to_string(),
    );
    let lines: Vec<&str> = r.stdout.lines().collect();
    assert_eq!(
        lines,
        [
            format!(
                "{p}:61:12: A301 HTS 7208.10.1500 is not an aluminum product covered by AIM (Application[A2]/Product[1]/Hts)"
            ),
            format!("{p}: partial — 2 applications, 1 issued, 1 rejected, 1 error, 0 warnings"),
            format!(
                "{n}: F011 file name \"notes.txt\" does not end in .xml; only .xml files are filings"
            ),
            format!("{n}: rejected — 0 applications, 1 error, 0 warnings"),
            format!("{s}: accepted — 1 application, 1 issued, 0 errors, 0 warnings"),
        ],
        "{}",
        r.stdout
    );
    // Warnings are problems too; a file-level error with a position has its path.
    let warn = sample("valid-informal-warning.xml");
    let r = validate(&["--format".as_ref(), "text".as_ref(), warn.as_os_str()]);
    assert_eq!(r.code, Some(0));
    let w = warn.display().to_string();
    assert!(
        r.stdout.lines().any(|l| l.starts_with(&format!("{w}:"))
            && l.contains(": W301 ")
            && l.ends_with("(Application[A1])")),
        "{}",
        r.stdout
    );
    assert!(
        r.stdout.ends_with(&format!(
            "{w}: accepted — 1 application, 1 issued, 0 errors, 1 warning\n"
        )),
        "{}",
        r.stdout
    );
    let r = validate(&[
        "--format".as_ref(),
        "text".as_ref(),
        "--sender".as_ref(),
        "DEMO".as_ref(),
        single.as_os_str(),
    ]);
    assert!(
        r.stdout.starts_with(&format!("{s}:4:15: F004 "))
            && r.stdout.contains("(Interchange/SenderId)\n"),
        "{}",
        r.stdout
    );
}

#[test]
fn xml_puts_the_ack_on_stdout_and_the_report_on_stderr() {
    let partial = sample("partial-two-apps.xml");
    let p = partial.display().to_string();
    // Explicitly, and by default when stdout is not a terminal (a script's pipe).
    for args in [&["--format", "xml"][..], &[]] {
        let mut all: Vec<&std::ffi::OsStr> = args.iter().map(|a| a.as_ref()).collect();
        all.push(partial.as_os_str());
        let r = validate(&all);
        assert_eq!(r.code, Some(1));
        let ack = read_ack(r.stdout.as_bytes());
        assert_eq!(ack.status, "partial");
        assert!(
            r.stderr.contains(&format!("{p}:61:12: A301 ")),
            "{}",
            r.stderr
        );
        assert!(
            r.stderr.contains(&format!(
                "{p}: partial — 2 applications, 1 issued, 1 rejected, 1 error, 0 warnings"
            )),
            "{}",
            r.stderr
        );
    }
}

#[test]
fn a_terminal_gets_text_by_default() {
    // `script` gives the command a terminal as stdout.
    let partial = sample("partial-two-apps.xml");
    let cmd = format!(
        "{} validate --today {FILING_DAY} '{}'",
        env!("CARGO_BIN_EXE_aim"),
        partial.display()
    );
    let out = std::process::Command::new("script")
        .args(["-q", "-e", "-c", &cmd, "/dev/null"])
        .current_dir(std::env::temp_dir())
        .output()
        .expect("the script command (util-linux) gives the test a terminal");
    let text = String::from_utf8_lossy(&out.stdout);
    assert_eq!(out.status.code(), Some(1), "{text}");
    assert!(!text.contains("<LicenseAck"), "{text}");
    assert!(
        text.contains(&format!(
            "{}: partial — 2 applications, 1 issued, 1 rejected, 1 error, 0 warnings",
            partial.display()
        )),
        "{text}"
    );
}

#[test]
fn out_writes_acks_and_prints_the_report() {
    let tmp = tempfile::tempdir().unwrap();
    let acks = tmp.path().join("acks");
    let partial = sample("partial-two-apps.xml");
    for format in ["xml", "text"] {
        let r = validate(&[
            "--format".as_ref(),
            format.as_ref(),
            "--out".as_ref(),
            acks.as_os_str(),
            partial.as_os_str(),
        ]);
        assert_eq!(r.code, Some(1));
        assert!(!r.stdout.contains("<LicenseAck"), "{}", r.stdout);
        assert!(
            r.stdout.ends_with(&format!(
                "{}: partial — 2 applications, 1 issued, 1 rejected, 1 error, 0 warnings\n",
                partial.display()
            )),
            "{format}: {}",
            r.stdout
        );
        assert_eq!(r.stderr, "", "{format}");
        let ack = read_ack(&std::fs::read(acks.join("partial-two-apps.ack.xml")).unwrap());
        assert_eq!(ack.status, "partial");
    }
}

#[test]
fn a_folder_is_not_a_filing() {
    let tmp = tempfile::tempdir().unwrap();
    let inbox = tmp.path().join("ACMEBRK");
    let single = copy_into(tmp.path(), "ACMEBRK", "x.xml", "valid-single.xml");
    for format in ["xml", "text"] {
        let r = validate(&[
            "--format".as_ref(),
            format.as_ref(),
            single.as_os_str(),
            inbox.as_os_str(),
        ]);
        assert_eq!(r.code, Some(2), "{format}");
        assert_eq!(r.stdout, "", "{format}: no ack at all, F012 least of all");
        assert!(
            r.stderr.contains(&format!(
                "aim: {} is a folder: pass the filing files in it",
                inbox.display()
            )),
            "{}",
            r.stderr
        );
    }
    // Even with --out: nothing is written.
    let acks = tmp.path().join("acks");
    let r = validate(&["--out".as_ref(), acks.as_os_str(), inbox.as_os_str()]);
    assert_eq!(r.code, Some(2));
    assert!(!acks.exists());
    // A link to a folder is an entry the daemon never follows: F012, as in an inbox.
    let link = tmp.path().join("ACMEBRK/link.xml");
    std::os::unix::fs::symlink(tmp.path().join("acks-elsewhere"), &link).unwrap();
    std::fs::create_dir(tmp.path().join("acks-elsewhere")).unwrap();
    let r = validate(&[link.as_os_str()]);
    assert_eq!(r.code, Some(1));
    assert_eq!(read_ack(r.stdout.as_bytes()).file_codes, ["F012"]);
}

#[test]
fn exit_codes() {
    let single = sample("valid-single.xml");
    let partial = sample("partial-two-apps.xml");
    let missing = sample("no-such-file.xml");
    assert_eq!(validate(&[single.as_os_str()]).code, Some(0));
    assert_eq!(
        validate(&[single.as_os_str(), partial.as_os_str()]).code,
        Some(1)
    );
    let r = validate(&[single.as_os_str(), missing.as_os_str()]);
    assert_eq!(r.code, Some(2));
    assert!(r.stderr.contains("cannot read the file"), "{}", r.stderr);
}

/// The options of a `--help` text, each with the lines that describe it.
fn described_options(help: &str) -> Vec<(String, String)> {
    let mut out: Vec<(String, String)> = Vec::new();
    for line in help.lines() {
        let t = line.trim_start();
        let indent = line.len() - t.len();
        if (t.starts_with("--") || t.starts_with("-h") || t.starts_with('<')) && indent <= 6 {
            // `--out <DIR>  text` (short help) or `--out <DIR>` then indented text (long).
            let (name, rest) = match t.find("  ") {
                Some(i) => (&t[..i], t[i..].trim()),
                None => (t, ""),
            };
            out.push((name.to_owned(), rest.to_owned()));
        } else if let Some(last) = out.last_mut()
            && indent > 6
        {
            last.1.push(' ');
            last.1.push_str(t);
        }
    }
    out
}

fn help(args: &[&str]) -> String {
    let out = aim().args(args).output().unwrap();
    assert_eq!(out.status.code(), Some(0));
    String::from_utf8(out.stdout).unwrap()
}

#[test]
fn help_describes_every_argument_and_option() {
    for (cmd, want) in [
        (
            "validate",
            &[
                "<FILE>...",
                "--config",
                "--today <YYYY-MM-DD>",
                "--sender <ID>",
                "--out <DIR>",
                "--format <FORMAT>",
            ][..],
        ),
        (
            "gen",
            &[
                "--sender <ID>",
                "--count <N>",
                "--apps-per-file <K>",
                "--out <DIR>",
                "--seed <S>",
                "--today <YYYY-MM-DD>",
            ],
        ),
    ] {
        for flag in ["--help", "-h"] {
            let text = help(&[cmd, flag]);
            let opts = described_options(&text);
            for w in want {
                let Some((_, desc)) = opts.iter().find(|(n, _)| n.starts_with(w)) else {
                    panic!("{cmd} {flag}: {w} is not listed:\n{text}");
                };
                assert!(
                    desc.len() > 20,
                    "{cmd} {flag}: {w} is not described:\n{text}"
                );
                assert!(
                    desc.to_lowercase().matches("default:").count() <= 1,
                    "{cmd} {flag}: {w} states its default twice: {desc}"
                );
            }
        }
    }
    // gen --out: its default once, by clap.
    let text = help(&["gen", "--help"]);
    let (_, out) = described_options(&text)
        .into_iter()
        .find(|(n, _)| n.starts_with("--out"))
        .unwrap();
    assert!(out.ends_with("[default: .]"), "{out}");
    // validate --format tells how the default is chosen.
    let text = help(&["validate", "--help"]);
    assert!(text.contains("`text` when stdout is a terminal"), "{text}");
    assert!(
        text.contains("Exit 0 when everything would be accepted"),
        "{text}"
    );
    // `aim` alone: what it does.
    let text = help(&["--help"]);
    assert!(
        text.contains("`aim` alone runs the daemon and the staff console in one process"),
        "{text}"
    );
    assert!(text.contains("<data>/log/aim.log.<day>"), "{text}");
}
