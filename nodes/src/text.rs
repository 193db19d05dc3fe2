//! Text on images: short labels drawn with the public-domain 8×8 bitmap font of the `font8x8` crate
//! (ASCII, Latin-1 and Greek) onto planar float images, clipped to a width with an ellipsis.

use font8x8::{BASIC_FONTS, GREEK_FONTS, LATIN_FONTS, UnicodeFonts};

/// Width and height of one glyph, in pixels; every glyph advances by this much.
pub const GLYPH: usize = 8;

/// What a clipped label ends with.
const ELLIPSIS: &str = "...";

/// A planar RGB image `[3, height, width]` in the network's range (-1 black, 1 white) to draw on.
pub struct Canvas<'a> {
    data: &'a mut [f32],
    width: usize,
    height: usize,
}

impl<'a> Canvas<'a> {
    /// A canvas over `data`, which must hold `3 × width × height` values.
    pub fn new(data: &'a mut [f32], width: usize, height: usize) -> Self {
        assert_eq!(data.len(), 3 * width * height, "planar RGB image");
        Canvas {
            data,
            width,
            height,
        }
    }

    /// Sets one pixel, ignoring pixels off the canvas.
    fn set(&mut self, x: usize, y: usize, colour: [f32; 3]) {
        if x < self.width && y < self.height {
            let plane = self.width * self.height;
            for (c, value) in colour.into_iter().enumerate() {
                self.data[c * plane + y * self.width + x] = value;
            }
        }
    }

    /// Draws `text` with its top-left corner at (`x`, `y`), clipped to the canvas. Characters the font
    /// lacks are written as close ASCII (`→` as `->`) or `?`.
    pub fn text(&mut self, x: usize, y: usize, text: &str, colour: [f32; 3]) {
        for (i, c) in printable(text).chars().enumerate() {
            let rows = glyph(c);
            for (dy, row) in rows.iter().enumerate() {
                for dx in 0..GLYPH {
                    if row & (1 << dx) != 0 {
                        self.set(x + i * GLYPH + dx, y + dy, colour);
                    }
                }
            }
        }
    }
}

/// `text` with the characters the font lacks replaced by what it has.
pub fn printable(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '→' => out.push_str("->"),
            '←' => out.push_str("<-"),
            '…' => out.push_str(ELLIPSIS),
            '–' | '—' => out.push('-'),
            c if lookup(c).is_some() => out.push(c),
            _ => out.push('?'),
        }
    }
    out
}

fn lookup(c: char) -> Option<[u8; 8]> {
    BASIC_FONTS
        .get(c)
        .or_else(|| LATIN_FONTS.get(c))
        .or_else(|| GREEK_FONTS.get(c))
}

/// The rows of a glyph, bit 0 the leftmost pixel.
fn glyph(c: char) -> [u8; 8] {
    lookup(c).unwrap_or_else(|| BASIC_FONTS.get('?').unwrap_or_default())
}

/// Width of `text` in pixels as [`Canvas::text`] draws it.
pub fn width(text: &str) -> usize {
    printable(text).chars().count() * GLYPH
}

/// `text` shortened with an ellipsis so that it is at most `max_width` pixels wide (empty when not
/// even the ellipsis fits).
pub fn fit(text: &str, max_width: usize) -> String {
    let text = printable(text);
    let max_chars = max_width / GLYPH;
    if text.chars().count() <= max_chars {
        return text;
    }
    let room = max_chars.saturating_sub(ELLIPSIS.len());
    if max_chars < ELLIPSIS.len() {
        return String::new();
    }
    let kept: String = text.chars().take(room).collect();
    format!("{}{ELLIPSIS}", kept.trim_end())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn long_labels_are_ellipsised_to_the_width() {
        assert_eq!(fit("seed 12", 64), "seed 12");
        assert_eq!(fit("seed 3 × seed 7", 64), "seed...");
        assert_eq!(fit("seed 1→seed 2 3/24", 96), "seed 1->s...");
        assert_eq!(fit("seed 12", 16), "");
        assert!(width(&fit("seed 3 × seed 7 and more", 100)) <= 100);
    }

    #[test]
    fn text_lights_exactly_the_glyph_pixels_and_clips_at_the_edge() {
        let (w, h) = (20, 10);
        let mut data = vec![-1.0; 3 * w * h];
        let mut canvas = Canvas::new(&mut data, w, h);
        canvas.text(1, 1, "×A", [1.0, 1.0, 1.0]);
        // Partly off the canvas: drawn where it fits, without panicking.
        canvas.text(18, 8, "W", [1.0, 0.0, 0.0]);
        let lit = |data: &[f32], x0: usize, y0: usize| {
            (0..GLYPH * GLYPH)
                .filter(|i| data[(y0 + i / GLYPH) * w + x0 + i % GLYPH] == 1.0)
                .count()
        };
        let ink = |c: char| {
            glyph(c)
                .iter()
                .map(|r| r.count_ones() as usize)
                .sum::<usize>()
        };
        assert_eq!(lit(&data, 1, 1), ink('×'));
        assert!(ink('×') > 0);
        assert_eq!(&data[..w], &vec![-1.0; w][..], "nothing above the text");
        assert_eq!(printable("a→b…"), "a->b...");
        assert_eq!(printable("雪"), "?");
    }
}
