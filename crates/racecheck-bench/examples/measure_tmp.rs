//! temp
use racecheck::Strategy;
use racecheck_bench::sctbench::{program, schedules_to_bug};
fn main() {
    let names: Vec<String> = std::env::args().skip(1).collect();
    for name in &names {
        let p = program(name).unwrap();
        for (label, strategy) in [
            ("random", Strategy::Random),
            ("pct1", Strategy::Pct { depth: 1 }),
            ("pct2", Strategy::Pct { depth: 2 }),
            ("pct3", Strategy::Pct { depth: 3 }),
        ] {
            let counts: Vec<Option<u64>> = (0..20)
                .map(|seed| schedules_to_bug(p, strategy.clone(), seed, 20_000))
                .collect();
            let found: Vec<u64> = counts.iter().flatten().copied().collect();
            let mean = if found.is_empty() {
                0.0
            } else {
                found.iter().sum::<u64>() as f64 / found.len() as f64
            };
            println!(
                "{name} {label} found={}/20 mean={mean:.1} max={:?} seed0={:?}",
                found.len(),
                found.iter().max(),
                counts[0]
            );
        }
    }
}
