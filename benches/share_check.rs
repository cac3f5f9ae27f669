//! Share checks per second: SHA-256d with a 13-entry branch and 4-byte extranonce2, and
//! scrypt; one at a time and in batches. `cargo bench --bench share_check`.

use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use sharecheck::bench::ShareWorkload;
use std::hint::black_box;

fn share_checks(c: &mut Criterion) {
    let sha = ShareWorkload::sha256d_13_branch(1024);
    let mut g = c.benchmark_group("share_check_sha256d_13_branch");
    g.throughput(Throughput::Elements(sha.submits.len() as u64));
    g.bench_function("check_one_at_a_time", |b| {
        b.iter(|| {
            sha.refresh();
            for s in &sha.submits {
                black_box(sha.validator.check(&sha.session, s));
            }
        })
    });
    let batch = sha.batch();
    g.bench_function("check_batch_on_all_cores", |b| {
        b.iter(|| {
            sha.refresh();
            black_box(sha.validator.check_batch(&batch))
        })
    });
    g.finish();

    let scrypt = ShareWorkload::scrypt(64);
    let mut g = c.benchmark_group("share_check_scrypt");
    g.throughput(Throughput::Elements(scrypt.submits.len() as u64));
    g.sample_size(10);
    g.bench_function("check_one_at_a_time", |b| {
        b.iter(|| {
            scrypt.refresh();
            for s in &scrypt.submits {
                black_box(scrypt.validator.check(&scrypt.session, s));
            }
        })
    });
    let batch = scrypt.batch();
    g.bench_function("check_batch_on_all_cores", |b| {
        b.iter(|| {
            scrypt.refresh();
            black_box(scrypt.validator.check_batch(&batch))
        })
    });
    g.finish();
}

criterion_group!(benches, share_checks);
criterion_main!(benches);
