//! `#[tokio::main]` on both back ends:
//! `cargo run -p racecheck-tokio --example hello` runs it on tokio,
//! `cargo run -p racecheck-tokio --example hello --features racecheck` as
//! one racecheck execution.

use racecheck_tokio as tokio;
use std::time::Duration;

#[tokio::main]
async fn main() {
    let start = tokio::time::Instant::now();
    let greeter = tokio::spawn(async {
        tokio::time::sleep(Duration::from_millis(20)).await;
        "hello"
    });
    let (greeting, ()) = tokio::join!(greeter, tokio::time::sleep(Duration::from_millis(10)));
    println!(
        "{} after {:?}",
        greeting.expect("the greeter does not panic"),
        start.elapsed()
    );
}
