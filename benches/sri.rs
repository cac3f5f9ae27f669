//! Our share check beside a pool's own validator, in the same run: `Validator::check` and
//! the Stratum V2 reference implementation's `ExtendedChannel::validate_share` (crate
//! `channels_sv2`) on the same SHA-256d job (13-entry branch) and the same shares, one at a
//! time on one thread, and ours in batches; then the same on that job with a coinbase
//! paying 60 more outputs (`ShareWorkload::sha256d_many_outputs`).
//! `cargo bench --features sri --bench sri`.

use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use sharecheck::bench::ShareWorkload;
use sharecheck::bench::sri::SriChannel;
use std::hint::black_box;

const SHARES: usize = 1024;

/// A bench workload of that many shares.
type Workload = fn(usize) -> ShareWorkload;

fn against_sri(c: &mut Criterion) {
    let jobs: [(&str, Workload); 2] = [
        ("share_check_sha256d_vs_sri", ShareWorkload::sha256d_13_branch),
        ("share_check_sha256d_many_outputs_vs_sri", ShareWorkload::sha256d_many_outputs),
    ];
    for (group, workload) in jobs {
        let ours = workload(SHARES);
        let mut sri = SriChannel::for_workload(&workload(SHARES), [0xff; 32])
            .expect("SRI takes the bench job");
        // Every share is accepted (a refusal returns early and would flatter SRI).
        assert_eq!(sri.validate_all(), SHARES, "SRI accepts every bench share");
        let mut g = c.benchmark_group(group);
        g.throughput(Throughput::Elements(SHARES as u64));
        g.bench_function("sharecheck_check_one_at_a_time", |b| {
            b.iter(|| {
                ours.refresh();
                for s in &ours.submits {
                    black_box(ours.validator.check(&ours.session, s));
                }
            })
        });
        g.bench_function("sri_validate_share_one_at_a_time", |b| {
            b.iter(|| {
                sri.refresh().expect("refresh");
                black_box(sri.validate_all())
            })
        });
        let batch = ours.batch();
        let one_thread = rayon::ThreadPoolBuilder::new().num_threads(1).build().expect("a thread");
        g.bench_function("sharecheck_check_batch_one_thread", |b| {
            b.iter(|| {
                ours.refresh();
                one_thread.install(|| black_box(ours.validator.check_batch(&batch)))
            })
        });
        g.finish();
    }
}

criterion_group!(benches, against_sri);
criterion_main!(benches);
