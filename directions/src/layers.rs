//! Layer ranges of an edit: which ws it changes, written `"0..8"` (end excluded), `"0..=7"` or `"5"`.

use std::fmt;

/// The ws `[start, end)` an edit changes (end-exclusive, as in GANSpace's code).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct LayerRange {
    /// First layer changed.
    pub start: usize,
    /// One past the last layer changed.
    pub end: usize,
}

impl LayerRange {
    /// Every one of `num_ws` layers.
    pub fn all(num_ws: usize) -> Self {
        LayerRange {
            start: 0,
            end: num_ws,
        }
    }

    /// An error message when the range does not fit a model with `num_ws` layers.
    pub fn problem(&self, num_ws: usize) -> Option<String> {
        (self.end > num_ws).then(|| {
            format!(
                "layers {self} reach past the model's {num_ws} ws (valid layers are 0..{num_ws})"
            )
        })
    }
}

impl fmt::Display for LayerRange {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}..{}", self.start, self.end)
    }
}

/// Parses `"start..end"` (end excluded), `"start..=last"` or a single layer `"n"`; the range must
/// not be empty.
pub fn parse_layers(text: &str) -> Result<LayerRange, String> {
    let text = text.trim();
    let expected = "write layers as \"start..end\" (end excluded, e.g. \"0..8\"), \"start..=last\" or one layer \"n\"";
    let number = |s: &str| s.trim().parse::<usize>().map_err(|_| expected.to_string());
    let (start, end) = if let Some((a, b)) = text.split_once("..=") {
        (number(a)?, number(b)? + 1)
    } else if let Some((a, b)) = text.split_once("..") {
        (number(a)?, number(b)?)
    } else {
        let n = number(text)?;
        (n, n + 1)
    };
    if end <= start {
        return Err(format!("the layer range \"{text}\" is empty"));
    }
    Ok(LayerRange { start, end })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_the_three_forms_and_refuses_empty_ranges() {
        assert_eq!(parse_layers("0..8"), Ok(LayerRange { start: 0, end: 8 }));
        assert_eq!(parse_layers("2..=3"), Ok(LayerRange { start: 2, end: 4 }));
        assert_eq!(parse_layers(" 5 "), Ok(LayerRange { start: 5, end: 6 }));
        assert!(parse_layers("4..4").unwrap_err().contains("empty"));
        assert!(parse_layers("a..b").unwrap_err().contains("end excluded"));
        assert_eq!(
            LayerRange { start: 0, end: 9 }.problem(8).unwrap(),
            "layers 0..9 reach past the model's 8 ws (valid layers are 0..8)"
        );
    }
}
