//! The catalog's scraper pair under the profiler: holding the database lock
//! across the fetch makes the scrapers wait; holding it only around the
//! write does not, and the what-if of the slow one's critical section
//! predicts what the fix saves.

use racecheck::Contention;
use racecheck_scenario::{RunSettings, Scenario};

fn scenario(name: &str) -> Scenario {
    let path = format!("{}/../../scenarios/{name}.toml", env!("CARGO_MANIFEST_DIR"));
    Scenario::load(path.as_ref()).unwrap_or_else(|error| panic!("{error}"))
}

fn profile(scenario: &Scenario, settings: RunSettings) -> Contention {
    let outcome = scenario.run(&RunSettings {
        profile: true,
        ..settings
    });
    assert!(outcome.verdict.is_met(), "{}", outcome.verdict);
    outcome
        .report
        .contention()
        .expect("profiling was on")
        .clone()
}

#[test]
fn the_fix_waits_less_and_the_what_if_predicts_the_drop() {
    let slow_scenario = scenario("web_scraper_lock_across_fetch");
    let slow = profile(&slow_scenario, RunSettings::default());
    let fixed = profile(
        &scenario("web_scraper_lock_around_write"),
        RunSettings::default(),
    );
    let (slow_lock, fixed_lock) = (&slow.rows()[0], &fixed.rows()[0]);
    assert_eq!(slow_lock.object, "Mutex 'db_lock'");
    assert_eq!(fixed_lock.object, "Mutex 'db_lock'");
    assert_eq!(slow.executions, 200);
    // Per execution: 11 + 22 ms of waiting against 1 + 2 ms.
    assert_eq!(slow_lock.wait_total.ns, 200 * 33_000_000);
    assert_eq!(fixed_lock.wait_total.ns, 200 * 3_000_000);
    assert!(fixed_lock.wait_p99 < slow_lock.wait_p99);

    // The section is the `with` block holding the lock across the fetch.
    let section = &slow.sections()[0];
    assert!(
        section
            .site
            .ends_with("web_scraper_lock_across_fetch.toml:19:5"),
        "{}",
        section.site
    );
    let without = profile(
        &slow_scenario,
        RunSettings {
            instant_section: Some(section.location),
            ..RunSettings::default()
        },
    );
    let what_if = slow.what_if(section.location, &without);
    let measured = what_if.measured_drop_percent;
    assert!(measured > 90.0, "{what_if:?}");
    assert!(
        what_if.error_percent() <= 0.05 * measured,
        "predicted {:.2}%, measured {measured:.2}%",
        what_if.predicted_drop_percent
    );
}
