//! One criterion run comparing strowger-message, rsip and rsipstack's parser on the same
//! four messages. Groups: `<message>/parse` and `<message>/parse_read`, each with the
//! functions `strowger`, `rsip`, `rsipstack`, so the report reads side by side.
//!
//! Timed: parse (and, in `parse_read`, read top-Via branch, CSeq number + method and
//! From tag) and drop the parsed message. Inputs go through `black_box`.

use std::hint::black_box;
use std::time::Duration;

use bytes::Bytes;
use criterion::{criterion_group, criterion_main, Criterion, Throughput};
use strowger_parser_bench::{check_all, rsip_impl, rsipstack_impl, strowger, SAMPLES};

fn bench(c: &mut Criterion) {
    // Outside any timed loop: every parser must parse every message and read the
    // expected values, so no benchmark measures an error path.
    check_all();

    for s in &SAMPLES {
        let bytes = Bytes::from_static(s.bytes);
        let slice: &[u8] = s.bytes;

        let mut g = c.benchmark_group(format!("{}/parse", s.name));
        g.throughput(Throughput::Bytes(s.bytes.len() as u64));
        g.bench_function("strowger", |b| {
            b.iter(|| strowger::parse(black_box(&bytes)).unwrap())
        });
        g.bench_function("rsip", |b| {
            b.iter(|| rsip_impl::parse(black_box(slice)).unwrap())
        });
        g.bench_function("rsipstack", |b| {
            b.iter(|| rsipstack_impl::parse(black_box(slice)).unwrap())
        });
        g.finish();

        let mut g = c.benchmark_group(format!("{}/parse_read", s.name));
        g.throughput(Throughput::Bytes(s.bytes.len() as u64));
        g.bench_function("strowger", |b| {
            b.iter(|| {
                let msg = strowger::parse(black_box(&bytes)).unwrap();
                strowger::read(&msg, |br, seq, m, tag| {
                    black_box((br, seq, m, tag));
                });
                msg
            })
        });
        g.bench_function("rsip", |b| {
            b.iter(|| {
                let msg = rsip_impl::parse(black_box(slice)).unwrap();
                rsip_impl::read(&msg, |br, seq, m, tag| {
                    black_box((br, seq, m, tag));
                });
                msg
            })
        });
        g.bench_function("rsipstack", |b| {
            b.iter(|| {
                let msg = rsipstack_impl::parse(black_box(slice)).unwrap();
                rsipstack_impl::read(&msg, |br, seq, m, tag| {
                    black_box((br, seq, m, tag));
                });
                msg
            })
        });
        g.finish();
    }
}

criterion_group! {
    name = benches;
    config = Criterion::default()
        .warm_up_time(Duration::from_secs(2))
        .measurement_time(Duration::from_secs(4));
    targets = bench
}
criterion_main!(benches);
