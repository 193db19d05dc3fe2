//! `grid`: a contact sheet of a batch of images, as one image, optionally enlarged, with a title and
//! the designs' labels: once per row and column for a matrix or strip, under each cell otherwise.

use std::collections::HashMap;
use std::path::Path;
use std::sync::Arc;

use drape_engine::{
    Design, Extent, Images, Node, NodeContext, NodeError, ParamDefault, ParamProblem, ParamSpec,
    ParamType, ParamValue, Params, PortSpec, Value, ValueType,
};

use crate::sheet_labels::{SheetLabels, sheet_labels};
use crate::text::{Canvas, Font};

/// See the module docs.
pub struct Grid;

/// Largest sheet side; beyond this a PNG viewer struggles and memory grows fast.
const MAX_SIDE: usize = 16_384;

/// Lines a label, header, caption or title may take before it is shortened with `...`.
const MAX_LINES: usize = 2;

impl Node for Grid {
    fn name(&self) -> &'static str {
        "grid"
    }

    fn doc(&self) -> &'static str {
        "A contact sheet: every image of a batch laid out in rows, as one image.\n\
         Designs fill rows left to right in batch order; the sheet is a batch of one image. `labels` \
         writes what the designs' labels say (`seed 12`, `seed 3 × seed 7`, `seed 3, red +2σ`). When \
         the batch is a matrix or a strip — every part of the labels that varies is the same along \
         each row or down each column, as in MixLayers' matrices and ApplyDirection's strips — each \
         part is written once: row headers at the left (`seed 3`), column headers on top (`seed 10`, \
         `-2σ`) and what all designs share above them. Otherwise each design's label goes under its \
         cell. Text wraps to two lines before it is shortened with ...; it is an 8-pixel bitmap font \
         under cells narrower than 96 pixels and DejaVu Sans, sized to the cell, from there on. \
         `scale` enlarges small designs (pixel for pixel) so they and their labels are legible."
    }

    fn inputs(&self) -> &'static [PortSpec] {
        const IN: &[PortSpec] = &[PortSpec::new(
            "images",
            ValueType::Images,
            "The images to lay out.",
        )];
        IN
    }

    fn outputs(&self) -> &'static [PortSpec] {
        const OUT: &[PortSpec] = &[PortSpec::new(
            "sheet",
            ValueType::Images,
            "One image holding the whole batch.",
        )];
        OUT
    }

    fn params(&self) -> &'static [ParamSpec] {
        const PARAMS: &[ParamSpec] = &[
            ParamSpec {
                name: "columns",
                ty: ParamType::Int { min: 1, max: 1024 },
                default: ParamDefault::Optional,
                doc: "Images per row; a near-square layout when left out.",
            },
            ParamSpec {
                name: "padding",
                ty: ParamType::Int { min: 0, max: 256 },
                default: ParamDefault::Int(2),
                doc: "Pixels between images and around the sheet.",
            },
            ParamSpec {
                name: "background",
                ty: ParamType::Float { min: 0.0, max: 1.0 },
                default: ParamDefault::Float(1.0),
                doc: "Grey level of the padding: 0 black, 1 white. Text is black on light, white on dark.",
            },
            ParamSpec {
                name: "scale",
                ty: ParamType::Int { min: 1, max: 16 },
                default: ParamDefault::Int(1),
                doc: "Enlarge each image this many times (nearest pixel); 2 writes a 64 px model's labels in DejaVu Sans.",
            },
            ParamSpec {
                name: "labels",
                ty: ParamType::Bool,
                default: ParamDefault::Bool(false),
                doc: "Write the designs' labels: as row and column headers for a matrix or strip, else under each cell.",
            },
            ParamSpec {
                name: "rows",
                ty: ParamType::List(&ParamType::Text),
                default: ParamDefault::EmptyList,
                doc: "Headers for the rows, one per row, written at their left in place of those read from the labels (with or without `labels`).",
            },
            ParamSpec {
                name: "title",
                ty: ParamType::Text,
                default: ParamDefault::Optional,
                doc: "Text above the sheet.",
            },
        ];
        PARAMS
    }

    fn estimate(
        &self,
        params: &Params,
        inputs: &HashMap<&'static str, Extent>,
        _model_dir: Option<&Path>,
    ) -> Option<Vec<Extent>> {
        // Labels add a band or two; a sheet over the largest side is refused before it is drawn.
        let (w, h) = size_without_text(params, inputs.get("images")?)?;
        Some(vec![Extent::images(
            1,
            w.min(MAX_SIDE as u64),
            h.min(MAX_SIDE as u64),
        )])
    }

    fn check_inputs(
        &self,
        params: &Params,
        inputs: &HashMap<&'static str, Extent>,
    ) -> Vec<ParamProblem> {
        let Some((w, h)) = inputs
            .get("images")
            .and_then(|i| size_without_text(params, i))
        else {
            return Vec::new();
        };
        if w <= MAX_SIDE as u64 && h <= MAX_SIDE as u64 {
            return Vec::new();
        }
        vec![ParamProblem {
            param: None,
            message: format!(
                "the sheet would be at least {w}×{h} pixels, over {MAX_SIDE}; set `columns` or a \
                 smaller `scale` or `padding`, or split the batch over several grids"
            ),
        }]
    }

    fn run(&self, ctx: &mut NodeContext<'_>) -> Result<Vec<Value>, NodeError> {
        let Value::Images(images) = ctx.required_input("images")? else {
            return Err(NodeError::new("input `images` is not an image batch"));
        };
        let params = ctx.params;
        let rows = params
            .list("rows")?
            .iter()
            .map(|v| match v {
                ParamValue::Text(t) => Ok(t.as_str()),
                _ => Err(NodeError::new("`rows` holds something other than text").at_param("rows")),
            })
            .collect::<Result<Vec<_>, _>>()?;
        let layout = Layout {
            columns: params.opt_int("columns")?.map(|c| c as usize),
            padding: params.int("padding")? as usize,
            background: params.float("background")? as f32,
            scale: params.int("scale")? as usize,
            labels: params.bool("labels")?,
            rows,
            title: params
                .get("title")
                .map(|_| params.text("title"))
                .transpose()?,
        };
        Ok(vec![Value::Images(lay_out(images, &layout)?)])
    }
}

/// How a sheet is laid out.
struct Layout<'a> {
    columns: Option<usize>,
    padding: usize,
    /// Grey level, 0 black to 1 white.
    background: f32,
    scale: usize,
    labels: bool,
    /// Row headers given by the graph; empty for none.
    rows: Vec<&'a str>,
    title: Option<&'a str>,
}

/// The text of a sheet, each piece wrapped to the lines it is drawn as.
#[derive(Debug, Default, PartialEq)]
struct Texts {
    title: Vec<String>,
    caption: Vec<String>,
    /// Per row, left of it; empty for none.
    rows: Vec<Vec<String>>,
    /// Per column, above it; empty for none.
    columns: Vec<Vec<String>>,
    /// Per design, under it; empty for none.
    cells: Vec<Vec<String>>,
}

/// The most lines any of `texts` takes.
fn most_lines(texts: &[Vec<String>]) -> usize {
    texts.iter().map(Vec::len).max().unwrap_or(0)
}

/// The row and column headers or cell labels of a sheet of `designs`, `columns` to a row, in cells
/// `w` pixels wide, and the caption still to wrap to the sheet's width.
fn label_texts(
    designs: &[Design],
    columns: usize,
    w: usize,
    font: Font,
    layout: &Layout<'_>,
) -> (Texts, String) {
    let wrap = |text: &String| font.wrap(text, w, MAX_LINES);
    let mut texts = Texts::default();
    let mut caption = String::new();
    if layout.labels {
        match sheet_labels(designs, columns) {
            SheetLabels::Cells(labels) => texts.cells = labels.iter().map(wrap).collect(),
            SheetLabels::Headers {
                caption: shared,
                rows,
                columns,
            } => {
                caption = shared;
                texts.rows = rows.iter().map(wrap).collect();
                texts.columns = columns.iter().map(wrap).collect();
            }
        }
    }
    if !layout.rows.is_empty() {
        texts.rows = layout
            .rows
            .iter()
            .map(|l| font.wrap(l, w, MAX_LINES))
            .collect();
    }
    (texts, caption)
}

/// Columns and rows of a sheet of `n` designs: `columns` to a row, or near-square.
fn shape(n: usize, columns: Option<usize>) -> (usize, usize) {
    let columns = match columns {
        Some(c) => c.min(n),
        None => (n as f64).sqrt().ceil() as usize,
    }
    .max(1);
    (columns, n.div_ceil(columns))
}

/// The sheet's size in pixels without its text, from the parameters and the images' estimate.
fn size_without_text(params: &Params, images: &Extent) -> Option<(u64, u64)> {
    let (w, h) = images.image?;
    let columns = params.opt_int("columns").ok()?.map(|c| c as usize);
    let (columns, rows) = shape(usize::try_from(images.items).ok()?, columns);
    let (pad, scale) = (
        params.int("padding").ok()? as u64,
        params.int("scale").ok()? as u64,
    );
    let cells = |count: usize, side: u64| {
        (count as u64)
            .checked_mul(side.checked_mul(scale)?.checked_add(pad)?)?
            .checked_add(pad)
    };
    Some((cells(columns, w)?, cells(rows, h)?))
}

/// The contact sheet of `images`.
fn lay_out(images: &Images, layout: &Layout<'_>) -> Result<Images, NodeError> {
    let n = images.len();
    if n == 0 {
        return Err(NodeError::new(
            "the batch is empty; there is nothing to lay out",
        ));
    }
    let (columns, rows) = shape(n, layout.columns);
    if !layout.rows.is_empty() && layout.rows.len() != rows {
        return Err(NodeError::new(format!(
            "`rows` gives {} headers for a sheet of {rows} rows",
            layout.rows.len()
        ))
        .at_param("rows"));
    }
    let (pad, s) = (layout.padding, layout.scale);
    let (w, h) = (images.width * s, images.height * s);
    let font = Font::for_cell(w);
    let (mut texts, caption) = label_texts(&images.designs, columns, w, font, layout);
    let wrap = |text: &str, width: usize| font.wrap(text, width, MAX_LINES);

    // Row headers take the width of their widest line and a gap before the images.
    let gap = 2 * font.margin();
    let row_area = texts
        .rows
        .iter()
        .flatten()
        .map(|line| font.width(line))
        .max()
        .map_or(0, |widest| widest + gap);
    let sheet_w = pad + row_area + columns * (w + pad);
    let text_w = sheet_w.saturating_sub(2 * pad);
    texts.title = layout.title.map_or_else(Vec::new, |t| wrap(t, text_w));
    if !caption.is_empty() {
        texts.caption = wrap(&caption, text_w);
    }
    let band = |lines: usize| if lines == 0 { 0 } else { font.band(lines) };
    let title_h = band(texts.title.len());
    let caption_h = band(texts.caption.len());
    let header_h = band(most_lines(&texts.columns));
    let label_h = band(most_lines(&texts.cells));
    let top = title_h + caption_h + header_h;
    let sheet_h = top + rows * (h + label_h + pad) + pad;
    if sheet_w > MAX_SIDE || sheet_h > MAX_SIDE {
        return Err(NodeError::new(format!(
            "the sheet would be {sheet_w}×{sheet_h} pixels, over {MAX_SIDE}"
        ))
        .with_help("set `columns` or a smaller `scale`, or split the batch over several grids"));
    }
    let cell = |i: usize| {
        (
            pad + row_area + (i % columns) * (w + pad),
            top + pad + (i / columns) * (h + label_h + pad),
        )
    };

    let background = layout.background * 2.0 - 1.0;
    let ink = [if layout.background > 0.5 { -1.0 } else { 1.0 }; 3];
    let plane = sheet_w * sheet_h;
    let mut data = vec![background; 3 * plane];
    for i in 0..n {
        let (x0, y0) = cell(i);
        let item = images.item(i);
        for c in 0..3 {
            let src = &item[c * images.width * images.height..];
            for y in 0..h {
                let row = &src[(y / s) * images.width..][..images.width];
                let dst = &mut data[c * plane + (y0 + y) * sheet_w + x0..][..w];
                for (x, value) in dst.iter_mut().enumerate() {
                    *value = row[x / s];
                }
            }
        }
    }

    let mut canvas = Canvas::new(&mut data, sheet_w, sheet_h);
    let (margin, left, centred) = (
        font.margin(),
        |_| 0,
        |width: usize| w.saturating_sub(width) / 2,
    );
    canvas.write_lines(pad, margin, &texts.title, font, ink, left);
    canvas.write_lines(pad, title_h + margin, &texts.caption, font, ink, left);
    for (c, lines) in texts.columns.iter().enumerate() {
        // Bottom-aligned, so that one-line headers sit as close to their images as two-line ones.
        let y = top - margin - font.block(lines.len());
        canvas.write_lines(cell(c).0, y, lines, font, ink, centred);
    }
    for (r, lines) in texts.rows.iter().enumerate() {
        let y = cell(r * columns).1 + h.saturating_sub(font.block(lines.len())) / 2;
        canvas.write_lines(pad, y, lines, font, ink, left);
    }
    for (i, lines) in texts.cells.iter().enumerate() {
        let (x0, y0) = cell(i);
        canvas.write_lines(x0, y0 + h + margin, lines, font, ink, left);
    }

    let label = format!(
        "grid of {n}: {}",
        images
            .designs
            .iter()
            .map(|d| d.label.as_str())
            .collect::<Vec<_>>()
            .join(", ")
    );
    Ok(Images {
        width: sheet_w,
        height: sheet_h,
        data: Arc::from(data),
        designs: Arc::from(vec![Design::labelled(label)]),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Three 16×8 images, each a different flat grey, labelled `seed 1`, `seed 22`, `seed 3 × seed 7`.
    fn batch() -> Images {
        flat(
            16,
            8,
            vec![
                Design::from_seed(1),
                Design::from_seed(22),
                Design::labelled("seed 3 × seed 7"),
            ],
        )
    }

    /// `w`×`h` images of flat greys (-0.5, 0, 0.5, -0.5, …), one per design.
    fn flat(w: usize, h: usize, designs: Vec<Design>) -> Images {
        let data: Vec<f32> = (0..designs.len())
            .flat_map(|i| vec![[-0.5f32, 0.0, 0.5][i % 3]; 3 * w * h])
            .collect();
        Images {
            width: w,
            height: h,
            data: Arc::from(data),
            designs: Arc::from(designs),
        }
    }

    /// MixLayers' labels for seeds 100–103 (rows) mixed with 110–113 (columns): the labels the
    /// bitmap font cut to `seed 102 × se...` under 128 px cells.
    fn mix_matrix() -> Images {
        let designs = (100..104)
            .flat_map(|a| (110..114).map(move |b| Design::labelled(format!("seed {a} × seed {b}"))))
            .collect();
        flat(64, 64, designs)
    }

    fn layout(labels: bool, scale: usize) -> Layout<'static> {
        Layout {
            columns: Some(3),
            padding: 2,
            background: 1.0,
            scale,
            labels,
            rows: Vec::new(),
            title: None,
        }
    }

    /// Rows `y0..y1` of the red plane as text: `#` for black ink, `.` for background, `o` otherwise.
    fn picture(sheet: &Images, y0: usize, y1: usize) -> String {
        (y0..y1)
            .map(|y| {
                (0..sheet.width)
                    .map(|x| match sheet.data[y * sheet.width + x] {
                        -1.0 => '#',
                        1.0 => '.',
                        _ => 'o',
                    })
                    .collect::<String>()
            })
            .collect::<Vec<_>>()
            .join("\n")
    }

    /// The pixels of the red plane in the rectangle `x0..x1` × `y0..y1` that are not white.
    fn inked(sheet: &Images, (x0, x1): (usize, usize), (y0, y1): (usize, usize)) -> usize {
        (y0..y1)
            .flat_map(|y| (x0..x1).map(move |x| (x, y)))
            .filter(|&(x, y)| sheet.data[y * sheet.width + x] != 1.0)
            .count()
    }

    #[test]
    fn a_labelled_sheet_differs_only_in_its_label_band() {
        let plain = lay_out(&batch(), &layout(false, 4)).unwrap();
        let labelled = lay_out(&batch(), &layout(true, 4)).unwrap();
        assert_eq!(plain.width, labelled.width);
        // `seed 3 × seed 7` is too wide for a 64 px cell: the band holds two lines.
        let band_h = Font::Bitmap.band(2);
        assert_eq!(labelled.height, plain.height + band_h);
        // One row of cells: pad, 32 image rows, the band, pad. Without the band, the sheets match.
        let band = 2 + 32..2 + 32 + band_h;
        for c in 0..3 {
            let rows = |sheet: &Images, skip: Option<&std::ops::Range<usize>>| -> Vec<f32> {
                let plane =
                    &sheet.data[c * sheet.width * sheet.height..][..sheet.width * sheet.height];
                plane
                    .chunks(sheet.width)
                    .enumerate()
                    .filter(|(y, _)| skip.is_none_or(|b| !b.contains(y)))
                    .flat_map(|(_, row)| row.to_vec())
                    .collect()
            };
            assert_eq!(rows(&labelled, Some(&band)), rows(&plain, None));
        }
        insta::assert_snapshot!(picture(&labelled, band.start, band.end));
    }

    #[test]
    fn scale_enlarges_pixel_for_pixel_and_titles_add_a_band() {
        let one = lay_out(&batch(), &layout(false, 1)).unwrap();
        let three = lay_out(&batch(), &layout(false, 3)).unwrap();
        assert_eq!((one.width, one.height), (3 * 18 + 2, 8 + 4));
        assert_eq!((three.width, three.height), (3 * 50 + 2, 24 + 4));
        // The second image (grey 0) starts at x = 2 + 50 in the enlarged sheet.
        assert_eq!(three.data[2 * three.width + 52], 0.0);
        assert_eq!(three.data[2 * three.width + 51], 1.0);
        let titled = lay_out(
            &batch(),
            &Layout {
                title: Some("truncation 0.7"),
                ..layout(false, 3)
            },
        )
        .unwrap();
        let band = Font::Bitmap.band(1);
        assert_eq!(titled.height, three.height + band);
        assert!(picture(&titled, 0, band).contains('#'));
    }

    #[test]
    fn a_mixing_matrix_is_labelled_once_per_row_and_column_in_full() {
        let images = mix_matrix();
        let layout = Layout {
            columns: Some(4),
            scale: 2,
            ..layout(true, 2)
        };
        let font = Font::for_cell(128);
        assert_eq!(font, Font::Sans(14));
        let (texts, caption) = label_texts(&images.designs, 4, 128, font, &layout);
        let lines = |items: &[&str]| -> Vec<Vec<String>> {
            items.iter().map(|s| vec![s.to_string()]).collect()
        };
        assert_eq!(caption, "");
        assert_eq!(
            texts.rows,
            lines(&["seed 100", "seed 101", "seed 102", "seed 103"])
        );
        assert_eq!(
            texts.columns,
            lines(&["seed 110", "seed 111", "seed 112", "seed 113"])
        );
        assert!(texts.cells.is_empty());

        let sheet = lay_out(&images, &layout).unwrap();
        let row_area = font.width("seed 100") + 2 * font.margin();
        let header_h = font.band(1);
        assert_eq!(sheet.width, 2 + row_area + 4 * 130);
        assert_eq!(sheet.height, header_h + 4 * 130 + 2);
        // Ink over each column and left of each row, none between the rows of images.
        for c in 0..4 {
            let x0 = 2 + row_area + c * 130;
            assert!(
                inked(&sheet, (x0, x0 + 128), (0, header_h)) > 20,
                "column {c}"
            );
        }
        for r in 0..4 {
            let y0 = header_h + 2 + r * 130;
            assert!(inked(&sheet, (0, row_area), (y0, y0 + 128)) > 20, "row {r}");
            assert_eq!(inked(&sheet, (0, sheet.width), (y0 + 128, y0 + 130)), 0);
        }
    }

    #[test]
    fn labels_under_cells_wrap_to_two_lines_instead_of_being_cut() {
        // The matrix in three columns is no matrix: each cell is labelled, on two whole lines.
        let images = mix_matrix();
        let (texts, _) = label_texts(&images.designs, 3, 128, Font::Sans(14), &layout(true, 2));
        assert_eq!(texts.cells.len(), 16);
        assert!(texts.rows.is_empty() && texts.columns.is_empty());
        assert_eq!(texts.cells[6], ["seed 101", "× seed 112"]);
        for lines in &texts.cells {
            assert!(lines.len() <= 2 && lines.iter().all(|l| !l.contains("...")));
        }
        let sheet = lay_out(
            &images,
            &Layout {
                columns: Some(3),
                ..layout(true, 2)
            },
        )
        .unwrap();
        assert_eq!(sheet.height, 6 * (128 + Font::Sans(14).band(2) + 2) + 2);
    }

    #[test]
    fn given_row_headers_replace_those_read_from_the_labels() {
        let images = mix_matrix();
        let rows = vec!["a long header for the first row", "two", "three", "four"];
        let layout = Layout {
            columns: Some(4),
            rows: rows.clone(),
            ..layout(true, 2)
        };
        let (texts, _) = label_texts(&images.designs, 4, 128, Font::Sans(14), &layout);
        assert_eq!(texts.rows[0], ["a long header", "for the first row"]);
        assert_eq!(texts.rows[3], ["four"]);
        assert_eq!(texts.columns.len(), 4);
        let wrong = Layout {
            rows: rows[..3].to_vec(),
            ..layout
        };
        let error = lay_out(&images, &wrong).unwrap_err();
        assert!(
            error
                .to_string()
                .contains("3 headers for a sheet of 4 rows"),
            "{error}"
        );
    }
}
