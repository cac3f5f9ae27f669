//! Hash kernels beside the crates a user would otherwise pick (`sha2`, `scrypt`), measured
//! in the same run so the figures are ratios. `cargo bench --bench kernels`.

use criterion::{BenchmarkId, Criterion, Throughput, criterion_group, criterion_main};
use sha2::Digest;
use sharecheck::hash::sha256::{sha256d_64_with, sha256d_header_with};
use sharecheck::hash::{Platform, ScryptPath, ScryptScratch, Sha256Path, scrypt};
use std::hint::black_box;

/// Litecoin's scrypt_tests.cpp header #0.
const HEADER: &str = "020000004c1271c211717198227392b029a64a7971931d351b387bb80db027f270411e398a07046f7d4a08dd815412a8712f874a7ebf0507e3878bd24e20a3b73fd750a667d2f451eac7471b00de6659";

fn header() -> [u8; 80] {
    hex::decode(HEADER).unwrap().try_into().unwrap()
}

fn sha256d(c: &mut Criterion) {
    let h = header();
    let mut g = c.benchmark_group("sha256d_header");
    g.throughput(Throughput::Elements(1));
    g.bench_function("sha2_crate_digest_twice", |b| {
        b.iter(|| {
            let first = sha2::Sha256::digest(black_box(&h));
            let out: [u8; 32] = sha2::Sha256::digest(first).into();
            out
        })
    });
    for path in Sha256Path::supported() {
        g.bench_with_input(BenchmarkId::new("sharecheck", path), &path, |b, &p| {
            b.iter(|| sha256d_header_with(p, black_box(&h)))
        });
    }
    g.finish();

    let m: [u8; 64] = h[..64].try_into().unwrap();
    let mut g = c.benchmark_group("sha256d_64_merkle_step");
    g.throughput(Throughput::Elements(1));
    g.bench_function("sha2_crate_digest_twice", |b| {
        b.iter(|| {
            let first = sha2::Sha256::digest(black_box(&m));
            let out: [u8; 32] = sha2::Sha256::digest(first).into();
            out
        })
    });
    for path in Sha256Path::supported() {
        g.bench_with_input(BenchmarkId::new("sharecheck", path), &path, |b, &p| {
            b.iter(|| sha256d_64_with(p, black_box(&m)))
        });
    }
    g.finish();
}

fn scrypt_bench(c: &mut Criterion) {
    let h = header();
    let mut g = c.benchmark_group("scrypt_1024_1_1_header");
    g.throughput(Throughput::Elements(1));
    g.sample_size(30);
    let params = ::scrypt::Params::new(10, 1, 1).unwrap();
    g.bench_function("scrypt_crate", |b| {
        b.iter(|| {
            let mut out = [0u8; 32];
            ::scrypt::scrypt(black_box(&h), black_box(&h), &params, &mut out).unwrap();
            out
        })
    });
    let mut scratch = ScryptScratch::new();
    for path in ScryptPath::supported() {
        let p = Platform::new(Platform::detect().sha256(), path);
        g.bench_with_input(BenchmarkId::new("sharecheck", path), &p, |b, &p| {
            b.iter(|| scrypt::scrypt_header_on(p, black_box(&h), &mut scratch))
        });
    }
    g.finish();

    // Batches fill the SIMD lanes: throughput per header, the crate beside it again.
    for size in [8usize, 16, 64] {
        let batch: Vec<[u8; 80]> = (0..size)
            .map(|i| {
                let mut x = h;
                x[76] = i as u8;
                x
            })
            .collect();
        let mut out = vec![[0u8; 32]; batch.len()];
        let mut g = c.benchmark_group(format!("scrypt_1024_1_1_batch_of_{size}"));
        g.throughput(Throughput::Elements(batch.len() as u64));
        g.sample_size(10);
        g.bench_function("scrypt_crate", |b| {
            b.iter(|| {
                for (x, o) in batch.iter().zip(out.iter_mut()) {
                    ::scrypt::scrypt(black_box(x), x, &params, o).unwrap();
                }
            })
        });
        let mut scratch = scrypt::ScryptBatchScratch::new();
        for path in ScryptPath::supported() {
            let p = Platform::new(Platform::detect().sha256(), path);
            g.bench_with_input(BenchmarkId::new("sharecheck", path), &p, |b, &p| {
                b.iter(|| scrypt::scrypt_headers_on(p, black_box(&batch), &mut out, &mut scratch))
            });
        }
        g.finish();
    }
}

criterion_group!(benches, sha256d, scrypt_bench);
criterion_main!(benches);
