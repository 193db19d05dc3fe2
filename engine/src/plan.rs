//! Planning: from the output nodes (or the ones the user picked) back to what they need, in
//! topological order.

use petgraph::algo::toposort;
use petgraph::graph::DiGraph;

use crate::graph::Graph;
use crate::registry::did_you_mean;

/// The indices of the nodes to run, in an order where every node comes after its inputs.
/// `only` restricts the targets to the named nodes; empty means every output node.
pub fn plan(graph: &Graph, only: &[String]) -> Result<Vec<usize>, String> {
    let targets: Vec<usize> = if only.is_empty() {
        (0..graph.nodes.len())
            .filter(|&i| graph.nodes[i].op.is_output())
            .collect()
    } else {
        only.iter()
            .map(|id| {
                graph.index_of(id).ok_or_else(|| {
                    let hint = did_you_mean(id, graph.nodes.iter().map(|n| n.id.as_str()))
                        .map(|s| format!(" (did you mean \"{s}\"?)"))
                        .unwrap_or_default();
                    format!(
                        "--only names node \"{id}\", which {} does not have{hint}",
                        graph.path.display()
                    )
                })
            })
            .collect::<Result<_, _>>()?
    };

    let mut needed = vec![false; graph.nodes.len()];
    let mut stack = targets;
    while let Some(i) = stack.pop() {
        if !std::mem::replace(&mut needed[i], true) {
            stack.extend(graph.nodes[i].inputs.iter().map(|c| c.from));
        }
    }

    let mut g = DiGraph::<usize, ()>::new();
    let ix: Vec<_> = (0..graph.nodes.len()).map(|i| g.add_node(i)).collect();
    for (i, node) in graph.nodes.iter().enumerate() {
        for c in &node.inputs {
            g.add_edge(ix[c.from], ix[i], ());
        }
    }
    let order = toposort(&g, None).map_err(|cycle| {
        format!(
            "the graph has a cycle through node \"{}\"",
            graph.nodes[g[cycle.node_id()]].id
        )
    })?;
    Ok(order
        .into_iter()
        .map(|n| g[n])
        .filter(|&i| needed[i])
        .collect())
}
