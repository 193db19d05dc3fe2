//! Animations end to end on the fixture model: an interpolated loop written as GIF and APNG decodes to
//! the right number of frames, size and delay, the two formats agree, and the path's keyframes are
//! exactly the designs Save writes for those seeds.

mod support;

use std::path::Path;

use support::outputs::png_pixels;
use support::{copy_fixture_model, drape, text};

const GRAPH: &str = r#"Graph(
    version: 1,
    model: "../fixtures/rect-32px",
    nodes: {
        "keys": SampleLatent(seeds: [42, 7, 123456]),
        "path": Interpolate(from: "keys", frames: 3, loop: true),
        "w": Map(z: "path", truncation: 0.7),
        "frames": Synthesize(w: "w"),
        "gif": SaveAnimation(images: "frames", path: "out/loop.gif", fps: 20, plays: 2),
        "apng": SaveAnimation(images: "frames", path: "out/loop.apng", fps: 20, ping_pong: true),
        "big": SaveAnimation(images: "frames", path: "out/big.apng", fps: 20, scale: 3),
        "key-w": Map(z: "keys", truncation: 0.7),
        "key-images": Synthesize(w: "key-w"),
        "save-keys": Save(images: "key-images", path: "out/key-{seed}.png"),
    },
)
"#;

fn rendered() -> tempfile::TempDir {
    let dir = tempfile::tempdir().expect("temp dir");
    copy_fixture_model(&dir.path().join("fixtures/rect-32px"));
    std::fs::create_dir_all(dir.path().join("graphs")).unwrap();
    std::fs::write(dir.path().join("graphs/loop.ron"), GRAPH).unwrap();
    let out = drape(&["run", "graphs/loop.ron"], dir.path());
    assert!(out.status.success(), "{}", text(&out.stderr));
    dir
}

/// The frames of a 32 px APNG (RGB) and each frame's delay as (numerator, denominator).
fn apng_frames(path: &Path) -> (Vec<Vec<u8>>, Vec<(u16, u16)>, u32) {
    apng_frames_of_side(path, 32)
}

fn apng_frames_of_side(path: &Path, side: u32) -> (Vec<Vec<u8>>, Vec<(u16, u16)>, u32) {
    let file = std::io::BufReader::new(std::fs::File::open(path).unwrap());
    let mut reader = png::Decoder::new(file).read_info().unwrap();
    let control = reader.info().animation_control.expect("animated");
    let mut frames = Vec::new();
    let mut delays = Vec::new();
    let mut buf = vec![0; reader.output_buffer_size().unwrap()];
    for _ in 0..control.num_frames {
        let info = reader.next_frame(&mut buf).unwrap();
        assert_eq!((info.width, info.height), (side, side));
        let fctl = reader.info().frame_control.unwrap();
        delays.push((fctl.delay_num, fctl.delay_den));
        frames.push(buf[..info.buffer_size()].to_vec());
    }
    (frames, delays, control.num_plays)
}

#[test]
fn an_interpolated_loop_animates_through_its_designs() {
    let dir = rendered();
    let out = dir.path().join("graphs/out");

    // Three designs, three frames each, looped: nine frames; ping-pong adds seven on the way back.
    let (frames, delays, plays) = apng_frames(&out.join("loop.apng"));
    assert_eq!(frames.len(), 9 + 7);
    assert!(delays.iter().all(|&d| d == (50, 1000)), "{delays:?}");
    assert_eq!(plays, 0);
    assert_eq!(frames[9], frames[7], "ping-pong plays the frames back");
    // The path starts on each design exactly: frames 0, 3 and 6 are the saved designs.
    for (frame, seed) in [(0, 42), (3, 7), (6, 123456)] {
        assert_eq!(
            frames[frame],
            png_pixels(&out.join(format!("key-{seed}.png"))),
            "frame {frame} is seed {seed}"
        );
    }
    assert_ne!(frames[1], frames[0]);

    // `scale: 3` enlarges every frame pixel for pixel.
    let (big, _, _) = apng_frames_of_side(&out.join("big.apng"), 96);
    assert_eq!(big.len(), 9);
    let pixel =
        |rgb: &[u8], side: usize, x: usize, y: usize| rgb[(y * side + x) * 3..][..3].to_vec();
    for (x, y) in [(0, 0), (5, 17), (31, 31)] {
        for (dx, dy) in [(0, 0), (2, 1), (1, 2)] {
            assert_eq!(
                pixel(&big[4], 96, 3 * x + dx, 3 * y + dy),
                pixel(&frames[4], 32, x, y)
            );
        }
    }

    let mut options = gif::DecodeOptions::new();
    options.set_color_output(gif::ColorOutput::RGBA);
    let file = std::io::BufReader::new(std::fs::File::open(out.join("loop.gif")).unwrap());
    let mut decoder = options.read_info(file).unwrap();
    assert_eq!((decoder.width(), decoder.height()), (32, 32));
    let mut count = 0;
    let error = |a: &[u8], b: &[u8]| {
        a.iter()
            .zip(b)
            .map(|(x, y)| x.abs_diff(*y) as f64)
            .sum::<f64>()
            / a.len() as f64
    };
    while let Some(frame) = decoder.read_next_frame().unwrap() {
        assert_eq!(frame.delay, 5, "20 fps");
        let rgb: Vec<u8> = frame
            .buffer
            .chunks(4)
            .flat_map(|p| [p[0], p[1], p[2]])
            .collect();
        // The fixture's untrained images are close to noise, the hardest case for 256 colours; each
        // GIF frame is still near its exact frame and nearer to it than to any other.
        let own = error(&rgb, &frames[count]);
        assert!(own < 12.0, "frame {count}: mean error {own}");
        for (other, exact) in frames[..9].iter().enumerate() {
            if exact != &frames[count] {
                assert!(own < error(&rgb, exact), "frame {count} is nearer {other}");
            }
        }
        count += 1;
    }
    assert_eq!(count, 9);
    assert_eq!(decoder.repeat(), gif::Repeat::Finite(1), "plays twice");
}
