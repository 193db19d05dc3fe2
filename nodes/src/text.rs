//! Text on images: labels drawn onto planar float images in one of two faces. Small cells get the
//! public-domain 8×8 bitmap font of the `font8x8` crate (ASCII, Latin-1 and Greek), whose crisp pixels
//! read best at that size; larger ones get DejaVu Sans (a subset shipped in `nodes/fonts`, with its
//! licence) rasterised with ab_glyph and blended by coverage. Text too wide for its room wraps onto a
//! second line at a space before it is shortened with an ellipsis.

use std::sync::OnceLock;

use ab_glyph::{Font as _, FontRef, GlyphId, PxScale, ScaleFont, point};
use font8x8::{BASIC_FONTS, GREEK_FONTS, LATIN_FONTS, UnicodeFonts};

/// Width and height of one bitmap glyph, in pixels; every bitmap glyph advances by this much.
pub const GLYPH: usize = 8;

/// What a shortened label ends with.
const ELLIPSIS: &str = "...";

/// The bundled DejaVu Sans subset (see `nodes/fonts/README.md`).
const SANS_TTF: &[u8] = include_bytes!("../fonts/DejaVuSans-subset.ttf");

/// Cells narrower than this get the bitmap font; wider ones DejaVu Sans.
const SANS_FROM_WIDTH: usize = 96;

fn sans() -> &'static FontRef<'static> {
    static SANS: OnceLock<FontRef<'static>> = OnceLock::new();
    SANS.get_or_init(|| FontRef::try_from_slice(SANS_TTF).expect("the bundled font parses"))
}

/// A face and size to write in.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Font {
    /// The 8×8 bitmap font.
    Bitmap,
    /// DejaVu Sans, this many pixels from its ascent to its descent (the line height).
    Sans(u32),
}

impl Font {
    /// The face for labels of images `cell_width` pixels wide: the bitmap font below 96 pixels, else
    /// DejaVu Sans at a ninth of the width (14 px for a 128 px cell), from 13 to 32 px.
    pub fn for_cell(cell_width: usize) -> Font {
        if cell_width < SANS_FROM_WIDTH {
            Font::Bitmap
        } else {
            Font::Sans((cell_width / 9).clamp(13, 32) as u32)
        }
    }

    /// Height of one line of text, in pixels.
    pub fn line_height(self) -> usize {
        match self {
            Font::Bitmap => GLYPH,
            Font::Sans(px) => px as usize,
        }
    }

    /// Room above and below a block of text, and between its lines.
    pub fn margin(self) -> usize {
        (self.line_height() / 4).max(2)
    }

    /// Height of a band holding `lines` lines of text with a margin above and below.
    pub fn band(self, lines: usize) -> usize {
        self.block(lines) + 2 * self.margin()
    }

    /// Height of `lines` lines of text, without the outer margins.
    pub fn block(self, lines: usize) -> usize {
        if lines == 0 {
            return 0;
        }
        lines * self.line_height() + (lines - 1) * self.margin() / 2
    }

    /// `text` with the characters the face lacks replaced by what it has (`→` as `->` in the bitmap
    /// font, `?` for the rest).
    pub fn printable(self, text: &str) -> String {
        let has = |c: char| match self {
            Font::Bitmap => lookup(c).is_some(),
            Font::Sans(_) => sans().glyph_id(c) != GlyphId(0),
        };
        let mut out = String::with_capacity(text.len());
        for c in text.chars() {
            match c {
                c if has(c) => out.push(c),
                '→' => out.push_str("->"),
                '←' => out.push_str("<-"),
                '…' => out.push_str(ELLIPSIS),
                '–' | '—' | '−' => out.push('-'),
                _ => out.push('?'),
            }
        }
        out
    }

    /// Width of `text` in pixels as [`Canvas::write`] draws it.
    pub fn width(self, text: &str) -> usize {
        let text = self.printable(text);
        match self {
            Font::Bitmap => text.chars().count() * GLYPH,
            Font::Sans(px) => sans_advance(px, &text).ceil() as usize,
        }
    }

    /// `text` shortened with an ellipsis so that it is at most `max_width` pixels wide (empty when not
    /// even the ellipsis fits).
    pub fn fit(self, text: &str, max_width: usize) -> String {
        let text = self.printable(text);
        if self.width(&text) <= max_width {
            return text;
        }
        let chars: Vec<char> = text.chars().collect();
        for keep in (0..chars.len()).rev() {
            let kept: String = chars[..keep].iter().collect();
            let shortened = format!("{}{ELLIPSIS}", kept.trim_end());
            if self.width(&shortened) <= max_width {
                return shortened;
            }
        }
        String::new()
    }

    /// `text` as at most `max_lines` lines, each at most `max_width` pixels wide: whole when it fits;
    /// else broken at the space that best balances two lines that both fit (after a comma or before a
    /// `×` when it can); else as much as fits on the first line and the rest shortened on the last.
    pub fn wrap(self, text: &str, max_width: usize, max_lines: usize) -> Vec<String> {
        let text = self.printable(text);
        if max_lines <= 1 || self.width(&text) <= max_width {
            return vec![self.fit(&text, max_width)];
        }
        let spaces: Vec<usize> = text.match_indices(' ').map(|(i, _)| i).collect();
        let split = |i: usize| (text[..i].trim_end(), text[i..].trim_start());
        let best = spaces
            .iter()
            .map(|&i| split(i))
            .filter(|(a, b)| !a.is_empty() && !b.is_empty())
            .map(|(a, b)| (a, b, self.width(a), self.width(b)))
            .filter(|&(_, _, wa, wb)| wa <= max_width && wb <= max_width)
            .min_by_key(|&(a, b, wa, wb)| {
                let at_separator = a.ends_with(',') || b.starts_with('×');
                (!at_separator, wa.max(wb))
            });
        if let Some((a, b, _, _)) = best {
            return vec![a.to_string(), b.to_string()];
        }
        // No break gives two lines that fit: fill the first line, at a space when one fits.
        let first = spaces
            .iter()
            .rev()
            .map(|&i| split(i))
            .find(|(a, _)| !a.is_empty() && self.width(a) <= max_width);
        let (a, b) = match first {
            Some((a, b)) => (a.to_string(), b.to_string()),
            None => {
                let chars: Vec<char> = text.chars().collect();
                let n = (1..=chars.len())
                    .take_while(|&n| {
                        self.width(&chars[..n].iter().collect::<String>()) <= max_width
                    })
                    .last()
                    .unwrap_or(0);
                (
                    chars[..n].iter().collect(),
                    chars[n..]
                        .iter()
                        .collect::<String>()
                        .trim_start()
                        .to_string(),
                )
            }
        };
        let mut lines = vec![a];
        lines.extend(self.wrap(&b, max_width, max_lines - 1));
        lines.retain(|l| !l.is_empty());
        lines
    }
}

/// How far the pen moves writing `text` in DejaVu Sans at `px`, kerning included.
fn sans_advance(px: u32, text: &str) -> f32 {
    let font = sans().as_scaled(PxScale::from(px as f32));
    let mut caret = 0.0;
    let mut previous = None;
    for c in text.chars() {
        let id = font.glyph_id(c);
        if let Some(p) = previous {
            caret += font.kern(p, id);
        }
        caret += font.h_advance(id);
        previous = Some(id);
    }
    caret
}

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

    /// Mixes `colour` into one pixel with weight `coverage` (1 replaces it), ignoring pixels off the
    /// canvas.
    fn blend(&mut self, x: isize, y: isize, colour: [f32; 3], coverage: f32) {
        let (Ok(x), Ok(y)) = (usize::try_from(x), usize::try_from(y)) else {
            return;
        };
        if x < self.width && y < self.height && coverage > 0.0 {
            let plane = self.width * self.height;
            // Within a 16-bit PNG's step of full: solid ink, exactly.
            let coverage = if coverage > 0.9999 { 1.0 } else { coverage };
            for (c, value) in colour.into_iter().enumerate() {
                let pixel = &mut self.data[c * plane + y * self.width + x];
                *pixel = if coverage == 1.0 {
                    value
                } else {
                    *pixel + (value - *pixel) * coverage
                };
            }
        }
    }

    /// Draws one line of `text` in `font` with its top-left corner at (`x`, `y`), clipped to the
    /// canvas. Characters the face lacks are written as close ASCII (`→` as `->`) or `?`.
    pub fn write(&mut self, x: usize, y: usize, text: &str, font: Font, colour: [f32; 3]) {
        let text = font.printable(text);
        let (x, y) = (x as isize, y as isize);
        match font {
            Font::Bitmap => {
                for (i, c) in text.chars().enumerate() {
                    for (dy, row) in glyph(c).iter().enumerate() {
                        for dx in 0..GLYPH {
                            if row & (1 << dx) != 0 {
                                let gx = x + (i * GLYPH + dx) as isize;
                                self.blend(gx, y + dy as isize, colour, 1.0);
                            }
                        }
                    }
                }
            }
            Font::Sans(px) => {
                let face = sans().as_scaled(PxScale::from(px as f32));
                let baseline = face.ascent().round();
                let mut caret = 0.0;
                let mut previous = None;
                for c in text.chars() {
                    let id = face.glyph_id(c);
                    if let Some(p) = previous {
                        caret += face.kern(p, id);
                    }
                    let glyph = id.with_scale_and_position(px as f32, point(caret, baseline));
                    if let Some(outline) = face.outline_glyph(glyph) {
                        let bounds = outline.px_bounds();
                        let (gx, gy) = (bounds.min.x as isize, bounds.min.y as isize);
                        outline.draw(|dx, dy, coverage| {
                            self.blend(
                                x + gx + dx as isize,
                                y + gy + dy as isize,
                                colour,
                                coverage,
                            );
                        });
                    }
                    caret += face.h_advance(id);
                    previous = Some(id);
                }
            }
        }
    }

    /// Draws `lines` one under the other in `font`, the first with its top at `y`, each starting at
    /// `x` plus what `indent` says for its width.
    pub fn write_lines(
        &mut self,
        x: usize,
        y: usize,
        lines: &[String],
        font: Font,
        colour: [f32; 3],
        indent: impl Fn(usize) -> usize,
    ) {
        let step = font.line_height() + font.margin() / 2;
        for (i, line) in lines.iter().enumerate() {
            let dx = indent(font.width(line));
            self.write(x + dx, y + i * step, line, font, colour);
        }
    }
}

fn lookup(c: char) -> Option<[u8; 8]> {
    BASIC_FONTS
        .get(c)
        .or_else(|| LATIN_FONTS.get(c))
        .or_else(|| GREEK_FONTS.get(c))
}

/// The rows of a bitmap glyph, bit 0 the leftmost pixel.
fn glyph(c: char) -> [u8; 8] {
    lookup(c).unwrap_or_else(|| BASIC_FONTS.get('?').unwrap_or_default())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn long_labels_are_ellipsised_to_the_width() {
        let f = Font::Bitmap;
        assert_eq!(f.fit("seed 12", 64), "seed 12");
        assert_eq!(f.fit("seed 3 × seed 7", 64), "seed...");
        assert_eq!(f.fit("seed 1→seed 2 3/24", 96), "seed 1->s...");
        assert_eq!(f.fit("seed 12", 16), "");
        assert!(f.width(&f.fit("seed 3 × seed 7 and more", 100)) <= 100);
        let sans = Font::Sans(14);
        let fitted = sans.fit("seed 3 × seed 7, long-sleeves +3σ", 100);
        assert!(
            fitted.ends_with(ELLIPSIS) && sans.width(&fitted) <= 100,
            "{fitted}"
        );
    }

    #[test]
    fn labels_wrap_to_two_lines_before_they_are_shortened() {
        let f = Font::Bitmap;
        // Sixteen characters in a 128 px cell: one line.
        assert_eq!(f.wrap("seed 102 × seed", 128, 2), ["seed 102 × seed"]);
        // The matrix label the bitmap font used to cut (`seed 102 × se...`): two whole lines, broken
        // before the ×.
        assert_eq!(
            f.wrap("seed 102 × seed 110", 128, 2),
            ["seed 102", "× seed 110"]
        );
        // After a comma rather than at the most balanced space.
        assert_eq!(
            f.wrap("seed 3, long-sleeves -3σ", 160, 2),
            ["seed 3,", "long-sleeves -3σ"]
        );
        // Too long for two lines: the first is filled, the second shortened.
        let lines = f.wrap("projected_w #12, long-sleeves +3σ, red -2σ", 128, 2);
        assert_eq!(lines, ["projected_w #12,", "long-sleeves..."]);
        // One word longer than the line is broken inside the word.
        assert_eq!(f.wrap("abcdefghij", 48, 2), ["abcdef", "ghij"]);
        assert_eq!(f.wrap("seed 102 × seed 110", 64, 1), ["seed..."]);
        // The same holds for DejaVu Sans, whose widths vary by letter.
        let sans = Font::Sans(14);
        for lines in [
            sans.wrap("seed 102 × seed 110", 96, 2),
            sans.wrap("seed 1→seed 2 3/24, long-sleeves +1σ", 128, 2),
        ] {
            assert_eq!(lines.len(), 2, "{lines:?}");
            assert!(
                lines
                    .iter()
                    .all(|l| sans.width(l) <= 128 && !l.contains(ELLIPSIS))
            );
        }
    }

    #[test]
    fn the_face_follows_the_cell_width() {
        assert_eq!(Font::for_cell(64), Font::Bitmap);
        assert_eq!(Font::for_cell(128), Font::Sans(14));
        assert_eq!(Font::for_cell(4096), Font::Sans(32));
        assert_eq!(Font::Bitmap.band(1), GLYPH + 4);
        // Every character a label is made of is in the bundled subset.
        assert_eq!(
            Font::Sans(14).printable("seed 3 × seed 7, c3 −2.5σ → ψ 0.7…"),
            "seed 3 × seed 7, c3 −2.5σ → ψ 0.7…"
        );
        assert_eq!(Font::Sans(14).printable("雪"), "?");
    }

    #[test]
    fn text_lights_exactly_the_glyph_pixels_and_clips_at_the_edge() {
        let (w, h) = (20, 10);
        let mut data = vec![-1.0; 3 * w * h];
        let mut canvas = Canvas::new(&mut data, w, h);
        canvas.write(1, 1, "×A", Font::Bitmap, [1.0, 1.0, 1.0]);
        // Partly off the canvas: drawn where it fits, without panicking.
        canvas.write(18, 8, "W", Font::Bitmap, [1.0, 0.0, 0.0]);
        canvas.write(15, 5, "Wg", Font::Sans(13), [1.0, 0.0, 0.0]);
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
        assert_eq!(Font::Bitmap.printable("a→b…"), "a->b...");
        assert_eq!(Font::Bitmap.printable("雪"), "?");
    }

    #[test]
    fn sans_text_is_antialiased_ink_within_its_line() {
        let font = Font::Sans(14);
        let (w, h) = (80, 20);
        let mut data = vec![1.0; 3 * w * h];
        Canvas::new(&mut data, w, h).write(0, 0, "seed 3 ×", font, [-1.0; 3]);
        let red = &data[..w * h];
        let inked: Vec<usize> = (0..w * h).filter(|&i| red[i] < 1.0).collect();
        let darkest = inked.iter().map(|&i| red[i]).fold(1.0, f32::min);
        assert!(darkest < -0.9, "solid ink: {darkest}");
        assert!(inked.iter().any(|&i| red[i] > -1.0), "antialiased edges");
        let last_row = inked.iter().map(|i| i / w).max().unwrap();
        let last_column = inked.iter().map(|i| i % w).max().unwrap();
        assert!(last_row < font.line_height(), "row {last_row}");
        assert!(last_column < font.width("seed 3 ×"), "column {last_column}");
    }
}
