//! `callgrind_one PARSER MESSAGE N`: parse MESSAGE and read the three fields N times with
//! PARSER (strowger | rsip | rsipstack), for counting instructions under callgrind.
//! callgrind.sh runs it with N=1 and N=1001; the difference / 1000 is the cost of one
//! parse+read, with start-up and the one-time check subtracted out.

use std::hint::black_box;
use std::process::exit;

use bytes::Bytes;
use strowger_parser_bench::{fields, rsip_impl, rsipstack_impl, sample, strowger, PARSERS};

fn main() {
    let args: Vec<String> = std::env::args().collect();
    if args.len() != 4 {
        eprintln!(
            "usage: callgrind_one PARSER MESSAGE N   (PARSER: {})",
            PARSERS.join(" | ")
        );
        exit(2);
    }
    let (parser, name) = (args[1].as_str(), args[2].as_str());
    let n: u64 = args[3].parse().unwrap_or_else(|_| {
        eprintln!("N must be a number");
        exit(2)
    });
    let Some(s) = sample(name) else {
        eprintln!("unknown message {name:?}");
        exit(2)
    };
    // Same check as the benchmark, done once whatever N is (so it cancels out).
    match fields(parser, s) {
        Ok(f) if f.matches(&s.expected) => {}
        Ok(f) => {
            eprintln!("{parser}/{name}: read {f:?}, expected {:?}", s.expected);
            exit(1)
        }
        Err(e) => {
            eprintln!("{parser}/{name}: {e}");
            exit(1)
        }
    }

    let bytes = Bytes::from_static(s.bytes);
    let slice: &[u8] = s.bytes;
    match parser {
        "strowger" => {
            for _ in 0..n {
                let msg = strowger::parse(black_box(&bytes)).unwrap();
                strowger::read(&msg, |b, q, m, t| {
                    black_box((b, q, m, t));
                });
                black_box(&msg);
            }
        }
        "rsip" => {
            for _ in 0..n {
                let msg = rsip_impl::parse(black_box(slice)).unwrap();
                rsip_impl::read(&msg, |b, q, m, t| {
                    black_box((b, q, m, t));
                });
                black_box(&msg);
            }
        }
        "rsipstack" => {
            for _ in 0..n {
                let msg = rsipstack_impl::parse(black_box(slice)).unwrap();
                rsipstack_impl::read(&msg, |b, q, m, t| {
                    black_box((b, q, m, t));
                });
                black_box(&msg);
            }
        }
        _ => unreachable!("fields() rejected unknown parsers"),
    }
}
