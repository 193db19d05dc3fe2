//! The favourites folder the studio page keeps designs in: each kept PNG is copied there whole (its
//! recipe with it), and `sheet.png` beside them shows every kept design at a glance.

use std::path::{Path, PathBuf};

use crate::atomic::write_atomically;

/// The contact sheet's name in the folder; it is not a design and is never kept itself.
pub const SHEET: &str = "sheet.png";

/// Designs per row of the contact sheet.
const COLUMNS: usize = 8;
/// Pixels between and around designs on the sheet.
const PADDING: usize = 4;

/// Copies the design `png` into `folder` (a new name when one is taken) and redraws the folder's
/// contact sheet; returns where the copy went.
pub fn keep(png: &Path, folder: &Path) -> Result<PathBuf, String> {
    let bytes = std::fs::read(png).map_err(|e| format!("cannot read {}: {e}", png.display()))?;
    decode(&bytes).map_err(|e| format!("{} is not a PNG drape can read: {e}", png.display()))?;
    let stem = png.file_stem().unwrap_or_default().to_string_lossy();
    let target = (1..)
        .map(|n| match n {
            1 => folder.join(format!("{stem}.png")),
            n => folder.join(format!("{stem}-{n}.png")),
        })
        .find(|p| !p.exists() && p.file_name().is_some_and(|name| name != SHEET))
        .expect("some name is free");
    write_atomically(&target, |out| {
        std::io::Write::write_all(out, &bytes).map_err(|e| e.to_string())
    })
    .map_err(|e| e.message)?;
    draw_sheet(folder)?;
    Ok(target)
}

/// An RGB8 image.
struct Rgb {
    width: usize,
    height: usize,
    pixels: Vec<u8>,
}

fn decode(bytes: &[u8]) -> Result<Rgb, String> {
    let mut decoder = png::Decoder::new(std::io::Cursor::new(bytes));
    decoder.set_transformations(png::Transformations::EXPAND | png::Transformations::STRIP_16);
    let mut reader = decoder.read_info().map_err(|e| e.to_string())?;
    let size = reader
        .output_buffer_size()
        .ok_or("the image is too large")?;
    let mut buffer = vec![0; size];
    let frame = reader.next_frame(&mut buffer).map_err(|e| e.to_string())?;
    let (width, height) = (frame.width as usize, frame.height as usize);
    let channels = frame.color_type.samples();
    let pixels = buffer[..frame.buffer_size()]
        .chunks_exact(channels)
        .flat_map(|p| match channels {
            1 | 2 => [p[0], p[0], p[0]],
            _ => [p[0], p[1], p[2]],
        })
        .collect();
    Ok(Rgb {
        width,
        height,
        pixels,
    })
}

/// Redraws `folder/sheet.png` from the kept designs, in name order, rows of [`COLUMNS`].
fn draw_sheet(folder: &Path) -> Result<(), String> {
    let mut names: Vec<PathBuf> = std::fs::read_dir(folder)
        .map_err(|e| format!("cannot list {}: {e}", folder.display()))?
        .flatten()
        .map(|e| e.path())
        .filter(|p| p.extension().is_some_and(|e| e == "png"))
        .filter(|p| p.file_name().is_some_and(|n| n != SHEET))
        .collect();
    names.sort();
    let designs: Vec<Rgb> = names
        .iter()
        .filter_map(|p| decode(&std::fs::read(p).ok()?).ok())
        .collect();
    let cell_w = designs.iter().map(|d| d.width).max().unwrap_or(1);
    let cell_h = designs.iter().map(|d| d.height).max().unwrap_or(1);
    let columns = designs.len().clamp(1, COLUMNS);
    let rows = designs.len().div_ceil(columns).max(1);
    let width = PADDING + columns * (cell_w + PADDING);
    let height = PADDING + rows * (cell_h + PADDING);
    let mut sheet = vec![240u8; 3 * width * height];
    for (i, design) in designs.iter().enumerate() {
        let (x0, y0) = (
            PADDING + (i % columns) * (cell_w + PADDING),
            PADDING + (i / columns) * (cell_h + PADDING),
        );
        for y in 0..design.height {
            let from = &design.pixels[3 * y * design.width..3 * (y + 1) * design.width];
            let at = 3 * ((y0 + y) * width + x0);
            sheet[at..at + from.len()].copy_from_slice(from);
        }
    }
    write_atomically(&folder.join(SHEET), |out| {
        let mut encoder = png::Encoder::new(out, width as u32, height as u32);
        encoder.set_color(png::ColorType::Rgb);
        encoder.set_depth(png::BitDepth::Eight);
        let mut writer = encoder.write_header().map_err(|e| e.to_string())?;
        writer.write_image_data(&sheet).map_err(|e| e.to_string())
    })
    .map_err(|e| e.message)
}
