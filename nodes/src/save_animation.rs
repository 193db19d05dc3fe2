//! `save-animation`: writes a batch of images as one animation, an animated GIF or PNG chosen by the
//! file's extension, atomically.

use drape_engine::{
    Node, NodeContext, NodeError, ParamDefault, ParamProblem, ParamSpec, ParamType, Params,
    PortSpec, Value, ValueType,
};

use crate::animation::{Timing, write_apng, write_gif};
use crate::atomic::write_atomically;
use crate::pixels::{enlarge_rgb8, to_rgb8};
use crate::recipe::GRAPH_KEY;

/// See the module docs.
pub struct SaveAnimation;

const EXTENSIONS: &[&str] = &["gif", "png", "apng"];

impl Node for SaveAnimation {
    fn name(&self) -> &'static str {
        "save-animation"
    }

    fn doc(&self) -> &'static str {
        "Writes a batch of images as one animation, a frame per image in batch order.\n\
         The extension picks the format: `.gif` (256 colours, chosen by NeuQuant from every frame so \
         they don't flicker; plays everywhere) or `.png`/`.apng` (an animated PNG: exact colours, plays in browsers). \
         `ping_pong` plays the frames forward then back. The file is written atomically; an animated \
         PNG carries the graph in its drape:graph text chunk."
    }

    fn inputs(&self) -> &'static [PortSpec] {
        const IN: &[PortSpec] = &[PortSpec::new(
            "images",
            ValueType::Images,
            "The frames, in order (e.g. Synthesize of an Interpolate path).",
        )];
        IN
    }

    fn params(&self) -> &'static [ParamSpec] {
        const PARAMS: &[ParamSpec] = &[
            ParamSpec {
                name: "path",
                ty: ParamType::Path,
                default: ParamDefault::Required,
                doc: "The file, e.g. \"out/loop.gif\" or \"out/loop.png\"; {node} is this node's id.",
            },
            ParamSpec {
                name: "fps",
                ty: ParamType::Float {
                    min: 0.1,
                    max: 50.0,
                },
                default: ParamDefault::Float(12.0),
                doc: "Frames per second (GIF rounds the delay to hundredths of a second).",
            },
            ParamSpec {
                name: "plays",
                ty: ParamType::Int {
                    min: 0,
                    max: u16::MAX as i64,
                },
                default: ParamDefault::Int(0),
                doc: "How many times the animation plays; 0 loops forever.",
            },
            ParamSpec {
                name: "scale",
                ty: ParamType::Int { min: 1, max: 16 },
                default: ParamDefault::Int(1),
                doc: "Enlarge every frame this many times (nearest pixel), as Grid does.",
            },
            ParamSpec {
                name: "ping_pong",
                ty: ParamType::Bool,
                default: ParamDefault::Bool(false),
                doc: "Play forward then backward (without repeating the end frames), for a smooth loop of an open path.",
            },
        ];
        PARAMS
    }

    fn is_output(&self) -> bool {
        true
    }

    fn check(&self, params: &Params) -> Vec<ParamProblem> {
        let Ok(path) = params.text("path") else {
            return Vec::new();
        };
        if extension(path).is_none() {
            return vec![ParamProblem {
                param: Some("path"),
                message: "the path must end in .gif, .png or .apng".into(),
            }];
        }
        crate::output_path::outside_problem(path)
            .into_iter()
            .collect()
    }

    fn run(&self, ctx: &mut NodeContext<'_>) -> Result<Vec<Value>, NodeError> {
        let Value::Images(images) = ctx.required_input("images")? else {
            return Err(NodeError::new("input `images` is not an image batch"));
        };
        if images.is_empty() {
            return Err(NodeError::new(
                "the batch is empty; there are no frames to write",
            ));
        }
        let path = crate::output_path::resolve(ctx, "path")?
            .to_string_lossy()
            .replace("{node}", ctx.node_id);
        let path = std::path::PathBuf::from(path);
        let timing = Timing {
            fps: ctx.params.float("fps")?,
            plays: ctx.params.int("plays")? as u16,
        };
        let scale = ctx.params.int("scale")? as usize;
        let order = frame_order(images.len(), ctx.params.bool("ping_pong")?);
        let frames: Vec<Vec<u8>> = order
            .iter()
            .map(|&i| {
                let rgb = to_rgb8(images.item(i), images.width, images.height);
                enlarge_rgb8(&rgb, images.width, images.height, scale)
            })
            .collect();
        let (width, height) = (images.width * scale, images.height * scale);
        let graph = ctx.graph_source;
        match extension(ctx.params.text("path")?) {
            Some("gif") => {
                let (w, h) = (u16::try_from(width), u16::try_from(height));
                let (Ok(w), Ok(h)) = (w, h) else {
                    return Err(NodeError::new(format!(
                        "GIF frames are at most 65535 pixels a side; these are {width}×{height}"
                    )));
                };
                write_atomically(&path, |file| write_gif(file, w, h, &frames, timing))?;
            }
            _ => write_atomically(&path, |file| {
                let text = [("Software", "drape"), (GRAPH_KEY, graph)];
                write_apng(file, width as u32, height as u32, &frames, timing, &text)
            })?,
        }
        ctx.wrote(path);
        Ok(Vec::new())
    }
}

/// The format a path asks for: `gif`, or `png` for .png and .apng.
fn extension(path: &str) -> Option<&'static str> {
    let lower = path.to_ascii_lowercase();
    let ext = EXTENSIONS
        .iter()
        .find(|e| lower.ends_with(&format!(".{e}")))?;
    Some(if *ext == "gif" { "gif" } else { "png" })
}

/// The batch items in play order: `0..n`, then back down to 1 for ping-pong.
fn frame_order(n: usize, ping_pong: bool) -> Vec<usize> {
    let back = if ping_pong && n > 2 {
        (1..n - 1).rev().collect()
    } else {
        Vec::new()
    };
    (0..n).chain(back).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ping_pong_goes_back_without_repeating_the_ends() {
        assert_eq!(frame_order(4, false), [0, 1, 2, 3]);
        assert_eq!(frame_order(4, true), [0, 1, 2, 3, 2, 1]);
        assert_eq!(frame_order(2, true), [0, 1]);
    }

    #[test]
    fn the_extension_picks_the_format() {
        assert_eq!(extension("out/a.GIF"), Some("gif"));
        assert_eq!(extension("out/a.apng"), Some("png"));
        assert_eq!(extension("out/a.png"), Some("png"));
        assert_eq!(extension("out/a.mp4"), None);
    }
}
