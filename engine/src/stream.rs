//! Streaming: which nodes of a graph can run design by design, so that a large batch flows through
//! them in chunks and memory stays flat whatever its size. The executor runs this region chunk by chunk
//! (`exec.rs`); validation counts only a chunk of what stays inside it against the memory budget.

use std::collections::HashMap;
use std::ops::Range;
use std::path::Path;

use crate::budget::Extent;
use crate::graph::GraphNode;

/// Designs per chunk of a streamed run.
pub const CHUNK: usize = 64;

/// A batch streams when it holds more designs than this; smaller ones run whole, and their nodes'
/// outputs stay cached for the next run (watch mode's edits re-run only what they touch).
pub const STREAM_ABOVE: usize = 256;

/// How a node treats the designs of its batch.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Items {
    /// It needs the whole batch at once (a sheet, an animation, every pair, one file of all latents).
    Whole,
    /// Design k of its output depends only on design k of each input (for a source: on k itself), so
    /// it can run on any contiguous range of designs, given by
    /// [`crate::NodeContext::designs`]; work that depends on a design's position uses the position in
    /// the whole batch.
    PerDesign,
}

/// Every node's estimated outputs, in the nodes' order (`None`: unknown), walking `order`.
pub fn estimate_all(
    nodes: &[GraphNode],
    order: &[usize],
    model: Option<&Path>,
) -> Vec<Option<Vec<Extent>>> {
    let mut estimates: Vec<Option<Vec<Extent>>> = vec![None; nodes.len()];
    for &i in order {
        let node = &nodes[i];
        estimates[i] = node
            .op
            .estimate(&node.params, &input_estimates(node, &estimates), model);
    }
    estimates
}

/// The estimates of `node`'s inputs, by port, where they are known.
pub fn input_estimates(
    node: &GraphNode,
    estimates: &[Option<Vec<Extent>>],
) -> HashMap<&'static str, Extent> {
    node.inputs
        .iter()
        .filter_map(|c| Some((c.port, *estimates[c.from].as_ref()?.get(c.from_port)?)))
        .collect()
}

/// The streamed part of a graph.
#[derive(Clone, Debug, PartialEq)]
pub struct Region {
    /// By node index: whether it runs chunk by chunk.
    pub members: Vec<bool>,
    /// By node index: whether it is a member or depends on one (runs after the region).
    pub after: Vec<bool>,
    /// The designs every member works through.
    pub designs: usize,
}

impl Region {
    /// The chunks of `range` (the whole batch by default) in order.
    pub fn chunks(range: Range<usize>) -> impl Iterator<Item = Range<usize>> {
        range
            .clone()
            .step_by(CHUNK)
            .map(move |start| start..(start + CHUNK).min(range.end))
    }

    /// True when member `i`'s outputs are read by a node outside the region (in `planned`), which
    /// then needs the whole batch gathered from the chunks.
    pub fn read_outside(&self, nodes: &[GraphNode], planned: &[usize], i: usize) -> bool {
        planned
            .iter()
            .any(|&j| !self.members[j] && nodes[j].inputs.iter().any(|c| c.from == i))
    }
}

/// The nodes of `order` (a topological order) that can stream: per-design nodes whose inputs come from
/// members or from nodes outside the region that depend on no member, all of one batch size; of several
/// such groups, the one with the most designs. `None` when no node can stream.
pub fn region(
    nodes: &[GraphNode],
    order: &[usize],
    estimates: &[Option<Vec<Extent>>],
) -> Option<Region> {
    let mut designs: Vec<Option<u64>> = vec![None; nodes.len()];
    for &i in order {
        let node = &nodes[i];
        if node.op.items(&node.params) != Items::PerDesign {
            continue;
        }
        let count = |c: &crate::graph::Connection| match designs[c.from] {
            Some(n) => Some(n),
            None => estimates[c.from]
                .as_ref()?
                .get(c.from_port)
                .map(|e| e.items),
        };
        let counts: Option<Vec<u64>> = node.inputs.iter().map(count).collect();
        designs[i] = match counts {
            Some(counts) if counts.is_empty() => estimates[i]
                .as_ref()
                .and_then(|e| e.first())
                .map(|e| e.items),
            Some(counts) if counts.windows(2).all(|w| w[0] == w[1]) => Some(counts[0]),
            _ => None,
        };
        // An input from a non-member that itself depends on a member would need the streamed part
        // finished before it starts.
        let tainted_input = node.inputs.iter().any(|c| designs[c.from].is_none())
            && node
                .inputs
                .iter()
                .any(|c| designs[c.from].is_none() && depends_on(nodes, c.from, &designs));
        if tainted_input {
            designs[i] = None;
        }
    }
    let largest = designs.iter().flatten().copied().max().filter(|&n| n > 0)?;
    let members: Vec<bool> = designs.iter().map(|d| *d == Some(largest)).collect();
    let mut after = members.clone();
    for &i in order {
        after[i] |= nodes[i].inputs.iter().any(|c| after[c.from]);
    }
    Some(Region {
        members,
        after,
        designs: usize::try_from(largest).ok()?,
    })
}

/// True when node `i` depends on a node with a batch size in `designs` (a candidate member).
fn depends_on(nodes: &[GraphNode], i: usize, designs: &[Option<u64>]) -> bool {
    let mut stack: Vec<usize> = nodes[i].inputs.iter().map(|c| c.from).collect();
    let mut seen = vec![false; nodes.len()];
    while let Some(j) = stack.pop() {
        if std::mem::replace(&mut seen[j], true) {
            continue;
        }
        if designs[j].is_some() {
            return true;
        }
        stack.extend(nodes[j].inputs.iter().map(|c| c.from));
    }
    false
}
