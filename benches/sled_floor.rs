//! What sled itself costs, without the gateway: the floor under a store commit. The keys and
//! values have the shape a file of 1,000 applications writes (a 700-byte license under its
//! number, four index entries and a unit value each: 6,000 keys in three trees), into a tree
//! that already holds 20 such files, then one flush:
//!
//! - `one_by_one`: plain inserts (what the journal applies);
//! - `transaction`: the same keys in one multi-tree sled transaction (the earlier store);
//! - `one_value`: the file's records as one value (the grouped layout's floor).
//!
//! `cargo bench --bench sled_floor`; BENCHMARKS.md, "sled itself".
#![allow(
    clippy::unwrap_used,
    clippy::too_many_lines,
    clippy::cast_possible_truncation,
    clippy::cast_sign_loss,
    clippy::cast_possible_wrap
)] // Test code: a panic is the failure report, a scenario reads top to bottom.

use criterion::{BatchSize, Criterion, Throughput, criterion_group, criterion_main};
use sled::Transactional;

const APPS: u64 = 1000;

struct Trees {
    _dir: tempfile::TempDir,
    db: sled::Db,
    lic: sled::Tree,
    idx: sled::Tree,
    uv: sled::Tree,
    next: u64,
}

type Keys = Vec<([u8; 8], Vec<u8>, Vec<u8>)>;

fn keys(from: u64) -> Keys {
    (from..from + APPS)
        .map(|n| {
            let h = n.wrapping_mul(0x9E37_79B9_7F4A_7C15) >> 20;
            (
                n.to_be_bytes(),
                format!("i/IMPORTER{:08}/{n:012}", h % 100_000).into_bytes(),
                format!("u/{:04}/{n:012}", h % 500).into_bytes(),
            )
        })
        .collect()
}

fn one_by_one(t: &Trees, k: &Keys, v: &[u8]) {
    for (n, i, u) in k {
        t.lic.insert(n, v).unwrap();
        t.idx.insert(i.as_slice(), &[]).unwrap();
        for p in [b"s/", b"d/", b"e/"] {
            t.idx.insert([p.as_slice(), n].concat(), &[]).unwrap();
        }
        t.uv.insert(u.as_slice(), &[1u8; 16]).unwrap();
    }
}

fn fresh() -> Trees {
    let dir = tempfile::tempdir().unwrap();
    let db = sled::Config::new()
        .path(dir.path())
        .cache_capacity(16 * 1024 * 1024)
        .flush_every_ms(None)
        .open()
        .unwrap();
    let mut t = Trees {
        lic: db.open_tree("licenses").unwrap(),
        idx: db.open_tree("index").unwrap(),
        uv: db.open_tree("unit_values").unwrap(),
        db,
        _dir: dir,
        next: 1,
    };
    let v = vec![b'x'; 700];
    for _ in 0..20 {
        one_by_one(&t, &keys(t.next), &v);
        t.next += APPS;
    }
    t.db.flush().unwrap();
    t
}

fn bench(c: &mut Criterion) {
    let v = vec![b'x'; 700];
    let mut g = c.benchmark_group("sled_floor");
    g.sample_size(10);
    g.throughput(Throughput::Elements(APPS));
    // Each measurement on a store of its own, made outside the timing.
    let on_fresh = |b: &mut criterion::Bencher, f: &dyn Fn(&Trees, &Keys)| {
        b.iter_batched(
            || {
                let t = fresh();
                let k = keys(t.next);
                (t, k)
            },
            |(t, k)| {
                f(&t, &k);
                t.db.flush().unwrap();
            },
            BatchSize::PerIteration,
        )
    };
    g.bench_function("one_by_one", |b| on_fresh(b, &|t, k| one_by_one(t, k, &v)));
    g.bench_function("transaction", |b| {
        on_fresh(b, &|t, k| {
            (&t.lic, &t.idx, &t.uv)
                .transaction(|(l, x, u)| {
                    for (n, i, uk) in k {
                        l.insert(n, v.as_slice())?;
                        x.insert(i.as_slice(), &[])?;
                        for p in [b"s/", b"d/", b"e/"] {
                            x.insert([p.as_slice(), n].concat(), &[])?;
                        }
                        u.insert(uk.as_slice(), &[1u8; 16])?;
                    }
                    Ok::<_, sled::transaction::ConflictableTransactionError<()>>(())
                })
                .unwrap();
        })
    });
    g.bench_function("one_value", |b| {
        on_fresh(b, &|t, k| {
            let mut all = Vec::with_capacity(k.len() * 760);
            for (n, i, u) in k {
                all.extend_from_slice(n);
                all.extend_from_slice(i);
                all.extend_from_slice(u);
                all.extend_from_slice(&v);
            }
            t.lic.insert(b"file", all).unwrap();
        })
    });
    g.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
