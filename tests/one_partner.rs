//! One partner must never stop the service for the others: hostile and careless files through
//! the real `aim daemon`, each checked against what it may cost everyone else.
//!
//! - a filing that earns 200,000 errors: a bounded ack, a bounded mail, a bounded data folder,
//!   and the other partner's mail still goes out;
//! - a sparse file of many GiB, and one that keeps growing: F006 at once, never hashed whole;
//! - a file renamed in as OpenSSH's sftp-server does a plain SFTP v3 rename (link + unlink):
//!   answered within the settle time;
//! - a file swapped or deleted the moment its ack appears: the archive holds the bytes its ack
//!   names, the newcomer gets its own ack, and nobody waits.
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
use std::fs;
use std::path::Path;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

/// How long another partner's ordinary file may take while a hostile one is in hand: the
/// settle time and the work of one small file, with room for a loaded machine. Far below what
/// the hostile files cost before they were bounded (seconds to minutes).
const OTHERS_BOUND: Duration = Duration::from_secs(6);

/// Drop a valid filing of the other partner and return when its ack appeared.
fn others_filing_is_answered(env: &Env, d: &mut Daemon, control: &str, what: &str) -> Duration {
    let name = format!("other-{control}.xml");
    let t0 = Instant::now();
    drop_file(
        &env.inbox_of(OTHER),
        &name,
        filing(OTHER, control, &[new_app("A1")]),
    );
    let ack = d.wait_ack(&env.outbox_of(OTHER), &ack_name(&name));
    let took = t0.elapsed();
    assert_eq!(parse_ack(&ack).status, "accepted");
    assert!(
        took < OTHERS_BOUND,
        "{what}: the other partner's file took {took:?} (bound {OTHERS_BOUND:?})"
    );
    took
}

fn dir_bytes(dir: &Path) -> u64 {
    tree_files(dir).iter().map(|(_, b)| b.len() as u64).sum()
}

/// The `Error` elements of the application `id` of an ack: (code, message).
fn app_errors(ack: &[u8], id: &str) -> Vec<(String, String)> {
    let root = ack_root(ack);
    let app = root
        .all("Application")
        .find(|a| a.attr("id") == Some(id))
        .expect("application in the ack");
    app.all("Error")
        .map(|e| (e.attr("code").unwrap_or("").to_owned(), e.text.clone()))
        .collect()
}

/// Item 1: 200,000 unknown empty elements in one application (0.8 MB).
#[test]
fn a_filing_of_200000_errors_gets_a_bounded_ack_and_mail_and_others_mail_goes_out() {
    let env = Env::new();
    let mut d = env.start_ready();
    let app = new_app("A1").replacen(
        "    <EntryType>",
        &format!("{}    <EntryType>", "<X/>".repeat(200_000)),
        1,
    );
    let doc = filing(ACME, "4242", &[app, new_app("A2")]);
    assert!(doc.len() > 800_000);
    let data_before = dir_bytes(&env.data);
    drop_file(&env.inbox_of(ACME), "errors.xml", &doc);
    let ack = d.wait_ack(&env.outbox_of(ACME), "errors.ack.xml");
    assert!(
        ack.len() < 64 * 1024,
        "the ack of 200,000 errors has {} bytes",
        ack.len()
    );
    let a = parse_ack(&ack);
    assert_eq!(a.status, "partial");
    assert_eq!(a.app("A2").status, "issued");
    let errs = app_errors(&ack, "A1");
    // 100 listed in full, then one closing error that counts the rest.
    assert_eq!(errs.len(), 101, "{errs:?}");
    assert!(errs.iter().all(|(c, _)| c == "A101"));
    let (_, last) = errs.last().expect("closing error");
    assert!(
        last.contains("and 199899 more errors in this application, not listed"),
        "{last}"
    );
    // The other partner is answered and mailed as usual, at once.
    others_filing_is_answered(&env, &mut d, "77", "after 200,000 errors");
    let mails = d.wait_for("both mails", Duration::from_secs(20), || {
        let m = env.mails();
        let theirs = m.iter().find(|t| t.contains("control number 77 "))?.clone();
        let ours = m
            .iter()
            .find(|t| t.contains("control number 4242 "))?
            .clone();
        Some((ours, theirs))
    });
    let (ours, _) = mails;
    assert!(ours.len() < 256 * 1024, "mail of {} bytes", ours.len());
    // The body: CRLF line ends only, and a bounded summary that says what it left out.
    assert!(!ours.replace("\r\n", "").contains('\n'));
    assert!(
        ours.contains("... and 81 more: see the attached acknowledgement"),
        "{}",
        &ours[..ours.len().min(4000)]
    );
    let grew = dir_bytes(&env.data).saturating_sub(data_before);
    assert!(
        grew < 16 * 1024 * 1024,
        "the data folder grew by {grew} bytes for one file"
    );
    // SIGTERM is obeyed at once.
    d.signal(rustix::process::Signal::TERM);
    assert!(d.wait_exit(Duration::from_secs(10)).success());
}

/// Item 2: a sparse file of 16 GiB is answered F006 without being read, and the other
/// partner's file behind it is not held up.
#[test]
fn a_huge_sparse_file_is_f006_at_once_and_holds_nobody_up() {
    let env = Env::new();
    let mut d = env.start_ready();
    let inbox = env.inbox_of(ACME);
    let tmp = inbox.join(".sparse.tmp");
    let f = fs::File::create(&tmp).expect("create");
    f.set_len(16 << 30).expect("sparse length");
    drop(f);
    let t0 = Instant::now();
    fs::rename(&tmp, inbox.join("sparse.xml")).expect("rename in");
    others_filing_is_answered(&env, &mut d, "78", "behind a 16 GiB sparse file");
    let ack = d.wait_ack(&env.outbox_of(ACME), "sparse.ack.xml");
    assert!(t0.elapsed() < OTHERS_BOUND, "took {:?}", t0.elapsed());
    assert_eq!(parse_ack(&ack).file_codes, ["F006"]);
    let text = String::from_utf8_lossy(&ack).into_owned();
    assert!(text.contains("17179869184 bytes"), "{text}");
}

/// Item 2: a file that keeps growing (sparse, faster than any disk reads) while it is read.
#[test]
fn a_file_that_keeps_growing_is_f006_and_holds_nobody_up() {
    let env = Env::new();
    let mut d = env.start_ready();
    let inbox = env.inbox_of(ACME);
    let path = inbox.join("grow.xml");
    let first = fs::File::create(&path).expect("create");
    first.set_len(4096).expect("length");
    // A second handle that stays open after the first is closed (an SFTP client may hold two).
    let second = fs::OpenOptions::new()
        .write(true)
        .open(&path)
        .expect("second handle");
    let stop = Arc::new(AtomicBool::new(false));
    let grower = {
        let stop = Arc::clone(&stop);
        std::thread::spawn(move || {
            let mut len = 4096u64;
            let until = Instant::now() + Duration::from_secs(20);
            while !stop.load(Ordering::SeqCst) && Instant::now() < until {
                len += 1 << 30;
                if second.set_len(len).is_err() {
                    break;
                }
                std::thread::sleep(Duration::from_millis(20));
            }
        })
    };
    // Already past the limit when it is closed (and still growing while the daemon has it).
    while fs::metadata(&path).map_or(0, |m| m.len()) < 4 << 30 {
        std::thread::sleep(Duration::from_millis(5));
    }
    let t0 = Instant::now();
    drop(first); // closed after writing: ready
    let ack = d.wait_ack(&env.outbox_of(ACME), "grow.ack.xml");
    let took = t0.elapsed();
    others_filing_is_answered(&env, &mut d, "79", "beside a growing file");
    stop.store(true, Ordering::SeqCst);
    grower.join().expect("grower");
    assert!(took < OTHERS_BOUND, "the growing file took {took:?}");
    assert_eq!(parse_ack(&ack).file_codes, ["F006"]);
}

/// Item 3: OpenSSH's sftp-server carries out a plain SFTP v3 rename as link + unlink: no
/// close and no moved-to event names the final file. It is answered within the settle time.
#[test]
fn a_file_linked_in_and_its_old_name_unlinked_is_answered() {
    let env = Env::new();
    let mut d = env.start_ready();
    let inbox = env.inbox_of(ACME);
    for n in 0..5 {
        let part = inbox.join(format!("v3-{n}.xml.part"));
        let name = format!("v3-{n}.xml");
        fs::write(&part, valid_with_control(&format!("{}", 500 + n))).expect("upload");
        let t0 = Instant::now();
        fs::hard_link(&part, inbox.join(&name)).expect("link");
        fs::remove_file(&part).expect("unlink");
        let ack = d.wait_for(&format!("ack of {name}"), Duration::from_secs(8), || {
            fs::read(env.outbox_of(ACME).join(ack_name(&name))).ok()
        });
        assert_eq!(parse_ack(&ack).status, "accepted");
        assert!(
            t0.elapsed() < Duration::from_millis(SETTLE_MS) + OTHERS_BOUND,
            "{name}: {:?}",
            t0.elapsed()
        );
    }
}

/// Item 4: the partner renames a second file over the first the moment the first's ack
/// appears (or deletes it). The archive holds exactly the bytes each ack's Sha256 names, the
/// second file gets its own ack, and nobody is paused.
#[test]
fn a_file_swapped_or_deleted_when_its_ack_appears_changes_nothing_it_should_not() {
    let env = Env::new();
    let mut d = env.start_ready();
    let inbox = env.inbox_of(ACME);
    let outbox = env.outbox_of(ACME);
    for n in 0..6u32 {
        let name = format!("swap-{n}.xml");
        let first = valid_with_control(&format!("{}", 600 + 2 * n));
        let second = valid_with_control(&format!("{}", 601 + 2 * n));
        let staged = inbox.join(format!(".second-{n}.tmp"));
        fs::write(&staged, &second).expect("stage the second file");
        drop_file(&inbox, &name, &first);
        let ack_path = outbox.join(ack_name(&name));
        let deadline = Instant::now() + WAIT;
        while !ack_path.exists() {
            assert!(Instant::now() < deadline, "no ack of {name}");
            std::hint::spin_loop();
        }
        fs::rename(&staged, inbox.join(&name)).expect("swap");
        let ack1 = parse_ack(&fs::read(&ack_path).expect("first ack"));
        assert_eq!(
            ack1.sha256.as_deref(),
            Some(sha256_hex(first.as_bytes()).as_str())
        );
        let second_ack = format!("swap-{n}.2.ack.xml");
        let ack2 = parse_ack(&d.wait_ack(&outbox, &second_ack));
        assert_eq!(
            ack2.sha256.as_deref(),
            Some(sha256_hex(second.as_bytes()).as_str()),
            "try {n}: the second file is answered as itself"
        );
        assert_eq!(ack2.status, "accepted");
    }
    let arch = archived(&env);
    for n in 0..6u32 {
        for c in [600 + 2 * n, 601 + 2 * n] {
            let h = sha256_hex(valid_with_control(&format!("{c}")).as_bytes());
            assert_eq!(arch.get(&h), Some(&1), "control {c} archived once");
        }
    }
    // Deleted the moment its ack appears: logged, never a pause for everyone.
    for n in 0..3u32 {
        let name = format!("gone-{n}.xml");
        drop_file(&inbox, &name, valid_with_control(&format!("{}", 700 + n)));
        let ack_path = outbox.join(ack_name(&name));
        let deadline = Instant::now() + WAIT;
        while !ack_path.exists() {
            assert!(Instant::now() < deadline, "no ack of {name}");
            std::hint::spin_loop();
        }
        let _ = fs::remove_file(inbox.join(&name));
        others_filing_is_answered(&env, &mut d, &format!("{}", 80 + n), "after a deletion");
    }
    assert!(!d.stderr().contains("intake paused"), "{}", d.stderr());
}

/// Item 4, crash safety: a kill after a file was claimed and before it was committed leaves it
/// in the claimed folder without a receipt. At the next start it is judged and answered like a
/// new file, archived once, and the claimed folder is left empty.
#[test]
fn a_file_left_claimed_by_a_kill_is_answered_at_start() {
    let env = Env::new();
    let claimed = env.data.join("claimed").join(ACME);
    fs::create_dir_all(&claimed).expect("claimed folder");
    let x = valid_with_control("909");
    fs::write(claimed.join("left.xml"), &x).expect("a claimed file");
    let mut d = env.start_ready();
    let ack = parse_ack(&d.wait_ack(&env.outbox_of(ACME), "left.ack.xml"));
    assert_eq!(ack.status, "accepted");
    assert_eq!(
        ack.sha256.as_deref(),
        Some(sha256_hex(x.as_bytes()).as_str())
    );
    d.wait_gone(&claimed.join("left.xml"));
    assert_eq!(archived(&env).get(&sha256_hex(x.as_bytes())), Some(&1));
    assert!(fs::read_dir(&claimed).expect("claimed").next().is_none());
}
