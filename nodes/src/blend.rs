//! Paths through latent space, shared by `interpolate` (z) and `interpolate-w` (W+): linear and
//! spherical interpolation of vectors, and the frame schedule from one keyframe design to the next.

use std::collections::HashMap;

use drape_engine::{Design, Extent, NodeError, ParamDefault, ParamSpec, ParamType, Params};

/// Most frames one path may have.
pub const MAX_FRAMES: usize = 10_000;

/// How two vectors are blended.
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum Mode {
    /// Along the straight line.
    Lerp,
    /// Along the great circle, scaling the norm linearly between the two (the classic z path).
    Slerp,
}

/// The `frames` parameter.
pub const FRAMES: ParamSpec = ParamSpec {
    name: "frames",
    ty: ParamType::Int { min: 1, max: 1000 },
    default: ParamDefault::Int(24),
    doc: "Frames from one design to the next; the next design starts the next step.",
};

/// The `loop` parameter.
pub const LOOP: ParamSpec = ParamSpec {
    name: "loop",
    ty: ParamType::Bool,
    default: ParamDefault::Bool(false),
    doc: "Return from the last design to the first, for a seamless loop; otherwise end exactly on the last design.",
};

/// The `mode` parameter with the given default.
pub const fn mode_param(default: &'static str) -> ParamSpec {
    ParamSpec {
        name: "mode",
        ty: ParamType::Choice(&["lerp", "slerp"]),
        default: ParamDefault::Text(default),
        doc: "lerp: a straight line; slerp: along the sphere (per layer for W+), keeping a typical norm.",
    }
}

/// One frame: `t` of the way from keyframe `from` to keyframe `to`, step `step` of that stretch.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Frame {
    /// The keyframe this stretch starts at.
    pub from: usize,
    /// The keyframe it goes to.
    pub to: usize,
    /// The frame's step within the stretch, from 0 to `frames` (only the final frame reaches it).
    pub step: usize,
    /// How far along, from 0 to 1.
    pub t: f64,
}

/// The frames through `keys` keyframes in order, `frames` per stretch; `looped` adds the stretch back
/// to the first keyframe, otherwise the path ends on the last keyframe exactly.
pub fn schedule(keys: usize, frames: usize, looped: bool) -> Result<Vec<Frame>, NodeError> {
    if keys < 2 {
        return Err(NodeError::new(format!(
            "a path needs at least two designs, but there is {keys}"
        ))
        .with_help("give `from` a batch of several designs, or connect `to` as well"));
    }
    let stretches = if looped { keys } else { keys - 1 };
    let total = stretches * frames + usize::from(!looped);
    if total > MAX_FRAMES {
        return Err(NodeError::new(format!(
            "the path would have {total} frames, over {MAX_FRAMES}"
        ))
        .with_help("lower `frames` or use fewer designs"));
    }
    let mut out = Vec::with_capacity(total);
    for from in 0..stretches {
        let to = (from + 1) % keys;
        out.extend((0..frames).map(|step| Frame {
            from,
            to,
            step,
            t: step as f64 / frames as f64,
        }));
    }
    if !looped {
        out.push(Frame {
            from: keys - 2,
            to: keys - 1,
            step: frames,
            t: 1.0,
        });
    }
    Ok(out)
}

/// The `mode`, `frames` and `loop` parameters.
pub fn read_params(params: &Params) -> Result<(Mode, usize, bool), NodeError> {
    let mode = match params.text("mode")? {
        "slerp" => Mode::Slerp,
        _ => Mode::Lerp,
    };
    Ok((mode, params.int("frames")? as usize, params.bool("loop")?))
}

/// The frames of a path through the designs of inputs `from` and `to`, estimated before running.
pub fn estimate(params: &Params, inputs: &HashMap<&'static str, Extent>) -> Option<Vec<Extent>> {
    let from = inputs.get("from")?;
    let keys = from.items + inputs.get("to").map_or(0, |to| to.items);
    let (_, frames, looped) = read_params(params).ok()?;
    let frames = schedule(usize::try_from(keys).ok()?, frames, looped)
        .ok()?
        .len();
    Some(vec![Extent {
        items: frames as u64,
        ..*from
    }])
}

/// Blends `a` and `b` at `t`, each run of `chunk` values on its own (one W+ layer, or a whole z).
pub fn mix(mode: Mode, a: &[f32], b: &[f32], t: f64, chunk: usize, out: &mut Vec<f32>) {
    for (a, b) in a.chunks(chunk).zip(b.chunks(chunk)) {
        match mode {
            Mode::Lerp => lerp(a, b, t, out),
            Mode::Slerp => slerp(a, b, t, out),
        }
    }
}

fn lerp(a: &[f32], b: &[f32], t: f64, out: &mut Vec<f32>) {
    out.extend(
        a.iter()
            .zip(b)
            .map(|(&x, &y)| ((1.0 - t) * x as f64 + t * y as f64) as f32),
    );
}

/// Spherical interpolation of unnormalised vectors: `sin((1-t)Ω)/sin Ω · a + sin(tΩ)/sin Ω · b`, Ω
/// the angle between them. Falls back to lerp when they are (anti)parallel or one is zero.
fn slerp(a: &[f32], b: &[f32], t: f64, out: &mut Vec<f32>) {
    let dot: f64 = a.iter().zip(b).map(|(&x, &y)| x as f64 * y as f64).sum();
    let norm = |v: &[f32]| v.iter().map(|&x| x as f64 * x as f64).sum::<f64>().sqrt();
    let (na, nb) = (norm(a), norm(b));
    let omega = if na > 0.0 && nb > 0.0 {
        (dot / (na * nb)).clamp(-1.0, 1.0).acos()
    } else {
        0.0
    };
    let sin_omega = omega.sin();
    if sin_omega < 1e-6 {
        return lerp(a, b, t, out);
    }
    let (ca, cb) = (
        ((1.0 - t) * omega).sin() / sin_omega,
        (t * omega).sin() / sin_omega,
    );
    out.extend(
        a.iter()
            .zip(b)
            .map(|(&x, &y)| (ca * x as f64 + cb * y as f64) as f32),
    );
}

/// The record of one frame: `seed 1→seed 2 3/24`, with the parameters both ends share and `t`.
pub fn frame_design(keys: &[Design], frame: &Frame, frames: usize) -> Design {
    let (a, b) = (&keys[frame.from], &keys[frame.to]);
    let mut design = Design::labelled(format!("{}→{} {}/{frames}", a.label, b.label, frame.step));
    design.params = a
        .params
        .iter()
        .filter(|p| b.params.contains(p))
        .cloned()
        .collect();
    design.with_param("t", format!("{:.3}", frame.t))
}

/// The path through `keys` (item `i` is `item(i)`): one blended vector per frame, and its record.
pub fn path<'k>(
    item: impl Fn(usize) -> &'k [f32],
    keys: &[Design],
    chunk: usize,
    params: &Params,
) -> Result<(Vec<f32>, Vec<Design>), NodeError> {
    let (mode, frames, looped) = read_params(params)?;
    let schedule = schedule(keys.len(), frames, looped)?;
    let mut data = Vec::new();
    let mut designs = Vec::with_capacity(schedule.len());
    for frame in &schedule {
        mix(
            mode,
            item(frame.from),
            item(frame.to),
            frame.t,
            chunk,
            &mut data,
        );
        designs.push(frame_design(keys, frame, frames));
    }
    Ok((data, designs))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn blend(mode: Mode, a: &[f32], b: &[f32], t: f64, chunk: usize) -> Vec<f32> {
        let mut out = Vec::new();
        mix(mode, a, b, t, chunk, &mut out);
        out
    }

    fn close(a: &[f32], b: &[f32]) -> bool {
        a.iter().zip(b).all(|(x, y)| (x - y).abs() < 1e-6)
    }

    #[test]
    fn slerp_of_orthogonal_unit_vectors_follows_the_circle() {
        let (a, b) = ([1.0, 0.0], [0.0, 1.0]);
        let half = std::f32::consts::FRAC_1_SQRT_2;
        assert!(close(&blend(Mode::Slerp, &a, &b, 0.5, 2), &[half, half]));
        // A third of 90° is 30°: (cos 30°, sin 30°).
        let third = blend(Mode::Slerp, &a, &b, 1.0 / 3.0, 2);
        assert!(close(&third, &[0.75f32.sqrt(), 0.5]), "{third:?}");
        assert!(close(&blend(Mode::Lerp, &a, &b, 0.5, 2), &[0.5, 0.5]));
    }

    #[test]
    fn endpoints_are_exact() {
        let (a, b) = ([0.3, -1.7, 2.2], [-0.9, 0.4, 1.3]);
        for mode in [Mode::Lerp, Mode::Slerp] {
            assert_eq!(blend(mode, &a, &b, 0.0, 3), a);
            assert_eq!(blend(mode, &a, &b, 1.0, 3), b);
        }
    }

    #[test]
    fn w_plus_slerps_each_layer_on_its_own() {
        // Two layers of two values: layer 0 turns 90°, layer 1 is parallel and scales linearly.
        let a = [1.0, 0.0, 1.0, 1.0];
        let b = [0.0, 1.0, 3.0, 3.0];
        let half = std::f32::consts::FRAC_1_SQRT_2;
        assert!(close(
            &blend(Mode::Slerp, &a, &b, 0.5, 2),
            &[half, half, 2.0, 2.0]
        ));
    }

    #[test]
    fn schedules_count_frames_and_loop() {
        let open = schedule(2, 4, false).unwrap();
        let ts: Vec<f64> = open.iter().map(|f| f.t).collect();
        assert_eq!(ts, [0.0, 0.25, 0.5, 0.75, 1.0]);
        let looped = schedule(4, 12, true).unwrap();
        assert_eq!(looped.len(), 48);
        assert_eq!(
            looped[47],
            Frame {
                from: 3,
                to: 0,
                step: 11,
                t: 11.0 / 12.0
            }
        );
        assert_eq!(schedule(3, 5, false).unwrap().len(), 11);
        assert!(schedule(1, 5, true).is_err());
        assert!(schedule(2, 1000, true).is_ok() && schedule(100, 1000, true).is_err());
    }

    #[test]
    fn frames_are_labelled_with_their_ends_and_step() {
        let keys = [
            Design::from_seed(1).with_param("truncation", 0.7),
            Design::from_seed(2).with_param("truncation", 0.7),
        ];
        let frame = Frame {
            from: 0,
            to: 1,
            step: 3,
            t: 0.125,
        };
        let design = frame_design(&keys, &frame, 24);
        assert_eq!(design.label, "seed 1→seed 2 3/24");
        assert_eq!(design.seed, None);
        assert_eq!(
            design.params,
            [
                ("truncation".to_string(), "0.7".to_string()),
                ("t".to_string(), "0.125".to_string())
            ]
        );
    }
}
