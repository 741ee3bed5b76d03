//! Every catalog scenario meets its expectation, on several seeds: the
//! bugs are found, and the fixes pass.

use racecheck_scenario::{RunSettings, Scenario};

#[test]
fn every_scenario_meets_its_expectation_on_several_seeds() {
    let directory = concat!(env!("CARGO_MANIFEST_DIR"), "/../../scenarios");
    let files = racecheck_scenario::discover(&[directory]).expect("the catalog exists");
    let mut unmet = Vec::new();
    for file in &files {
        let scenario = Scenario::load(file).unwrap_or_else(|error| panic!("{error}"));
        for seed in [0, 1, 2] {
            let settings = RunSettings {
                seed,
                // At most 200 executions here (the catalog run gives the
                // fixes more): every bug is found well within that.
                iterations: scenario.iterations().map(|iterations| iterations.min(200)),
                ..RunSettings::default()
            };
            let outcome = scenario.run(&settings);
            if !outcome.verdict.is_met() {
                unmet.push(format!(
                    "{} (seed {seed}): {}",
                    scenario.name(),
                    outcome.verdict
                ));
            }
        }
    }
    assert!(unmet.is_empty(), "{}", unmet.join("\n"));
}
