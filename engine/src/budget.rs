//! The memory budget: validation estimates every node's output from its parameters and its inputs'
//! estimates (see [`crate::Node::estimate`]) and refuses a graph whose values would not fit, before
//! anything runs. A run keeps every node's output until it ends, so the budget covers their sum.

use std::sync::atomic::{AtomicU64, Ordering};

/// The budget unless the user sets another: 4 GiB.
pub const DEFAULT_BUDGET: u64 = 4 << 30;

/// [`DEFAULT_BUDGET`] as the command line writes it.
pub const DEFAULT_BUDGET_TEXT: &str = "4GiB";

/// The environment variable that sets the budget (the `--memory-budget` flag wins over it).
pub const BUDGET_ENV: &str = "DRAPE_MEMORY_BUDGET";

static BUDGET: AtomicU64 = AtomicU64::new(DEFAULT_BUDGET);

/// The memory budget in bytes that validation holds graphs to.
pub fn budget() -> u64 {
    BUDGET.load(Ordering::Relaxed)
}

/// Sets the memory budget for the graphs this process validates from now on.
pub fn set_budget(bytes: u64) {
    BUDGET.store(bytes, Ordering::Relaxed);
}

/// The estimated size of one output value.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Extent {
    /// Items in the batch (designs, frames; 1 for a sheet).
    pub items: u64,
    /// 32-bit values per item.
    pub per_item: u64,
    /// Width and height, for images.
    pub image: Option<(u64, u64)>,
}

impl Extent {
    /// A batch of `items` vectors of `per_item` values each.
    pub fn values(items: u64, per_item: u64) -> Self {
        Extent {
            items,
            per_item,
            image: None,
        }
    }

    /// A batch of `items` RGB images of `width` × `height` pixels.
    pub fn images(items: u64, width: u64, height: u64) -> Self {
        Extent {
            items,
            per_item: width.saturating_mul(height).saturating_mul(3),
            image: Some((width, height)),
        }
    }

    /// Bytes held, saturating at `u64::MAX` (which no budget admits).
    pub fn bytes(&self) -> u64 {
        self.items.saturating_mul(self.per_item).saturating_mul(4)
    }

    /// `16 images of 64 × 64 px` or `1,000 designs of 1,280 values`.
    pub fn describe(&self) -> String {
        let plural = |n: u64, word: &str| {
            format!("{} {word}{}", thousands(n), if n == 1 { "" } else { "s" })
        };
        match self.image {
            Some((w, h)) => format!(
                "{} of {} × {} px",
                plural(self.items, "image"),
                thousands(w),
                thousands(h)
            ),
            None => format!(
                "{} of {} values",
                plural(self.items, "design"),
                thousands(self.per_item)
            ),
        }
    }
}

/// `1234567` → `1,234,567`.
fn thousands(n: u64) -> String {
    let digits = n.to_string();
    let mut out = String::new();
    for (i, c) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i).is_multiple_of(3) {
            out.push(',');
        }
        out.push(c);
    }
    out
}

/// Bytes for people: `512 B`, `3.0 MiB`, `6.2 GiB`.
pub fn human_bytes(bytes: u64) -> String {
    const UNITS: [&str; 6] = ["KiB", "MiB", "GiB", "TiB", "PiB", "EiB"];
    if bytes < 1024 {
        return format!("{bytes} B");
    }
    let mut value = bytes as f64 / 1024.0;
    let mut unit = 0;
    while value >= 1024.0 && unit + 1 < UNITS.len() {
        value /= 1024.0;
        unit += 1;
    }
    format!("{value:.1} {}", UNITS[unit])
}

/// Reads a budget: bytes, or a number with a unit (`512MiB`, `8GiB`, `8G`, `2.5GB`; K/M/G/T, with or
/// without `i`/`iB`/`B`, are all powers of 1024).
pub fn parse_budget(text: &str) -> Result<u64, String> {
    let text = text.trim();
    let split = text
        .find(|c: char| !(c.is_ascii_digit() || c == '.'))
        .unwrap_or(text.len());
    let (number, unit) = text.split_at(split);
    let shift = match unit.trim().to_ascii_lowercase().as_str() {
        "" | "b" => 0,
        "k" | "kb" | "ki" | "kib" => 10,
        "m" | "mb" | "mi" | "mib" => 20,
        "g" | "gb" | "gi" | "gib" => 30,
        "t" | "tb" | "ti" | "tib" => 40,
        other => {
            return Err(format!(
                "unknown unit `{other}` in memory budget `{text}`; write e.g. 512MiB or 8GiB"
            ));
        }
    };
    let value: f64 = number
        .parse()
        .map_err(|_| format!("`{text}` is not a memory size; write e.g. 512MiB or 8GiB"))?;
    let bytes = value * (1u64 << shift) as f64;
    if !(bytes >= 1.0 && bytes < u64::MAX as f64) {
        return Err(format!(
            "memory budget `{text}` is out of range; write e.g. 512MiB or 8GiB"
        ));
    }
    Ok(bytes as u64)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn budgets_parse_with_units_and_refuse_nonsense() {
        assert_eq!(parse_budget(DEFAULT_BUDGET_TEXT), Ok(DEFAULT_BUDGET));
        assert_eq!(parse_budget("4096"), Ok(4096));
        assert_eq!(parse_budget("512MiB"), Ok(512 << 20));
        assert_eq!(parse_budget("8G"), Ok(8 << 30));
        assert_eq!(parse_budget("2.5 GB"), Ok(5 << 29));
        for bad in ["", "lots", "8 parsecs", "0", "-1G", "NaN", "1e30T"] {
            assert!(parse_budget(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn extents_count_and_describe_saturating() {
        let sheet = Extent::images(1, 20_736, 20_736);
        assert_eq!(sheet.bytes(), 20_736 * 20_736 * 3 * 4);
        assert_eq!(sheet.describe(), "1 image of 20,736 × 20,736 px");
        assert_eq!(
            Extent::values(1_000_000, 1280).describe(),
            "1,000,000 designs of 1,280 values"
        );
        assert_eq!(Extent::values(u64::MAX, 2).bytes(), u64::MAX);
        assert_eq!(human_bytes(5 << 30), "5.0 GiB");
        assert_eq!(human_bytes(1000), "1000 B");
    }
}
