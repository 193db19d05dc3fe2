//! Reading what drape writes: PNG pixels and text chunks, and latents as numpy `.npy`/`.npz` files
//! (plus writing a `.npy` for drape to load).

use std::path::Path;

/// A decoded PNG: its size, its pixels as stored (RGB for drape's images) and its text chunks.
pub struct DecodedPng {
    pub width: u32,
    pub height: u32,
    pub pixels: Vec<u8>,
    pub chunks: Vec<(String, String)>,
}

impl DecodedPng {
    /// The text of chunk `keyword`, which must be there.
    pub fn chunk(&self, keyword: &str) -> &str {
        self.chunks
            .iter()
            .find(|(key, _)| key == keyword)
            .map(|(_, value)| value.as_str())
            .unwrap_or_else(|| panic!("no {keyword} chunk"))
    }
}

/// Decodes the (first frame of the) PNG at `path`.
pub fn decode_png(path: &Path) -> DecodedPng {
    let decoder = png::Decoder::new(std::io::BufReader::new(
        std::fs::File::open(path).expect("png exists"),
    ));
    let mut reader = decoder.read_info().expect("valid png");
    let mut pixels = vec![0; reader.output_buffer_size().expect("size")];
    let info = reader.next_frame(&mut pixels).expect("pixels");
    pixels.truncate(info.buffer_size());
    let chunks = reader
        .info()
        .utf8_text
        .iter()
        .map(|c| (c.keyword.clone(), c.get_text().expect("utf8 text")))
        .collect();
    DecodedPng {
        width: info.width,
        height: info.height,
        pixels,
        chunks,
    }
}

/// The pixels of the PNG at `path`.
pub fn png_pixels(path: &Path) -> Vec<u8> {
    decode_png(path).pixels
}

/// (shape, data) of a float32 .npy, or of array `w` of a .npz.
pub fn read_latents(path: &Path) -> (Vec<u64>, Vec<f32>) {
    if path.extension().is_some_and(|e| e == "npz") {
        let mut npz = npyz::npz::NpzArchive::open(path).expect("npz");
        let array = npz.by_name("w").expect("read").expect("array w");
        (array.shape().to_vec(), array.into_vec().expect("float32"))
    } else {
        let array = npyz::NpyFile::new(std::fs::File::open(path).expect("npy")).expect("header");
        (array.shape().to_vec(), array.into_vec().expect("float32"))
    }
}

/// Writes a float32 .npy of `shape`.
pub fn write_npy(path: &Path, shape: &[u64], data: &[f32]) {
    use npyz::WriterBuilder;
    let file = std::fs::File::create(path).expect("create");
    let mut writer = npyz::WriteOptions::new()
        .default_dtype()
        .shape(shape)
        .writer(std::io::BufWriter::new(file))
        .begin_nd()
        .expect("header");
    writer.extend(data.iter().copied()).expect("data");
    writer.finish().expect("finish");
}
