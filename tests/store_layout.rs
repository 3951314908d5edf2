//! The store's layout mark through the real binary: a database is marked with the layout it
//! is in, and a database of a layout newer than the binary knows is refused with what to do.

mod common;
mod daemon_harness;

use daemon_harness::*;

/// The `store_layout` mark of a stopped daemon's database, read with sled itself.
fn layout_mark(env: &Env) -> Option<u64> {
    let db = sled::open(env.data.join("db")).expect("open the database with sled");
    let meta = db.open_tree("meta").expect("meta tree");
    meta.get("store_layout")
        .expect("read meta")
        .map(|v| u64::from_be_bytes(v.as_ref().try_into().expect("eight bytes")))
}

fn set_layout_mark(env: &Env, layout: u64) {
    let db = sled::open(env.data.join("db")).expect("open the database with sled");
    db.open_tree("meta")
        .expect("meta tree")
        .insert("store_layout", &layout.to_be_bytes())
        .expect("write the mark");
    db.flush().expect("flush");
}

#[test]
fn a_database_newer_than_the_binary_is_refused_with_what_to_do() {
    let env = Env::new();
    let (inbox, outbox) = (env.inbox_of(ACME), env.outbox_of(ACME));
    {
        let mut d = env.start_ready();
        drop_file(&inbox, "a.xml", valid_with_control("5001"));
        d.wait_ack(&outbox, "a.ack.xml");
        d.signal(rustix::process::Signal::TERM);
        assert_eq!(d.wait_exit(WAIT).code(), Some(0));
    }
    let known = layout_mark(&env).expect("the daemon marks the database with its layout");
    // As a later release would leave it.
    set_layout_mark(&env, known + 1);
    let mut d = env.start();
    let st = d.wait_exit(WAIT);
    assert!(!st.success(), "refused: {st}");
    let err = d.stderr();
    for words in [
        format!("has store layout {}", known + 1),
        "newer than this release".into(),
        format!("(layout {known})"),
        "run the release that wrote it".into(),
        "restore a backup".into(),
    ] {
        assert!(err.contains(&words), "{words:?} in:\n{err}");
    }
    assert_eq!(
        layout_mark(&env),
        Some(known + 1),
        "the refused database is left as it was"
    );
    // The same binary on its own layout starts again.
    set_layout_mark(&env, known);
    let mut d = env.start_ready();
    drop_file(&inbox, "b.xml", valid_with_control("5002"));
    assert_eq!(
        parse_ack(&d.wait_ack(&outbox, "b.ack.xml")).status,
        "accepted"
    );
}
