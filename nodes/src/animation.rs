//! Animation encoders: frames of 8-bit RGB as an animated GIF (one NeuQuant palette learnt from every
//! frame, so colours don't flicker between frames) or an animated PNG (lossless), with a frame rate
//! and a play count.

use std::collections::HashMap;
use std::io::Write;

/// How an animation plays.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Timing {
    /// Frames per second.
    pub fps: f64,
    /// How many times it plays; 0 forever.
    pub plays: u16,
}

impl Timing {
    /// The frame delay in hundredths of a second, as GIF stores it (at least 1).
    pub fn centiseconds(&self) -> u16 {
        (100.0 / self.fps).round().clamp(1.0, u16::MAX as f64) as u16
    }

    /// The frame delay in milliseconds, as drape writes it into APNG (at least 1).
    pub fn milliseconds(&self) -> u16 {
        (1000.0 / self.fps).round().clamp(1.0, u16::MAX as f64) as u16
    }
}

/// Pixels NeuQuant learns from at most; it samples every n-th pixel of bigger animations.
const QUANTIZE_SAMPLES: usize = 1 << 20;

/// Writes `frames` (each `width × height` RGB bytes) as an animated GIF with one global palette.
pub fn write_gif(
    out: impl Write,
    width: u16,
    height: u16,
    frames: &[Vec<u8>],
    timing: Timing,
) -> Result<(), String> {
    let rgba: Vec<u8> = frames
        .iter()
        .flat_map(|f| f.chunks_exact(3).flat_map(|p| [p[0], p[1], p[2], 255]))
        .collect();
    let palette = Palette::for_pixels(&rgba);
    let mut encoder =
        gif::Encoder::new(out, width, height, &palette.colours()).map_err(|e| e.to_string())?;
    // Without a repeat extension a GIF plays once; with one, it plays once more than the count.
    let repeat = match timing.plays {
        0 => Some(gif::Repeat::Infinite),
        1 => None,
        n => Some(gif::Repeat::Finite(n - 1)),
    };
    if let Some(repeat) = repeat {
        encoder.set_repeat(repeat).map_err(|e| e.to_string())?;
    }
    let frame_size = width as usize * height as usize * 4;
    for pixels in rgba.chunks_exact(frame_size) {
        let indices: Vec<u8> = pixels
            .chunks_exact(4)
            .map(|p| palette.index_of(p))
            .collect();
        let mut frame = gif::Frame::from_indexed_pixels(width, height, indices, None);
        frame.delay = timing.centiseconds();
        encoder.write_frame(&frame).map_err(|e| e.to_string())?;
    }
    Ok(())
}

/// The colours of a GIF: exact when there are at most 256, else learnt by NeuQuant.
enum Palette {
    Exact(HashMap<[u8; 3], u8>),
    Learnt(color_quant::NeuQuant),
}

impl Palette {
    /// The palette for RGBA pixels.
    fn for_pixels(rgba: &[u8]) -> Palette {
        let mut exact = HashMap::new();
        for p in rgba.chunks_exact(4) {
            let next = exact.len();
            exact.entry([p[0], p[1], p[2]]).or_insert(next);
            if exact.len() > 256 {
                let sample_every = (rgba.len() / 4 / QUANTIZE_SAMPLES).clamp(1, 30) as i32;
                return Palette::Learnt(color_quant::NeuQuant::new(sample_every, 256, rgba));
            }
        }
        Palette::Exact(exact.into_iter().map(|(c, i)| (c, i as u8)).collect())
    }

    /// The palette as RGB triples, in index order.
    fn colours(&self) -> Vec<u8> {
        match self {
            Palette::Exact(map) => {
                let mut colours = vec![0; map.len() * 3];
                for (c, &i) in map {
                    colours[i as usize * 3..][..3].copy_from_slice(c);
                }
                colours
            }
            Palette::Learnt(quantizer) => quantizer.color_map_rgb(),
        }
    }

    /// The palette index of an RGBA pixel.
    fn index_of(&self, p: &[u8]) -> u8 {
        match self {
            Palette::Exact(map) => map[&[p[0], p[1], p[2]]],
            Palette::Learnt(quantizer) => quantizer.index_of(p) as u8,
        }
    }
}

/// Writes `frames` (each `width × height` RGB bytes) as an animated PNG, with `text` chunks.
pub fn write_apng(
    out: impl Write,
    width: u32,
    height: u32,
    frames: &[Vec<u8>],
    timing: Timing,
    text: &[(&str, &str)],
) -> Result<(), String> {
    let error = |e: png::EncodingError| e.to_string();
    let mut encoder = png::Encoder::new(out, width, height);
    encoder.set_color(png::ColorType::Rgb);
    encoder.set_depth(png::BitDepth::Eight);
    encoder
        .set_animated(frames.len() as u32, u32::from(timing.plays))
        .map_err(error)?;
    encoder
        .set_frame_delay(timing.milliseconds(), 1000)
        .map_err(error)?;
    for (key, value) in text {
        encoder
            .add_itxt_chunk(key.to_string(), value.to_string())
            .map_err(error)?;
    }
    let mut writer = encoder.write_header().map_err(error)?;
    for rgb in frames {
        writer.write_image_data(rgb).map_err(error)?;
    }
    writer.finish().map_err(error)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Three 4×3 frames: a horizontal ramp, a solid colour and a vertical ramp.
    fn frames() -> Vec<Vec<u8>> {
        let ramp = |f: &dyn Fn(usize, usize) -> [u8; 3]| {
            (0..3)
                .flat_map(|y| (0..4).flat_map(move |x| f(x, y)))
                .collect::<Vec<u8>>()
        };
        vec![
            ramp(&|x, _| [(x * 80) as u8, 20, 200]),
            ramp(&|_, _| [250, 128, 3]),
            ramp(&|_, y| [10, (y * 120) as u8, (255 - y * 100) as u8]),
        ]
    }

    #[test]
    fn gifs_decode_to_the_frames_with_their_delay_and_repeat() {
        let timing = Timing {
            fps: 12.5,
            plays: 0,
        };
        let mut bytes = Vec::new();
        write_gif(&mut bytes, 4, 3, &frames(), timing).unwrap();
        let mut options = gif::DecodeOptions::new();
        options.set_color_output(gif::ColorOutput::RGBA);
        let mut decoder = options.read_info(bytes.as_slice()).unwrap();
        assert_eq!((decoder.width(), decoder.height()), (4, 3));
        let mut decoded = Vec::new();
        while let Some(frame) = decoder.read_next_frame().unwrap() {
            assert_eq!(frame.delay, 8, "12.5 fps is 8 hundredths of a second");
            let rgb: Vec<u8> = frame
                .buffer
                .chunks(4)
                .flat_map(|p| [p[0], p[1], p[2]])
                .collect();
            decoded.push(rgb);
        }
        assert_eq!(decoder.repeat(), gif::Repeat::Infinite);
        assert_eq!(decoded.len(), 3);
        for (got, want) in decoded.iter().zip(frames()) {
            let worst = got
                .iter()
                .zip(&want)
                .map(|(a, b)| a.abs_diff(*b))
                .max()
                .unwrap();
            assert_eq!(
                worst, 0,
                "few colours are kept exactly: {got:?} vs {want:?}"
            );
        }
    }

    #[test]
    fn many_colours_are_learnt_closely() {
        // Two 32×32 frames of smooth gradients in two planes: 2048 colours for 256, so even a perfect
        // palette (128 evenly spaced colours per plane) is off by about 3.7 on average; NeuQuant,
        // learning from so few pixels, gets about 6.
        let gradient = |blue: u8| -> Vec<u8> {
            (0..32 * 32)
                .flat_map(|i| [(i % 32 * 8) as u8, (i / 32 * 8) as u8, blue])
                .collect()
        };
        let frames = [gradient(60), gradient(200)];
        let mut bytes = Vec::new();
        write_gif(
            &mut bytes,
            32,
            32,
            &frames,
            Timing {
                fps: 10.0,
                plays: 0,
            },
        )
        .unwrap();
        let mut options = gif::DecodeOptions::new();
        options.set_color_output(gif::ColorOutput::RGBA);
        let mut decoder = options.read_info(bytes.as_slice()).unwrap();
        for want in &frames {
            let frame = decoder.read_next_frame().unwrap().expect("a frame");
            let got: Vec<u8> = frame
                .buffer
                .chunks(4)
                .flat_map(|p| [p[0], p[1], p[2]])
                .collect();
            let mean = got
                .iter()
                .zip(want)
                .map(|(a, b)| a.abs_diff(*b) as f64)
                .sum::<f64>()
                / want.len() as f64;
            assert!(mean < 8.0, "mean error {mean}");
        }
    }

    #[test]
    fn a_gif_that_plays_once_has_no_repeat_and_three_plays_repeat_twice() {
        let plays = |n| {
            let mut bytes = Vec::new();
            let timing = Timing {
                fps: 10.0,
                plays: n,
            };
            write_gif(&mut bytes, 4, 3, &frames(), timing).unwrap();
            gif::DecodeOptions::new()
                .read_info(bytes.as_slice())
                .unwrap()
                .repeat()
        };
        assert_eq!(plays(3), gif::Repeat::Finite(2));
        assert_eq!(plays(1), gif::Repeat::Finite(0));
    }

    #[test]
    fn apngs_decode_to_the_exact_frames_with_their_delay_and_plays() {
        let timing = Timing {
            fps: 24.0,
            plays: 2,
        };
        let mut bytes = Vec::new();
        write_apng(&mut bytes, 4, 3, &frames(), timing, &[("drape:graph", "G")]).unwrap();
        let mut reader = png::Decoder::new(std::io::Cursor::new(bytes))
            .read_info()
            .unwrap();
        let control = reader.info().animation_control.unwrap();
        assert_eq!((control.num_frames, control.num_plays), (3, 2));
        assert_eq!(reader.info().utf8_text[0].get_text().unwrap(), "G");
        let mut buf = vec![0; reader.output_buffer_size().unwrap()];
        for want in frames() {
            let info = reader.next_frame(&mut buf).unwrap();
            assert_eq!((info.width, info.height), (4, 3));
            let fctl = reader.info().frame_control.unwrap();
            assert_eq!((fctl.delay_num, fctl.delay_den), (42, 1000));
            assert_eq!(&buf[..info.buffer_size()], want.as_slice());
        }
    }
}
