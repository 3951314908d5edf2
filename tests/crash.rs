//! The crash test of design.md ("Crash safety: the order of effects"): the real daemon under
//! load, SIGKILLed at random moments many times and restarted, must in the end have given every
//! dropped file exactly one ack, identical bytes the identical ack, never one license twice, and
//! must have left nothing behind in the inbox or half-written in the outbox.
//!
//! The schedule (which files arrive when, and when each kill lands) comes from a seeded RNG; the
//! seed is printed and `AIM_CRASH_SEED=<seed>` replays it.
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
use rand::seq::SliceRandom;
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::fs;
use std::process::Command;
use std::time::{Duration, Instant, SystemTime};

/// How many times the daemon is killed.
const KILLS: usize = 60;
/// `aim gen` runs: (seed, files, applications per file). Files of 1,500 applications are
/// committed in slices (of 1,000), so a kill may land between them.
const GEN: [(u64, usize, usize); 5] = [
    (101, 200, 1),
    (102, 100, 2),
    (103, 100, 3),
    (104, 8, 400),
    (105, 3, 1_500),
];
/// Extra files holding the same bytes as a generated one under another name.
const DUPLICATES: usize = 40;

#[derive(Clone, Debug)]
enum Kind {
    Generated { apps: usize },
    Duplicate,
    Cancel { license: String },
    Correct { license: String },
}

#[derive(Clone, Debug)]
struct Input {
    name: String,
    sha: String,
    kind: Kind,
}

fn seed() -> u64 {
    std::env::var("AIM_CRASH_SEED")
        .ok()
        .and_then(|s| s.trim().parse().ok())
        .unwrap_or_else(|| {
            SystemTime::now()
                .duration_since(SystemTime::UNIX_EPOCH)
                .map(|d| d.as_nanos() as u64)
                .unwrap_or(1)
        })
}

/// Licenses issued by the accepted acks now in the outbox (the acks are durable: their
/// receipts were flushed before they were written).
fn issued_so_far(outbox: &std::path::Path) -> Vec<String> {
    let mut v: Vec<String> = visible_files(outbox)
        .values()
        .flat_map(|b| parse_ack(b).issued())
        .collect();
    v.sort();
    v.dedup();
    v
}

#[test]
fn sigkill_at_random_moments_loses_and_duplicates_nothing() {
    let t0 = Instant::now();
    let seed = seed();
    eprintln!("crash test seed {seed}: AIM_CRASH_SEED={seed} replays this schedule");
    let mut rng = ChaCha8Rng::seed_from_u64(seed);
    let env = Env::new();
    env.add_staff("viewer");
    let (inbox, outbox) = (env.inbox_of(ACME), env.outbox_of(ACME));
    fs::create_dir_all(&inbox).unwrap();
    let staging = env.dir.path().join("staging");
    fs::create_dir_all(&staging).unwrap();

    // The load: generated filings, then duplicates of some of them under other names.
    for (gen_seed, count, apps) in GEN {
        let out = Command::new(aim_bin())
            .args(["gen", "--sender", ACME, "--count"])
            .arg(count.to_string())
            .arg("--apps-per-file")
            .arg(apps.to_string())
            .arg("--seed")
            .arg(gen_seed.to_string())
            .arg("--out")
            .arg(&staging)
            .output()
            .expect("run aim gen");
        assert!(
            out.status.success(),
            "aim gen failed: {}",
            String::from_utf8_lossy(&out.stderr)
        );
    }
    let mut inputs: Vec<Input> = Vec::new();
    for (name, bytes) in visible_files(&staging) {
        let apps = String::from_utf8_lossy(&bytes)
            .matches("<Application ")
            .count();
        assert!(apps >= 1, "{name}: no application");
        inputs.push(Input {
            name,
            sha: sha256_hex(&bytes),
            kind: Kind::Generated { apps },
        });
    }
    let generated: usize = GEN.iter().map(|g| g.1).sum();
    assert_eq!(
        inputs.len(),
        generated,
        "aim gen wrote another number of files"
    );
    let originals: Vec<Input> = inputs.clone();
    for (k, orig) in originals.choose_multiple(&mut rng, DUPLICATES).enumerate() {
        let name = format!("dup-{k:02}-{}", orig.name);
        fs::copy(staging.join(&orig.name), staging.join(&name)).unwrap();
        inputs.push(Input {
            name,
            sha: orig.sha.clone(),
            kind: Kind::Duplicate,
        });
    }

    // Waves: one per daemon run.
    let mut order: Vec<String> = inputs.iter().map(|i| i.name.clone()).collect();
    order.shuffle(&mut rng);
    let per_wave = order.len().div_ceil(KILLS);
    let mut waves: Vec<Vec<String>> = order.chunks(per_wave).map(<[String]>::to_vec).collect();
    waves.resize(KILLS, Vec::new());

    let move_in = |names: &[String]| {
        for n in names {
            fs::rename(staging.join(n), inbox.join(n)).expect("move into the inbox");
        }
    };
    let mut targeted: BTreeSet<String> = BTreeSet::new();
    let mut control = 990_000_000u32;
    for (k, wave) in waves.iter_mut().enumerate() {
        // Now and then, cancel one license and correct another that earlier acks issued.
        if k >= 3 && k % 3 == 0 {
            let free: Vec<String> = issued_so_far(&outbox)
                .into_iter()
                .filter(|l| !targeted.contains(l))
                .collect();
            let picks: Vec<String> = free.choose_multiple(&mut rng, 2).cloned().collect();
            for (j, license) in picks.into_iter().enumerate() {
                control += 1;
                targeted.insert(license.clone());
                let (name, app, kind) = if j == 0 {
                    (
                        format!("cancel-{k:02}.xml"),
                        cancel_app("X1", &license),
                        Kind::Cancel {
                            license: license.clone(),
                        },
                    )
                } else {
                    (
                        format!("correct-{k:02}.xml"),
                        correct_app("C1", &license, "Corrected Importer Inc"),
                        Kind::Correct {
                            license: license.clone(),
                        },
                    )
                };
                let xml = filing(ACME, &control.to_string(), &[app]);
                fs::write(staging.join(&name), &xml).unwrap();
                inputs.push(Input {
                    name: name.clone(),
                    sha: sha256_hex(xml.as_bytes()),
                    kind,
                });
                wave.push(name);
            }
        }
        // Part of the wave waits before the start, the rest arrives while the daemon runs.
        let split = rng.gen_range(0..=wave.len());
        let delay = Duration::from_millis(rng.gen_range(20..=400));
        move_in(&wave[..split]);
        let mut d = env.start();
        move_in(&wave[split..]);
        std::thread::sleep(delay.saturating_sub(d.started.elapsed()));
        // It must not have stopped by itself (a store it cannot open, a panic in recovery).
        d.assert_alive();
        d.kill();
        eprintln!(
            "run {k:2}: +{:2} files, killed at {:3} ms, acks {}",
            wave.len(),
            delay.as_millis(),
            visible_files(&outbox).len()
        );
    }
    let killed_at = t0.elapsed();

    // Let it finish.
    let mut d = env.start_ready();
    d.wait_for(
        "every file to get its ack and leave the inbox",
        Duration::from_secs(90),
        || {
            (entry_names(&inbox).is_empty() && visible_files(&outbox).len() >= inputs.len())
                .then_some(())
        },
    );
    // What the store holds, beyond the acks: a big file cut short between its slices must
    // have left no license behind (the acks could not show one).
    let o = env.aim(&["status", "--json"]);
    assert!(o.status.success(), "{:?}", out_text(&o));
    let on_record = json_of(&o)["licenses_on_record"].as_u64().unwrap();
    d.signal(rustix::process::Signal::TERM);
    assert_eq!(d.wait_exit(WAIT).code(), Some(0), "SIGTERM after the load");
    let logged = |what: &str| {
        (1..=KILLS + 1)
            .map(|n| {
                fs::read_to_string(env.dir.path().join(format!("daemon-{n}.stderr")))
                    .unwrap_or_default()
                    .matches(what)
                    .count()
            })
            .sum::<usize>()
    };
    let recovered = logged("finished after restart");
    let undone = logged("undid the slices of a file a crash cut short");
    eprintln!(
        "{} inputs, {KILLS} kills in {killed_at:?}, {recovered} deliveries finished by recovery, {undone} big files undone at a start, total {:?}",
        inputs.len(),
        t0.elapsed()
    );

    // Nothing left behind.
    assert_eq!(
        entry_names(&inbox),
        Vec::<String>::new(),
        "files left in the inbox"
    );

    // Exactly one ack per input: as many ack files as inputs, each input's `<stem>.ack.xml`
    // there (so no `<stem>.2.ack.xml`).
    let acks = visible_files(&outbox);
    let mut by_sha: BTreeMap<&str, Vec<&Input>> = BTreeMap::new();
    for i in &inputs {
        by_sha.entry(&i.sha).or_default().push(i);
    }
    let mut failures = Vec::new();
    let leftovers: Vec<String> = entry_names(&outbox)
        .into_iter()
        .filter(|n| n.starts_with('.') || n.ends_with(".tmp"))
        .collect();
    let mut parsed: HashMap<&str, Ack> = HashMap::new();
    for i in &inputs {
        match acks.get(&ack_name(&i.name)) {
            Some(raw) => {
                let ack = parse_ack(raw);
                if ack.sha256.as_deref() != Some(i.sha.as_str()) {
                    failures.push(format!("{}: ack for other bytes {:?}", i.name, ack.sha256));
                }
                parsed.insert(&i.name, ack);
            }
            None => failures.push(format!("{}: no ack", i.name)),
        }
    }
    if acks.len() != inputs.len() {
        let expected: BTreeSet<String> = inputs.iter().map(|i| ack_name(&i.name)).collect();
        let extra: Vec<&String> = acks.keys().filter(|n| !expected.contains(*n)).collect();
        failures.push(format!(
            "{} ack files for {} inputs; unexpected: {extra:?}",
            acks.len(),
            inputs.len()
        ));
    }
    assert!(failures.is_empty(), "seed {seed}:\n{}", failures.join("\n"));

    // FileName: an input alone with its bytes is named by its own ack and no other; a group of
    // identical inputs shares one ack, byte for byte, naming one of them.
    let mut named: HashMap<String, usize> = HashMap::new();
    for a in parsed.values() {
        *named
            .entry(a.file_name.clone().unwrap_or_default())
            .or_default() += 1;
    }
    for group in by_sha.values() {
        let first = &acks[&ack_name(&group[0].name)];
        for i in group {
            if &acks[&ack_name(&i.name)] != first {
                failures.push(format!(
                    "{} and {}: identical bytes, different acks",
                    group[0].name, i.name
                ));
            }
        }
        let names: Vec<&str> = group.iter().map(|i| i.name.as_str()).collect();
        let counts: Vec<usize> = names
            .iter()
            .map(|n| named.get(*n).copied().unwrap_or(0))
            .collect();
        if counts.iter().sum::<usize>() != group.len()
            || !counts.contains(&group.len())
            || !names.contains(&parsed[names[0]].file_name.as_deref().unwrap_or(""))
        {
            failures.push(format!(
                "FileName counts {counts:?} for identical inputs {names:?}"
            ));
        }
    }

    // Licenses: every issued application has one, and no license is issued by two different acks.
    let mut issued_by: HashMap<String, &str> = HashMap::new();
    let mut issued_apps = 0;
    for (sha, group) in &by_sha {
        let ack = &parsed[group[0].name.as_str()];
        for app in &ack.apps {
            if app.status == "issued" {
                issued_apps += 1;
                match &app.license {
                    None => failures.push(format!("{}: issued without a number", group[0].name)),
                    Some(l) => {
                        if let Some(prev) = issued_by.insert(l.clone(), sha) {
                            failures.push(format!(
                                "{l} issued twice: {} and {}",
                                by_sha[prev][0].name, group[0].name
                            ));
                        }
                    }
                }
            }
        }
    }
    let licenses_issued: usize = GEN.iter().map(|g| g.1 * g.2).sum();
    if issued_apps != licenses_issued || issued_by.len() != licenses_issued {
        failures.push(format!(
            "{issued_apps} applications issued with {} distinct numbers; {licenses_issued} generated",
            issued_by.len()
        ));
    }
    let validity = |l: &str| -> Option<(Option<String>, Option<String>)> {
        let sha = issued_by.get(l)?;
        let ack = &parsed[by_sha[sha][0].name.as_str()];
        let app = ack.apps.iter().find(|a| a.license.as_deref() == Some(l))?;
        Some((app.valid_from.clone(), app.valid_through.clone()))
    };

    // What each kind of input must have got.
    let mut corrections = 0;
    for i in &inputs {
        let ack = &parsed[i.name.as_str()];
        match &i.kind {
            Kind::Generated { apps } => {
                if ack.status != "accepted"
                    || ack.apps.len() != *apps
                    || ack.apps.iter().any(|a| a.status != "issued")
                {
                    failures.push(format!("{}: {ack:?}", i.name));
                }
            }
            Kind::Duplicate => {}
            Kind::Cancel { license } => {
                corrections += 1;
                let ok = ack.apps.len() == 1
                    && ack.apps[0].status == "cancelled"
                    && ack.apps[0].license.as_deref() == Some(license.as_str());
                if !ok {
                    failures.push(format!("{}: cancel of {license}: {ack:?}", i.name));
                }
            }
            Kind::Correct { license } => {
                corrections += 1;
                let ok = ack.apps.len() == 1
                    && ack.apps.first().is_some_and(|a| {
                        a.status == "corrected"
                            && a.license.as_deref() == Some(license.as_str())
                            && validity(license)
                                == Some((a.valid_from.clone(), a.valid_through.clone()))
                    });
                if !ok {
                    failures.push(format!("{}: correction of {license}: {ack:?}", i.name));
                }
            }
        }
    }
    assert!(corrections > 0, "no correction or cancellation was made");
    let cancelled = inputs
        .iter()
        .filter(|i| matches!(i.kind, Kind::Cancel { .. }))
        .count();
    if on_record != (licenses_issued - cancelled) as u64 {
        failures.push(format!(
            "{on_record} licenses on record; {licenses_issued} issued, {cancelled} cancelled"
        ));
    }

    // Every input's bytes are in the archive, once per delivery.
    let archive = archived(&env);
    for (sha, group) in &by_sha {
        if archive.get(*sha) != Some(&group.len()) {
            failures.push(format!(
                "{}: archived {:?} times, delivered {} times",
                group[0].name,
                archive.get(*sha),
                group.len()
            ));
        }
    }
    let in_archive = archive.values().sum::<usize>();
    if in_archive != inputs.len() {
        let names: Vec<std::path::PathBuf> = tree_files(&env.archive())
            .into_iter()
            .filter(|(_, b)| {
                let sha = sha256_hex(b);
                archive.get(&sha) != by_sha.get(sha.as_str()).map(Vec::len).as_ref()
            })
            .map(|(name, _)| name)
            .collect();
        failures.push(format!(
            "{in_archive} files in the archive for {} inputs; kept other than delivered: {names:?}",
            inputs.len()
        ));
    }
    if !leftovers.is_empty() {
        failures.push(format!(
            "temporary files left in the outbox (a kill inside write_ack, never cleaned up): {leftovers:?}"
        ));
    }
    assert!(
        failures.is_empty(),
        "seed {seed}: {} failures:\n{}",
        failures.len(),
        failures.join("\n")
    );
}

/// A kill between the group flush and the ack leaves a receipt whose delivery is unfinished while
/// its input is still in the inbox. If, before the restart, the partner replaces that file with
/// a new one of the same name (other bytes), recovery must not take the new file for the old one:
/// the new file is judged on its own and gets its own ack, and the archive keeps its bytes.
///
/// The crashed state is made exactly with the store's own API (a re-delivery recorded, nothing
/// written yet), instead of hoping that a SIGKILL lands in that window.
#[test]
fn recovery_checks_that_the_inbox_file_is_the_unfinished_one() {
    let env = Env::new();
    let (inbox, outbox) = (env.inbox_of(ACME), env.outbox_of(ACME));
    let a = valid_with_control("3001");
    let b = valid_with_control("3002");
    {
        let mut d = env.start_ready();
        drop_file(&inbox, "a.xml", &a);
        d.wait_ack(&outbox, "a.ack.xml");
        d.wait_gone(&inbox.join("a.xml"));
        d.signal(rustix::process::Signal::TERM);
        assert_eq!(d.wait_exit(WAIT).code(), Some(0));
    }
    // b.xml with a's bytes arrived, was committed and flushed, then the daemon was killed before
    // writing b.ack.xml or archiving b.xml.
    {
        let store = aim::store::Store::open(&env.data.join("db")).expect("open the store");
        let sha: [u8; 32] = hex::decode(sha256_hex(a.as_bytes()))
            .unwrap()
            .try_into()
            .unwrap();
        let now = chrono::Utc::now();
        store
            .add_delivery(
                ACME,
                &sha,
                aim::store::Delivery {
                    file_name: "b.xml".into(),
                    ack_name: "b.ack.xml".into(),
                    received_at: now,
                    archive: format!("{}/{ACME}/crashed-b.xml", now.format("%Y-%m-%d")),
                    done: false,
                },
                &[],
            )
            .expect("record the delivery");
        store.flush().expect("flush");
    }
    // Meanwhile the partner replaced b.xml with another filing.
    drop_file(&inbox, "b.xml", &b);

    let mut d = env.start_ready();
    d.wait_gone(&inbox.join("b.xml"));
    // Gone from the inbox means claimed, not yet answered: wait for its ack.
    let sha_b = sha256_hex(b.as_bytes());
    d.wait_for("an ack of the new b.xml", WAIT, || {
        visible_files(&outbox)
            .values()
            .any(|x| parse_ack(x).sha256.as_deref() == Some(sha_b.as_str()))
            .then_some(())
    });
    let acks: Vec<Ack> = visible_files(&outbox)
        .values()
        .map(|x| parse_ack(x))
        .collect();
    let for_b: Vec<&Ack> = acks
        .iter()
        .filter(|x| x.sha256.as_deref() == Some(sha_b.as_str()))
        .collect();
    assert_eq!(
        for_b.len(),
        1,
        "the new b.xml left the inbox without an ack of its own; acks: {acks:#?}"
    );
    assert_eq!(for_b[0].status, "accepted", "{:#?}", for_b[0]);
    // The input is archived after its ack is written (docs/architecture.md, "Crash safety",
    // steps 4 and 5): wait for it rather than read the archive in between.
    d.wait_for("b.xml's bytes in the archive", WAIT, || {
        archived(&env).contains_key(&sha_b).then_some(())
    });
    let archive = archived(&env);
    assert_eq!(
        archive.get(&sha256_hex(a.as_bytes())),
        Some(&1),
        "a.xml's archived bytes were overwritten"
    );
    assert_eq!(
        archive.get(&sha_b),
        Some(&1),
        "b.xml's bytes are not in the archive"
    );
}

/// sled writes a snapshot while the store opens (`snap.<lsn>.generating`, fsync, rename). A kill
/// in that window (the daemon's first milliseconds) leaves a partial `.generating` file, and
/// sled 0.34.7 then takes it for the newest snapshot and refuses to open ("Read corrupted
/// data"): the daemon could never start again. Made here exactly: an empty `.generating` file
/// beside the store's files, as a kill right after its creation leaves it.
#[test]
fn restart_after_a_kill_while_the_store_writes_its_snapshot() {
    let env = Env::new();
    let (inbox, outbox) = (env.inbox_of(ACME), env.outbox_of(ACME));
    let a = valid_with_control("4001");
    {
        let mut d = env.start_ready();
        drop_file(&inbox, "a.xml", &a);
        d.wait_ack(&outbox, "a.ack.xml");
        d.signal(rustix::process::Signal::TERM);
        assert_eq!(d.wait_exit(WAIT).code(), Some(0));
    }
    let db = env.data.join("db");
    let newest = entry_names(&db)
        .iter()
        .filter_map(|n| n.strip_prefix("snap."))
        .filter_map(|h| u64::from_str_radix(&h[..h.len().min(16)], 16).ok())
        .max()
        .unwrap_or(0);
    let partial = db.join(format!("snap.{:016X}.generating", newest + 0x1000));
    fs::write(&partial, b"").unwrap();

    let mut d = env.start();
    drop_file(&inbox, "b.xml", valid_with_control("4002"));
    let b = parse_ack(&d.wait_ack(&outbox, "b.ack.xml"));
    assert_eq!(b.status, "accepted", "{b:#?}");
    // What the store knew survived: a.xml's bytes again get a's ack.
    drop_file(&inbox, "a2.xml", &a);
    let again = d.wait_ack(&outbox, "a2.ack.xml");
    assert_eq!(again, fs::read(outbox.join("a.ack.xml")).unwrap());
}

/// At each start the daemon checks that a file can be renamed from its claimed folder into the
/// inbox, with an empty hidden probe file it writes in the claimed folder, renames into the
/// inbox and removes. A kill in between left the probe behind, and the next start took a probe
/// in the claimed folder for a claimed filing: it answered it (`.aim-claim-probe-<pid>.ack.xml`
/// in the partner's outbox) and archived it. Made here exactly: the probes a kill leaves at
/// either step, then a start and a filing.
#[test]
fn restart_after_a_kill_while_the_claimed_folder_is_probed() {
    let env = Env::new();
    let (inbox, outbox) = (env.inbox_of(ACME), env.outbox_of(ACME));
    fs::create_dir_all(&inbox).unwrap();
    {
        let mut d = env.start_ready();
        d.signal(rustix::process::Signal::TERM);
        assert_eq!(d.wait_exit(WAIT).code(), Some(0));
    }
    // `<data>/claimed/<ID>` when the data folder is on the inbox's file system.
    let claimed = env.data.join("claimed").join(ACME);
    assert!(claimed.is_dir(), "{:?}", entry_names(&env.data));
    fs::write(claimed.join(".aim-claim-probe-4194301"), b"").unwrap();
    fs::write(inbox.join(".aim-claim-probe-4194302"), b"").unwrap();
    let mut d = env.start_ready();
    let a = valid_with_control("4002");
    drop_file(&inbox, "a.xml", &a);
    d.wait_ack(&outbox, "a.ack.xml");
    let sha_a = sha256_hex(a.as_bytes());
    d.wait_for("a.xml in the archive", WAIT, || {
        archived(&env).contains_key(&sha_a).then_some(())
    });
    let probes = |dir: &std::path::Path| -> Vec<String> {
        entry_names(dir)
            .into_iter()
            .filter(|n| n.contains("aim-claim-probe"))
            .collect()
    };
    assert_eq!(probes(&outbox), Vec::<String>::new(), "a probe answered");
    assert_eq!(archived(&env).len(), 1, "a probe archived");
    assert_eq!(
        probes(&claimed),
        Vec::<String>::new(),
        "a probe left claimed"
    );
    assert_eq!(
        probes(&inbox),
        Vec::<String>::new(),
        "a probe left in the inbox"
    );
    d.signal(rustix::process::Signal::TERM);
    assert_eq!(d.wait_exit(WAIT).code(), Some(0));
}
