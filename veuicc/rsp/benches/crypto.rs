//! Per-operation cost of each crypto provider: `cargo bench -p rsp --bench crypto`.
//!
//! A plain binary (no harness): for every provider and operation it times `SAMPLES` batches and
//! prints the median time per operation in microseconds. `CRYPTO_BENCH_QUICK=1` shortens the run.

use std::hint::black_box;
use std::time::{Duration, Instant};

use rsp::crypto::awslc::AwsLc;
use rsp::crypto::deterministic::Deterministic;
use rsp::crypto::rustcrypto::RustCrypto;
use rsp::crypto::CryptoProvider;

/// Median and minimum µs per call of `op`, over `samples` batches sized to take about `target`
/// each. The minimum is the less noisy figure on a busy machine.
fn measure(samples: usize, target: Duration, mut op: impl FnMut()) -> (f64, f64) {
    // Warm up and size the batch.
    let mut batch = 1usize;
    loop {
        let start = Instant::now();
        for _ in 0..batch {
            op();
        }
        if start.elapsed() >= target || batch >= 1 << 20 {
            break;
        }
        batch *= 2;
    }
    let mut per_op: Vec<f64> = (0..samples)
        .map(|_| {
            let start = Instant::now();
            for _ in 0..batch {
                op();
            }
            start.elapsed().as_secs_f64() * 1e6 / batch as f64
        })
        .collect();
    per_op.sort_by(f64::total_cmp);
    (per_op[per_op.len() / 2], per_op[0])
}

fn main() {
    // `cargo bench` passes `--bench`; a filter argument, if any, selects providers by name.
    let filter: Option<String> = std::env::args().skip(1).find(|a| !a.starts_with('-'));
    let quick = std::env::var_os("CRYPTO_BENCH_QUICK").is_some();
    let (samples, target) = if quick {
        (5, Duration::from_millis(5))
    } else {
        (21, Duration::from_millis(40))
    };

    let providers: Vec<Box<dyn CryptoProvider>> = vec![
        Box::new(RustCrypto),
        Box::new(AwsLc),
        Box::new(Deterministic::new([42; 32])),
    ];
    let ops = ["sign", "verify", "generate", "ecdh", "cmac 1KB", "cbc 1KB"];

    println!("µs per operation: median of {samples} samples (minimum in the second row)");
    print!("{:<18}", "provider");
    for op in ops {
        print!("{op:>11}");
    }
    println!();

    let msg = [0x5au8; 256];
    let data = [0xa5u8; 1024];
    let key16 = [0x11u8; 16];
    let iv = [0x22u8; 16];

    for p in &providers {
        if filter.as_deref().is_some_and(|f| !p.name().contains(f)) {
            continue;
        }
        let Ok((sk, pk)) = p.generate_key() else {
            eprintln!("{}: key generation failed", p.name());
            continue;
        };
        let Ok((_, peer)) = p.generate_key() else {
            eprintln!("{}: key generation failed", p.name());
            continue;
        };
        let Ok(sig) = p.sign(&sk, &msg) else {
            eprintln!("{}: signing failed", p.name());
            continue;
        };
        if !p.verify(&pk, &msg, &sig) {
            eprintln!("{}: signature does not verify", p.name());
            continue;
        }
        let mut buf = data;

        let results = [
            measure(samples, target, || {
                black_box(p.sign(black_box(&sk), black_box(&msg)).ok());
            }),
            measure(samples, target, || {
                black_box(p.verify(black_box(&pk), black_box(&msg), black_box(&sig)));
            }),
            measure(samples, target, || {
                black_box(p.generate_key().ok());
            }),
            measure(samples, target, || {
                black_box(p.ecdh(black_box(&sk), black_box(&peer)).ok());
            }),
            measure(samples, target, || {
                black_box(p.aes_cmac(black_box(&key16), black_box(&data)));
            }),
            measure(samples, target, || {
                black_box(
                    p.aes_cbc_encrypt(black_box(&key16), black_box(&iv), &mut buf)
                        .ok(),
                );
            }),
        ];
        print!("{:<18}", p.name());
        for (median, _) in results {
            print!("{median:>11.2}");
        }
        println!();
        print!("{:<18}", "  (min)");
        for (_, min) in results {
            print!("{min:>11.2}");
        }
        println!();
    }
}
