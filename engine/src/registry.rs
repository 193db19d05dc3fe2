//! The registry of node types: lookup by name (kebab-case or the PascalCase written in graph files),
//! "did you mean" suggestions, and the consistency checks every registered node must pass.

use crate::node::Node;

/// An explicit list of node types. The engine knows nodes only through this.
pub struct Registry {
    nodes: Vec<&'static dyn Node>,
}

/// The PascalCase name a graph file uses for a kebab-case node name: `sample-latent` → `SampleLatent`.
pub fn graph_name(name: &str) -> String {
    name.split('-')
        .map(|part| {
            let mut chars = part.chars();
            match chars.next() {
                Some(first) => first.to_ascii_uppercase().to_string() + chars.as_str(),
                None => String::new(),
            }
        })
        .collect()
}

/// The closest candidate to `word` by edit distance, when it is close enough to be a likely typo,
/// or else the one `word` abbreviates or spells out (`trunc` → `truncation`, `constant` → `const`).
pub fn did_you_mean<'a>(
    word: &str,
    candidates: impl IntoIterator<Item = &'a str>,
) -> Option<&'a str> {
    let lower = word.to_lowercase();
    let candidates: Vec<&'a str> = candidates.into_iter().collect();
    let close = candidates
        .iter()
        .map(|c| (strsim::damerau_levenshtein(&lower, &c.to_lowercase()), *c))
        .filter(|(distance, c)| *distance <= (c.len().max(3) / 3).max(1) + 1)
        .min_by_key(|(distance, _)| *distance)
        .map(|(_, c)| c);
    close.or_else(|| {
        let shared = |c: &str| {
            let c = c.to_lowercase();
            lower.len().min(c.len()) >= 3 && (c.starts_with(&lower) || lower.starts_with(&c))
        };
        let mut matches = candidates.into_iter().filter(|c| shared(c));
        let first = matches.next()?;
        // Only an unambiguous abbreviation is a suggestion.
        matches.next().is_none().then_some(first)
    })
}

impl Registry {
    /// A registry of the given nodes, in catalogue order.
    pub fn new(nodes: Vec<&'static dyn Node>) -> Self {
        Registry { nodes }
    }

    /// All nodes, in catalogue order.
    pub fn nodes(&self) -> &[&'static dyn Node] {
        &self.nodes
    }

    /// The node with this kebab-case or PascalCase name.
    pub fn get(&self, name: &str) -> Option<&'static dyn Node> {
        self.nodes
            .iter()
            .copied()
            .find(|n| n.name() == name || graph_name(n.name()) == name)
    }

    /// The PascalCase name closest to `name`, for "did you mean".
    pub fn suggest(&self, name: &str) -> Option<String> {
        let names: Vec<String> = self.nodes.iter().map(|n| graph_name(n.name())).collect();
        did_you_mean(name, names.iter().map(String::as_str)).map(str::to_string)
    }

    /// Every way a registered node breaks the plugin rules: missing docs, bad names, duplicate
    /// names, or a default that does not fit its parameter. Empty when all is well.
    pub fn problems(&self) -> Vec<String> {
        let mut problems = Vec::new();
        let mut seen = std::collections::HashSet::new();
        for node in &self.nodes {
            let name = node.name();
            if !seen.insert(name) {
                problems.push(format!("`{name}` is registered twice"));
            }
            if name.is_empty()
                || !name
                    .chars()
                    .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-')
            {
                problems.push(format!("`{name}`: node names are kebab-case"));
            }
            let doc = node.doc().trim();
            if doc.is_empty() || doc.lines().next().is_some_and(|l| l.trim().len() < 10) {
                problems.push(format!("`{name}` has no summary line in its docs"));
            }
            let ports = node.inputs().iter().chain(node.outputs());
            for port in ports {
                if port.doc.trim().is_empty() {
                    problems.push(format!("`{name}`: port `{}` has no docs", port.name));
                }
            }
            let mut fields = std::collections::HashSet::new();
            for port in node.inputs() {
                fields.insert(port.name);
            }
            for param in node.params() {
                if param.doc.trim().is_empty() {
                    problems.push(format!("`{name}`: parameter `{}` has no docs", param.name));
                }
                if !fields.insert(param.name) {
                    problems.push(format!(
                        "`{name}`: `{}` is both an input and a parameter, or twice",
                        param.name
                    ));
                }
            }
            for (other, ours) in node.synonyms() {
                if !node.params().iter().any(|p| p.name == *ours) || fields.contains(other) {
                    problems.push(format!(
                        "`{name}`: synonym `{other}` must name another tool's word for one of its parameters"
                    ));
                }
            }
            if !node.is_output() && node.outputs().is_empty() {
                problems.push(format!("`{name}` has no outputs and is not an output node"));
            }
        }
        problems
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn graph_names_are_pascal_case() {
        assert_eq!(graph_name("sample-latent"), "SampleLatent");
        assert_eq!(graph_name("map"), "Map");
        assert_eq!(graph_name("save-latents"), "SaveLatents");
    }

    #[test]
    fn suggestions_catch_typos_only() {
        let names = ["SampleLatent", "Map", "Save", "Grid"];
        assert_eq!(did_you_mean("SampleLatnet", names), Some("SampleLatent"));
        assert_eq!(did_you_mean("save", names), Some("Save"));
        assert_eq!(did_you_mean("Synthesize", names), None);
    }

    #[test]
    fn suggestions_cover_typos_and_abbreviations() {
        assert_eq!(did_you_mean("seed", ["seeds", "count"]), Some("seeds"));
        assert_eq!(
            did_you_mean("trunc", ["truncation", "cutoff"]),
            Some("truncation")
        );
        assert_eq!(
            did_you_mean("constant", ["const", "random", "none"]),
            Some("const")
        );
        assert_eq!(did_you_mean("xyz", ["const", "random", "none"]), None);
        // Ambiguous abbreviations suggest nothing.
        assert_eq!(did_you_mean("reso", ["resolution", "resonance"]), None);
    }
}
