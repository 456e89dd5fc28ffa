//! Router speed: decisions per second on SMS-length texts (one core), and the
//! time to load and compile every table and the model; and the router's
//! score on the never-tuned holdout set (`tests/data/complaints-holdout.jsonl`,
//! which no training run reads), printed rather than asserted.
//!
//! `cargo bench --bench router`; load time and holdout score are printed
//! before the runs.

use std::path::PathBuf;
use std::time::Instant;

use criterion::{black_box, criterion_group, criterion_main, Criterion, Throughput};
use pintu::routing::Engine;

fn dirs() -> (PathBuf, PathBuf) {
    let root = PathBuf::from(env!("CARGO_MANIFEST_DIR"));
    (root.join("config/routing"), root.join("config/wilayah"))
}

/// SMS-length texts (<= 160 characters) from the labelled sets.
fn sms_texts() -> Vec<String> {
    let root = PathBuf::from(env!("CARGO_MANIFEST_DIR"));
    let mut out = Vec::new();
    for f in [
        "tests/data/complaints-dev.jsonl",
        "tests/data/complaints-router.jsonl",
        "tests/data/complaints-train.jsonl",
    ] {
        for line in std::fs::read_to_string(root.join(f)).unwrap().lines() {
            let v: serde_json::Value = serde_json::from_str(line).unwrap();
            let t = v["text"].as_str().unwrap();
            if t.chars().count() <= 160 {
                out.push(t.to_string());
            }
        }
    }
    out
}

fn bench(c: &mut Criterion) {
    let (routing, wilayah) = dirs();
    let t0 = Instant::now();
    let engine = Engine::load(&routing, &wilayah).unwrap();
    let load = t0.elapsed();
    println!(
        "engine load (all tables, {} patterns): {:.1} ms",
        engine.pattern_count(),
        load.as_secs_f64() * 1000.0
    );

    let root = PathBuf::from(env!("CARGO_MANIFEST_DIR"));
    let holdout = root.join("tests/data/complaints-holdout.jsonl");
    match pintu::routing::cli::eval_with(&engine, &holdout, false) {
        Ok(report) => {
            // Accuracy, reliability and precision/coverage: the part before
            // the per-example errors.
            let summary: String = report
                .split("\nworst categories")
                .next()
                .unwrap_or_default()
                .to_string();
            println!("never-tuned holdout set:\n{summary}");
        }
        Err(e) => println!("holdout set not scored: {e}"),
    }

    let texts = sms_texts();
    let mut g = c.benchmark_group("router");
    g.throughput(Throughput::Elements(texts.len() as u64));
    g.bench_function(format!("decide {} SMS texts", texts.len()), |b| {
        b.iter(|| {
            for t in &texts {
                black_box(engine.decide(None, black_box(t)));
            }
        })
    });
    g.finish();

    let mut g = c.benchmark_group("load");
    g.sample_size(10);
    g.bench_function("load and compile all tables", |b| {
        b.iter(|| black_box(Engine::load(&routing, &wilayah).unwrap()))
    });
    g.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
