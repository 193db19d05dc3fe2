//! `grid`: a contact sheet of a batch of images, as one image.

use std::sync::Arc;

use drape_engine::{
    Design, Images, Node, NodeContext, NodeError, ParamDefault, ParamSpec, ParamType, PortSpec,
    Value, ValueType,
};

/// See the module docs.
pub struct Grid;

/// Largest sheet side; beyond this a PNG viewer struggles and memory grows fast.
const MAX_SIDE: usize = 16_384;

impl Node for Grid {
    fn name(&self) -> &'static str {
        "grid"
    }

    fn doc(&self) -> &'static str {
        "A contact sheet: every image of a batch laid out in rows, as one image.\n\
         Designs fill rows left to right in batch order; the sheet is a batch of one image."
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
                doc: "Grey level of the padding: 0 black, 1 white.",
            },
        ];
        PARAMS
    }

    fn run(&self, ctx: &mut NodeContext<'_>) -> Result<Vec<Value>, NodeError> {
        let Value::Images(images) = ctx.required_input("images")? else {
            return Err(NodeError::new("input `images` is not an image batch"));
        };
        let n = images.len();
        if n == 0 {
            return Err(NodeError::new(
                "the batch is empty; there is nothing to lay out",
            ));
        }
        let columns = match ctx.params.opt_int("columns")? {
            Some(c) => (c as usize).min(n),
            None => (n as f64).sqrt().ceil() as usize,
        };
        let rows = n.div_ceil(columns);
        let pad = ctx.params.int("padding")? as usize;
        let (w, h) = (images.width, images.height);
        let sheet_w = columns * (w + pad) + pad;
        let sheet_h = rows * (h + pad) + pad;
        if sheet_w > MAX_SIDE || sheet_h > MAX_SIDE {
            return Err(NodeError::new(format!(
                "the sheet would be {sheet_w}×{sheet_h} pixels, over {MAX_SIDE}"
            ))
            .with_help("set `columns`, or split the batch over several grids"));
        }
        let background = ctx.params.float("background")? as f32 * 2.0 - 1.0;
        let plane = sheet_w * sheet_h;
        let mut data = vec![background; 3 * plane];
        for i in 0..n {
            let (x0, y0) = (
                pad + (i % columns) * (w + pad),
                pad + (i / columns) * (h + pad),
            );
            let item = images.item(i);
            for c in 0..3 {
                for y in 0..h {
                    let src = &item[c * w * h + y * w..][..w];
                    let dst = c * plane + (y0 + y) * sheet_w + x0;
                    data[dst..dst + w].copy_from_slice(src);
                }
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
        Ok(vec![Value::Images(Images {
            width: sheet_w,
            height: sheet_h,
            data: Arc::from(data),
            designs: Arc::from(vec![Design::labelled(label)]),
        })])
    }
}
