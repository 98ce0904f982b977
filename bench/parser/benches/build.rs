//! What building a response costs: the registrar's 200 to a REGISTER (two Contact
//! header fields added) and a proxy's 100 and a UAS's 180 to an INVITE. Timed: build
//! the response from the parsed request and drop it.

use std::hint::black_box;

use criterion::{criterion_group, criterion_main, Criterion};
use strowger_message::{Message, ResponseBuilder};

fn bench(c: &mut Criterion) {
    let register = Message::parse(&include_bytes!("../messages/register.sip")[..]).unwrap();
    let invite = Message::parse(&include_bytes!("../messages/invite.sip")[..]).unwrap();
    let mut g = c.benchmark_group("build");
    g.bench_function("register_200", |b| {
        b.iter(|| {
            ResponseBuilder::new(black_box(&register), 200)
                .to_tag("8d1e2f")
                .header("Contact", "<sip:alice@192.0.2.10:5060>;expires=3600")
                .header(
                    "Contact",
                    "<sip:alice@198.51.100.7:5060>;expires=1800;q=0.500",
                )
                .build()
                .unwrap()
        })
    });
    g.bench_function("invite_100", |b| {
        b.iter(|| {
            ResponseBuilder::new(black_box(&invite), 100)
                .build()
                .unwrap()
        })
    });
    g.bench_function("invite_180", |b| {
        b.iter(|| {
            ResponseBuilder::new(black_box(&invite), 180)
                .to_tag("a6c85cf")
                .header("Contact", "<sip:bob@192.0.2.4>")
                .build()
                .unwrap()
        })
    });
    g.finish();
}

criterion_group! {
    name = benches;
    config = Criterion::default()
        .warm_up_time(std::time::Duration::from_secs(1))
        .measurement_time(std::time::Duration::from_secs(3));
    targets = bench
}
criterion_main!(benches);
