//! The recipe a saved design carries so `drape run design.png` can re-create it: the graph's file and
//! folder, the `--set` overrides, the output node and batch item, and the model's digest. Written as
//! a few `key: value` lines into a PNG text chunk beside the graph text, and read back from there.

use std::fmt::Write as _;
use std::path::{Path, PathBuf};

use drape_engine::{MODEL_WEIGHTS_FILE, Override};

/// PNG text chunk holding the graph file's text.
pub const GRAPH_KEY: &str = "drape:graph";
/// PNG text chunk holding the design's label and recorded parameters.
pub const DESIGN_KEY: &str = "drape:design";
/// PNG text chunk holding the [`Recipe`].
pub const RECIPE_KEY: &str = "drape:recipe";

const FORMAT_LINE: &str = "drape-recipe 1";

/// How one saved design was made.
#[derive(Clone, Debug, PartialEq)]
pub struct Recipe {
    /// The graph file, as it was given on the command line.
    pub graph_file: PathBuf,
    /// The graph file's folder, where the graph's relative paths (the model) start: relative to the PNG's
    /// own folder, so a project that moves as a whole keeps working (absolute only where no relative path
    /// exists).
    pub graph_dir: PathBuf,
    /// The id of the output node that wrote the design.
    pub node: String,
    /// The design's position in that node's batch.
    pub index: usize,
    /// The BLAKE3 digest of the model's weights file, when the graph names a model.
    pub model_digest: Option<String>,
    /// The `--set` overrides of the run, in order.
    pub overrides: Vec<Override>,
}

/// Everything a drape PNG carries.
#[derive(Clone, Debug, PartialEq)]
pub struct Embedded {
    /// How the design was made.
    pub recipe: Recipe,
    /// The graph file's text.
    pub graph: String,
    /// The design's label and parameters.
    pub design: String,
}

/// Why a PNG's recipe cannot be read.
#[derive(Debug, thiserror::Error)]
pub enum RecipeError {
    /// The file cannot be opened or is not a readable PNG.
    #[error("cannot read {path} as a PNG: {message}")]
    Unreadable {
        /// The file.
        path: PathBuf,
        /// What went wrong.
        message: String,
    },
    /// The PNG has no drape recipe.
    #[error(
        "{path} carries no drape recipe (no `{key}` text chunk); only designs written by drape's Save can be re-created"
    )]
    Missing {
        /// The file.
        path: PathBuf,
        /// The chunk that is missing.
        key: &'static str,
    },
    /// The recipe chunk is there but cannot be understood.
    #[error("the recipe in {path} is damaged: {message}")]
    Damaged {
        /// The file.
        path: PathBuf,
        /// What is wrong with it.
        message: String,
    },
}

impl Recipe {
    /// The graph's folder for the design saved at `png`.
    pub fn graph_folder(&self, png: &Path) -> PathBuf {
        let png_dir = png.parent().unwrap_or(Path::new(""));
        png_dir.join(&self.graph_dir)
    }

    /// The recipe as text lines.
    pub fn to_text(&self) -> String {
        let mut text = format!("{FORMAT_LINE}\n");
        let mut line = |key: &str, value: &dyn std::fmt::Display| {
            let _ = writeln!(text, "{key}: {value}");
        };
        line("graph", &self.graph_file.display());
        line("graph-dir", &self.graph_dir.display());
        line("node", &self.node);
        line("index", &self.index);
        if let Some(digest) = &self.model_digest {
            line("model-blake3", digest);
        }
        for o in &self.overrides {
            line("set", o);
        }
        text
    }

    /// Parses [`Recipe::to_text`]'s output.
    pub fn parse(text: &str) -> Result<Recipe, String> {
        let mut lines = text.lines();
        if lines.next() != Some(FORMAT_LINE) {
            return Err(format!(
                "it does not start with `{FORMAT_LINE}` (written by another drape version?)"
            ));
        }
        let (mut graph_file, mut graph_dir, mut node, mut index) = (None, None, None, None);
        let mut recipe_digest = None;
        let mut overrides = Vec::new();
        for line in lines.filter(|l| !l.trim().is_empty()) {
            let (key, value) = line
                .split_once(": ")
                .ok_or_else(|| format!("`{line}` is not `key: value`"))?;
            match key {
                "graph" => graph_file = Some(PathBuf::from(value)),
                "graph-dir" => graph_dir = Some(PathBuf::from(value)),
                "node" => node = Some(value.to_string()),
                "index" => {
                    index = Some(
                        value
                            .parse::<usize>()
                            .map_err(|_| format!("index `{value}` is not a number"))?,
                    )
                }
                "model-blake3" => recipe_digest = Some(value.to_string()),
                "set" => overrides.push(value.parse::<Override>()?),
                other => return Err(format!("unknown recipe line `{other}`")),
            }
        }
        let missing = |what: &str| format!("it has no `{what}` line");
        Ok(Recipe {
            graph_file: graph_file.ok_or_else(|| missing("graph"))?,
            graph_dir: graph_dir.ok_or_else(|| missing("graph-dir"))?,
            node: node.ok_or_else(|| missing("node"))?,
            index: index.ok_or_else(|| missing("index"))?,
            model_digest: recipe_digest,
            overrides,
        })
    }
}

/// The most text one chunk of a design PNG may decompress to: graphs and recipes are a few KiB.
pub const TEXT_LIMIT: usize = 1 << 20;

/// Reads the graph, design and recipe a drape PNG carries.
pub fn read(path: &Path) -> Result<Embedded, RecipeError> {
    let unreadable = |message: String| RecipeError::Unreadable {
        path: path.to_path_buf(),
        message,
    };
    let file = std::fs::File::open(path).map_err(|e| unreadable(e.to_string()))?;
    let reader = png::Decoder::new(std::io::BufReader::new(file))
        .read_info()
        .map_err(|e| unreadable(e.to_string()))?;
    let chunk = |key: &'static str| {
        reader
            .info()
            .utf8_text
            .iter()
            .find(|c| c.keyword == key)
            .map(|c| {
                let mut chunk = c.clone();
                chunk
                    .decompress_text_with_limit(TEXT_LIMIT)
                    .and_then(|()| chunk.get_text())
            })
            .transpose()
            .map_err(|e| RecipeError::Damaged {
                path: path.to_path_buf(),
                message: format!(
                    "the `{key}` chunk cannot be decoded (drape reads at most {} KiB of text per chunk): {e}",
                    TEXT_LIMIT / 1024
                ),
            })?
            .ok_or(RecipeError::Missing {
                path: path.to_path_buf(),
                key,
            })
    };
    let recipe = Recipe::parse(&chunk(RECIPE_KEY)?).map_err(|message| RecipeError::Damaged {
        path: path.to_path_buf(),
        message,
    })?;
    Ok(Embedded {
        recipe,
        graph: chunk(GRAPH_KEY)?,
        design: chunk(DESIGN_KEY)?,
    })
}

/// The BLAKE3 digest (hex) of a model folder's weights file.
pub fn model_digest(model_dir: &Path) -> std::io::Result<String> {
    let file = std::fs::File::open(model_dir.join(MODEL_WEIGHTS_FILE))?;
    let mut hasher = blake3::Hasher::new();
    hasher.update_reader(file)?;
    Ok(hasher.finalize().to_hex().to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn recipes_read_back_what_was_written() {
        let recipe = Recipe {
            graph_file: "graphs/generate.ron".into(),
            graph_dir: "/home/me/drape/graphs".into(),
            node: "save-each".into(),
            index: 3,
            model_digest: Some("ab12".into()),
            overrides: vec!["w.truncation=0.5".parse().unwrap()],
        };
        assert_eq!(Recipe::parse(&recipe.to_text()), Ok(recipe));
        assert!(Recipe::parse("drape-recipe 1\nnode: s\n").is_err());
        assert!(Recipe::parse("something else").is_err());
    }

    #[test]
    fn text_chunks_decompress_to_at_most_the_limit() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("bomb.png");
        let file = std::fs::File::create(&path).unwrap();
        let mut encoder = png::Encoder::new(file, 1, 1);
        encoder.set_color(png::ColorType::Rgb);
        let recipe = Recipe {
            graph_file: "g.ron".into(),
            graph_dir: ".".into(),
            node: "s".into(),
            index: 0,
            model_digest: None,
            overrides: vec![],
        };
        encoder
            .add_itxt_chunk(RECIPE_KEY.to_string(), recipe.to_text())
            .unwrap();
        encoder
            .add_itxt_chunk(DESIGN_KEY.to_string(), "seed 1".into())
            .unwrap();
        let mut writer = encoder.write_header().unwrap();
        // Two MiB of one letter compress to a few KiB.
        let mut bomb = png::text_metadata::ITXtChunk::new(GRAPH_KEY, "a".repeat(2 << 20));
        bomb.compressed = true;
        bomb.compress_text().unwrap();
        writer.write_text_chunk(&bomb).unwrap();
        writer.write_image_data(&[0, 0, 0]).unwrap();
        writer.finish().unwrap();
        let size = std::fs::metadata(&path).unwrap().len();
        assert!(
            size < (TEXT_LIMIT as u64) / 4,
            "the PNG is small ({size} bytes)"
        );
        let err = read(&path).unwrap_err().to_string();
        assert!(err.contains("at most 1024 KiB"), "{err}");
    }
}
