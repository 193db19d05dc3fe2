//! What a contact sheet writes about its designs. Each design's label is read as a list of facts, in
//! the grammar the nodes build labels with: `seed 3 × seed 7` (MixLayers) is two facts, `seed 3,
//! long-sleeves -2σ` (ApplyDirection, whose edit is also in the design's params) three — the seed,
//! the direction and the amount — and `seed 1→seed 2 3/8` (Interpolate) two, the path and the step.
//! When every fact that varies over the sheet is the same along each row or down each column, the
//! sheet is a matrix or a strip: those facts are written once, as row headers at the left and column
//! headers on top, and what all designs share as a caption. Otherwise each cell gets its label.

use drape_engine::Design;

/// One fact of a label and the separator that joined it to the fact before it (`""` for the first).
#[derive(Clone, Debug, PartialEq)]
struct Fact {
    separator: &'static str,
    text: String,
}

/// What to write on a sheet.
#[derive(Clone, Debug, PartialEq)]
pub enum SheetLabels {
    /// One label under each cell: the designs' own labels.
    Cells(Vec<String>),
    /// Each varying fact once.
    Headers {
        /// What every design shares (empty when nothing is shared).
        caption: String,
        /// One header per row, left of it; empty when nothing varies from row to row.
        rows: Vec<String>,
        /// One header per column, above it; empty when nothing varies from column to column.
        columns: Vec<String>,
    },
}

/// The labels for `designs` laid out `columns` to a row (the last row may be short).
pub fn sheet_labels(designs: &[Design], columns: usize) -> SheetLabels {
    let cells = || SheetLabels::Cells(designs.iter().map(|d| d.label.clone()).collect());
    let facts: Vec<Vec<Fact>> = designs.iter().map(facts).collect();
    let Some(first) = facts.first() else {
        return cells();
    };
    let slots = first.len();
    if designs.len() < 2 || columns == 0 || facts.iter().any(|f| f.len() != slots) {
        return cells();
    }
    let rows = designs.len().div_ceil(columns);
    // Whether fact `slot` of every design is that of the first design of its group (`first(i)`).
    let same_within = |slot: usize, first: &dyn Fn(usize) -> usize| {
        (0..designs.len()).all(|i| facts[first(i)][slot].text == facts[i][slot].text)
    };
    let (mut common, mut by_row, mut by_column) = (Vec::new(), Vec::new(), Vec::new());
    for slot in 0..slots {
        if same_within(slot, &|_| 0) {
            common.push(slot);
        } else if same_within(slot, &|i| i - i % columns) {
            by_row.push(slot);
        } else if same_within(slot, &|i| i % columns) {
            by_column.push(slot);
        } else {
            return cells();
        }
    }
    let header = |i: usize, slots: &[usize]| join(slots.iter().map(|&s| &facts[i][s]));
    SheetLabels::Headers {
        caption: header(0, &common),
        rows: if by_row.is_empty() {
            Vec::new()
        } else {
            (0..rows).map(|r| header(r * columns, &by_row)).collect()
        },
        columns: if by_column.is_empty() {
            Vec::new()
        } else {
            (0..columns.min(designs.len()))
                .map(|c| header(c, &by_column))
                .collect()
        },
    }
}

/// Facts written out again, each after its separator but the first.
fn join<'a>(facts: impl Iterator<Item = &'a Fact>) -> String {
    let mut out = String::new();
    for fact in facts {
        if !out.is_empty() {
            out.push_str(fact.separator);
        }
        out.push_str(&fact.text);
    }
    out
}

/// The facts of a design's label.
fn facts(design: &Design) -> Vec<Fact> {
    let mut out = Vec::new();
    for (i, mixed) in design.label.split(" × ").enumerate() {
        for (j, part) in mixed.split(", ").enumerate() {
            let separator = match (i, j) {
                (0, 0) => "",
                (_, 0) => " × ",
                _ => ", ",
            };
            let split = edit(design, part).or_else(|| frame_step(part));
            match split {
                Some((head, tail)) => {
                    out.push(Fact {
                        separator,
                        text: head.to_string(),
                    });
                    out.push(Fact {
                        separator: " ",
                        text: tail.to_string(),
                    });
                }
                None => out.push(Fact {
                    separator,
                    text: part.to_string(),
                }),
            }
        }
    }
    out
}

/// `long-sleeves -2σ` as the direction and the amount, when the design records that edit.
fn edit<'a>(design: &Design, part: &'a str) -> Option<(&'a str, &'a str)> {
    let (name, amount) = part.rsplit_once(' ')?;
    design
        .params
        .iter()
        .any(|(n, v)| n == name && v == amount)
        .then_some((name, amount))
}

/// `seed 1→seed 2 3/8` as the path and the step.
fn frame_step(part: &str) -> Option<(&str, &str)> {
    let (path, step) = part.rsplit_once(' ')?;
    let (k, n) = step.split_once('/')?;
    let digits = |s: &str| !s.is_empty() && s.bytes().all(|b| b.is_ascii_digit());
    (path.contains('→') && digits(k) && digits(n)).then_some((path, step))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn seeds(seeds: impl IntoIterator<Item = u32>) -> Vec<Design> {
        seeds.into_iter().map(Design::from_seed).collect()
    }

    /// Designs as MixLayers makes them: each of `a` mixed with each of `b`, `a` outermost.
    fn matrix(a: &[u32], b: &[u32]) -> Vec<Design> {
        a.iter()
            .flat_map(|&x| {
                b.iter()
                    .map(move |&y| Design::labelled(format!("seed {x} × seed {y}")))
            })
            .collect()
    }

    /// Designs as ApplyDirection's strips make them: per direction, per seed, per amount.
    fn strips(directions: &[&str], seeds: &[u32], amounts: &[&str]) -> Vec<Design> {
        let mut out = Vec::new();
        for d in directions {
            for &s in seeds {
                for a in amounts {
                    let mut design = Design::from_seed(s).with_param("truncation", 0.7);
                    design.label = format!("{}, {d} {a}", design.label);
                    out.push(design.with_param(d, a));
                }
            }
        }
        out
    }

    fn strings(items: &[&str]) -> Vec<String> {
        items.iter().map(|s| s.to_string()).collect()
    }

    #[test]
    fn a_mixing_matrix_gets_row_and_column_headers() {
        let labels = sheet_labels(&matrix(&[100, 101, 102, 103], &[110, 111, 112, 113]), 4);
        assert_eq!(
            labels,
            SheetLabels::Headers {
                caption: String::new(),
                rows: strings(&["seed 100", "seed 101", "seed 102", "seed 103"]),
                columns: strings(&["seed 110", "seed 111", "seed 112", "seed 113"]),
            }
        );
        // The same batch in the wrong number of columns is no matrix.
        let designs = matrix(&[0, 1, 2, 3], &[10, 11, 12, 13]);
        assert!(matches!(sheet_labels(&designs, 3), SheetLabels::Cells(_)));
        // Laid out in one column: what varies down it heads the rows; the rest is shared.
        let column = matrix(&[0], &[10, 11, 12]);
        assert_eq!(
            sheet_labels(&column, 1),
            SheetLabels::Headers {
                caption: "seed 0".into(),
                rows: strings(&["seed 10", "seed 11", "seed 12"]),
                columns: Vec::new(),
            }
        );
    }

    #[test]
    fn direction_strips_head_rows_with_the_design_and_direction_and_columns_with_the_amount() {
        let amounts = ["-2σ", "+0σ", "+2σ"];
        let designs = strips(&["long-sleeves", "red"], &[3, 14], &amounts);
        assert_eq!(
            sheet_labels(&designs, 3),
            SheetLabels::Headers {
                caption: String::new(),
                rows: strings(&[
                    "seed 3, long-sleeves",
                    "seed 14, long-sleeves",
                    "seed 3, red",
                    "seed 14, red"
                ]),
                columns: strings(&amounts),
            }
        );
        // One strip: column headers, and the design and direction as the caption.
        assert_eq!(
            sheet_labels(&strips(&["c4"], &[3], &amounts), 3),
            SheetLabels::Headers {
                caption: "seed 3, c4".into(),
                rows: Vec::new(),
                columns: strings(&amounts),
            }
        );
    }

    #[test]
    fn a_row_of_seeds_is_a_strip_and_a_block_of_them_is_labelled_cell_by_cell() {
        assert_eq!(
            sheet_labels(&seeds([3, 14, 15, 92]), 4),
            SheetLabels::Headers {
                caption: String::new(),
                rows: Vec::new(),
                columns: strings(&["seed 3", "seed 14", "seed 15", "seed 92"]),
            }
        );
        let sheet = sheet_labels(&seeds(0..16), 8);
        assert_eq!(
            sheet,
            SheetLabels::Cells((0..16).map(|s| format!("seed {s}")).collect())
        );
        // Labels of different shapes, and a single design, are labelled as they are.
        let mixed = vec![Design::from_seed(1), Design::labelled("seed 3 × seed 7")];
        assert!(matches!(sheet_labels(&mixed, 2), SheetLabels::Cells(_)));
        assert!(matches!(
            sheet_labels(&seeds([1]), 1),
            SheetLabels::Cells(_)
        ));
    }

    #[test]
    fn interpolation_frames_split_into_path_and_step() {
        let frames: Vec<Design> = [(1, 2), (2, 1)]
            .iter()
            .flat_map(|&(a, b)| {
                (0..4).map(move |k| {
                    Design::labelled(format!("seed {a}→seed {b} {k}/4")).with_param("t", k)
                })
            })
            .collect();
        assert_eq!(
            sheet_labels(&frames, 4),
            SheetLabels::Headers {
                caption: String::new(),
                rows: strings(&["seed 1→seed 2", "seed 2→seed 1"]),
                columns: strings(&["0/4", "1/4", "2/4", "3/4"]),
            }
        );
    }

    #[test]
    fn a_short_last_row_still_makes_a_matrix() {
        let designs: Vec<Design> = matrix(&[0, 1, 2], &[10, 11, 12])
            .into_iter()
            .take(7)
            .collect();
        let SheetLabels::Headers { rows, columns, .. } = sheet_labels(&designs, 3) else {
            panic!("a matrix")
        };
        assert_eq!(rows, strings(&["seed 0", "seed 1", "seed 2"]));
        assert_eq!(columns, strings(&["seed 10", "seed 11", "seed 12"]));
    }
}
