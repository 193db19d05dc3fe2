//! `grid`: a contact sheet of a batch of images, as one image, optionally enlarged, with each
//! design's label under its cell and a title.

use std::sync::Arc;

use drape_engine::{
    Design, Images, Node, NodeContext, NodeError, ParamDefault, ParamSpec, ParamType, PortSpec,
    Value, ValueType,
};

use crate::text::{self, Canvas, GLYPH};

/// See the module docs.
pub struct Grid;

/// Largest sheet side; beyond this a PNG viewer struggles and memory grows fast.
const MAX_SIDE: usize = 16_384;

/// Height of a line of text with its margins: 2 pixels above, 2 below.
const TEXT_BAND: usize = GLYPH + 4;

impl Node for Grid {
    fn name(&self) -> &'static str {
        "grid"
    }

    fn doc(&self) -> &'static str {
        "A contact sheet: every image of a batch laid out in rows, as one image.\n\
         Designs fill rows left to right in batch order; the sheet is a batch of one image. `labels` \
         writes each design's label (`seed 12`, `seed 3 × seed 7`) under its cell in an 8-pixel font, \
         shortened with ... to the cell's width; `scale` enlarges small designs (pixel for pixel) so \
         they and their labels are legible."
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
                doc: "Enlarge each image this many times (nearest pixel); 2 fits 8 characters under a 32 px design.",
            },
            ParamSpec {
                name: "labels",
                ty: ParamType::Bool,
                default: ParamDefault::Bool(false),
                doc: "Write each design's label under its cell.",
            },
            ParamSpec {
                name: "title",
                ty: ParamType::Text,
                default: ParamDefault::Optional,
                doc: "A line of text above the sheet.",
            },
        ];
        PARAMS
    }

    fn run(&self, ctx: &mut NodeContext<'_>) -> Result<Vec<Value>, NodeError> {
        let Value::Images(images) = ctx.required_input("images")? else {
            return Err(NodeError::new("input `images` is not an image batch"));
        };
        let params = ctx.params;
        let layout = Layout {
            columns: params.opt_int("columns")?.map(|c| c as usize),
            padding: params.int("padding")? as usize,
            background: params.float("background")? as f32,
            scale: params.int("scale")? as usize,
            labels: params.bool("labels")?,
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
    title: Option<&'a str>,
}

/// The contact sheet of `images`.
fn lay_out(images: &Images, layout: &Layout<'_>) -> Result<Images, NodeError> {
    let n = images.len();
    if n == 0 {
        return Err(NodeError::new(
            "the batch is empty; there is nothing to lay out",
        ));
    }
    let columns = match layout.columns {
        Some(c) => c.min(n),
        None => (n as f64).sqrt().ceil() as usize,
    };
    let rows = n.div_ceil(columns);
    let (pad, s) = (layout.padding, layout.scale);
    let (w, h) = (images.width * s, images.height * s);
    let label_h = if layout.labels { TEXT_BAND } else { 0 };
    let title_h = if layout.title.is_some() { TEXT_BAND } else { 0 };
    let sheet_w = columns * (w + pad) + pad;
    let sheet_h = title_h + rows * (h + label_h + pad) + pad;
    if sheet_w > MAX_SIDE || sheet_h > MAX_SIDE {
        return Err(NodeError::new(format!(
            "the sheet would be {sheet_w}×{sheet_h} pixels, over {MAX_SIDE}"
        ))
        .with_help("set `columns` or a smaller `scale`, or split the batch over several grids"));
    }
    let background = layout.background * 2.0 - 1.0;
    let ink = if layout.background > 0.5 { -1.0 } else { 1.0 };
    let plane = sheet_w * sheet_h;
    let mut data = vec![background; 3 * plane];
    for i in 0..n {
        let (x0, y0) = (
            pad + (i % columns) * (w + pad),
            title_h + pad + (i / columns) * (h + label_h + pad),
        );
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
    if let Some(title) = layout.title {
        canvas.text(pad, 2, &text::fit(title, sheet_w - 2 * pad), [ink; 3]);
    }
    if layout.labels {
        for (i, design) in images.designs.iter().enumerate() {
            let x0 = pad + (i % columns) * (w + pad);
            let y0 = title_h + pad + (i / columns) * (h + label_h + pad) + h + 2;
            canvas.text(x0, y0, &text::fit(&design.label, w), [ink; 3]);
        }
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
        let (w, h) = (16, 8);
        let data: Vec<f32> = [-0.5f32, 0.0, 0.5]
            .iter()
            .flat_map(|&v| vec![v; 3 * w * h])
            .collect();
        Images {
            width: w,
            height: h,
            data: Arc::from(data),
            designs: Arc::from(vec![
                Design::from_seed(1),
                Design::from_seed(22),
                Design::labelled("seed 3 × seed 7"),
            ]),
        }
    }

    fn layout(labels: bool, scale: usize) -> Layout<'static> {
        Layout {
            columns: Some(3),
            padding: 2,
            background: 1.0,
            scale,
            labels,
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

    #[test]
    fn a_labelled_sheet_differs_only_in_its_label_band() {
        let plain = lay_out(&batch(), &layout(false, 4)).unwrap();
        let labelled = lay_out(&batch(), &layout(true, 4)).unwrap();
        assert_eq!(plain.width, labelled.width);
        assert_eq!(labelled.height, plain.height + TEXT_BAND);
        // One row of cells: pad, 32 image rows, the band, pad. Without the band, the sheets match.
        let band = 2 + 32..2 + 32 + TEXT_BAND;
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
                ..layout(false, 1)
            },
        )
        .unwrap();
        assert_eq!(titled.height, one.height + TEXT_BAND);
        assert!(picture(&titled, 0, TEXT_BAND).contains('#'));
    }
}
