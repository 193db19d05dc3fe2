//! A run's progress for people: a bar on a terminal (nodes, then designs done / total with designs per
//! second and the time left while a batch streams), and plain lines every few seconds when standard
//! error is not a terminal (a cluster job's log).

use std::io::IsTerminal;
use std::time::{Duration, Instant};

use drape_engine::Event;
use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};

/// How often a log (not a terminal) gets a progress line.
pub const LOG_INTERVAL: Duration = Duration::from_secs(10);

/// The environment variable that sets the log interval in seconds (for tests and busy logs).
const LOG_INTERVAL_ENV: &str = "DRAPE_PROGRESS_INTERVAL";

/// Reports a run's events.
pub struct Progress {
    bar: Option<ProgressBar>,
    /// A streamed batch reported its designs: they are the progress from now on.
    designs_shown: bool,
    started: Instant,
    last_line: Instant,
    interval: Duration,
    /// A line was printed since the last final one.
    logged: bool,
    verbose: bool,
}

impl Progress {
    /// A bar on a terminal, periodic lines otherwise; `verbose` also prints every node's status.
    pub fn new(verbose: bool) -> Self {
        let bar = std::io::stderr().is_terminal().then(|| {
            let bar = ProgressBar::with_draw_target(Some(0), ProgressDrawTarget::stderr());
            bar.set_style(
                ProgressStyle::with_template("{spinner} [{pos}/{len}] {msg} {elapsed}")
                    .expect("valid template"),
            );
            bar
        });
        let interval = std::env::var(LOG_INTERVAL_ENV)
            .ok()
            .and_then(|s| s.parse::<f64>().ok())
            .filter(|s| s.is_finite() && *s >= 0.0)
            .map_or(LOG_INTERVAL, Duration::from_secs_f64);
        Progress {
            bar,
            designs_shown: false,
            started: Instant::now(),
            last_line: Instant::now(),
            interval,
            logged: false,
            verbose,
        }
    }

    /// Takes one event of the run.
    pub fn event(&mut self, event: Event<'_>) {
        match event {
            Event::Started { id, index, total } => {
                if let Some(bar) = self.bar.as_ref().filter(|_| !self.designs_shown) {
                    bar.set_length(total as u64);
                    bar.set_position(index as u64);
                    bar.set_message(id.to_string());
                }
            }
            // Within a streamed batch a node's own counts are per chunk: the designs tell more.
            Event::Progress { .. } if self.designs_shown => {}
            Event::Progress { id, done, total } => match &self.bar {
                Some(bar) => bar.set_message(format!("{id} {done}/{total}")),
                None => self.log(|| format!("{id}: {done}/{total}"), done == total),
            },
            Event::Designs { done, total } => self.designs(done, total),
            Event::Finished(record) => {
                if let Some(bar) = self.bar.as_ref().filter(|_| !self.designs_shown) {
                    bar.inc(1);
                }
                if self.verbose {
                    let line = format!(
                        "{:>8} {} ({})",
                        crate::run::status_word(&record.status),
                        record.id,
                        record.op
                    );
                    self.suspend(|| eprintln!("{line}"));
                }
            }
        }
    }

    /// A streamed batch got this far.
    fn designs(&mut self, done: usize, total: usize) {
        let seconds = self.started.elapsed().as_secs_f64();
        let first = !std::mem::replace(&mut self.designs_shown, true);
        match &self.bar {
            Some(bar) => {
                if first {
                    bar.set_style(
                        ProgressStyle::with_template(
                            "{bar:30} {human_pos}/{human_len} designs, {per_sec}, {eta} left",
                        )
                        .expect("valid template"),
                    );
                    bar.reset();
                    bar.set_length(total as u64);
                }
                bar.set_position(done as u64);
            }
            None => self.log(
                || {
                    let rate = done as f64 / seconds.max(1e-9);
                    let left = (total - done) as f64 / rate.max(1e-9);
                    format!(
                        "designs: {done}/{total} ({:.0} %), {rate:.1} designs/s, {} left",
                        100.0 * done as f64 / total.max(1) as f64,
                        clock(left)
                    )
                },
                done == total,
            ),
        }
    }

    /// Prints a progress line when the interval has passed, and the final one (`last`) of a run that
    /// printed any: a short run prints none.
    fn log(&mut self, line: impl FnOnce() -> String, last: bool) {
        if self.last_line.elapsed() >= self.interval || (last && self.logged) {
            self.last_line = Instant::now();
            self.logged = !last;
            eprintln!("progress: {}", line());
        }
    }

    /// Runs `f` with the bar out of the way.
    fn suspend(&self, f: impl FnOnce()) {
        match &self.bar {
            Some(bar) => bar.suspend(f),
            None => f(),
        }
    }

    /// Clears the bar at the end of the run.
    pub fn finish(&self) {
        if let Some(bar) = &self.bar {
            bar.finish_and_clear();
        }
    }
}

/// `75 s`, `12 min 5 s`, `3 h 20 min`.
fn clock(seconds: f64) -> String {
    let s = seconds.round().max(0.0) as u64;
    match s {
        0..60 => format!("{s} s"),
        60..3600 => format!("{} min {} s", s / 60, s % 60),
        _ => format!("{} h {} min", s / 3600, s % 3600 / 60),
    }
}

#[cfg(test)]
mod tests {
    use super::clock;

    #[test]
    fn times_left_read_naturally() {
        assert_eq!(clock(4.4), "4 s");
        assert_eq!(clock(725.0), "12 min 5 s");
        assert_eq!(clock(12_000.0), "3 h 20 min");
    }
}
