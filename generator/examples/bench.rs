//! Runs the generator benchmark from the command line:
//! `cargo run --release -p drape-generator --example bench -- [--model DIR] [--batch 1,8,32]
//! [--seconds 2] [--profile] [--no-config-f]`.

use drape_generator::bench::{self, BenchOptions};

fn main() {
    let mut options = BenchOptions::default();
    let mut args = std::env::args().skip(1);
    while let Some(arg) = args.next() {
        let mut value = || {
            args.next()
                .unwrap_or_else(|| usage(&format!("{arg} needs a value")))
        };
        match arg.as_str() {
            "--model" => options.model_dir = Some(value().into()),
            "--batch" => {
                options.batches = value()
                    .split(',')
                    .map(|b| b.trim().parse().unwrap_or_else(|_| usage("bad batch size")))
                    .collect()
            }
            "--seconds" => {
                options.min_seconds = value().parse().unwrap_or_else(|_| usage("bad --seconds"))
            }
            "--profile" => options.profile = true,
            "--no-config-f" => options.config_f = false,
            other => usage(&format!("unknown argument {other}")),
        }
    }
    match bench::run(&options, |result| println!("{result}")) {
        Ok(report) => print!("{report}"),
        Err(err) => {
            eprintln!("error: {err}");
            std::process::exit(1);
        }
    }
}

fn usage(problem: &str) -> ! {
    eprintln!(
        "{problem}\nusage: bench [--model DIR] [--batch 1,8,32] [--seconds S] [--profile] [--no-config-f]"
    );
    std::process::exit(2)
}
