//! A YAML reader that keeps where every node came from.
//!
//! Values are kept as written (scalars stay text) so that the schema walk can type them
//! against what the schema expects: an account id written `012345678901` stays a string.

use std::collections::HashMap;
use yaml_rust2::parser::{Event, MarkedEventReceiver, Parser};
use yaml_rust2::scanner::{Marker, TScalarStyle};

/// A YAML node and its 1-based position.
#[derive(Debug, Clone, PartialEq)]
pub struct Node {
    pub kind: NodeKind,
    pub line: usize,
    pub column: usize,
}

#[derive(Debug, Clone, PartialEq)]
pub enum NodeKind {
    /// `plain` is false for quoted and block scalars, which are always strings.
    Scalar {
        text: String,
        plain: bool,
    },
    Seq(Vec<Node>),
    /// Keys in document order.
    Map(Vec<(Node, Node)>),
}

impl Node {
    /// A plain scalar that YAML reads as null (`~`, `null`, or nothing at all).
    pub fn is_null(&self) -> bool {
        matches!(&self.kind, NodeKind::Scalar { text, plain: true }
            if text.is_empty() || text == "~" || text.eq_ignore_ascii_case("null"))
    }

    /// What this node is, in words, for error messages.
    pub fn describe(&self) -> String {
        match &self.kind {
            _ if self.is_null() => "nothing (null)".into(),
            NodeKind::Scalar { text, .. } => {
                let shown: String = text.chars().take(40).collect();
                format!("\"{shown}\"")
            }
            NodeKind::Seq(_) => "a list".into(),
            NodeKind::Map(_) => "a mapping".into(),
        }
    }
}

/// `over` laid on `base` the way Helm coalesces values: mappings merge key by key, anything
/// else in `over` replaces what `base` had.
pub fn merge(base: &Node, over: &Node) -> Node {
    match (&base.kind, &over.kind) {
        (NodeKind::Map(b), NodeKind::Map(o)) => {
            let mut entries = b.clone();
            for (k, v) in o {
                match entries.iter_mut().find(|(bk, _)| bk.kind == k.kind) {
                    Some(slot) => *slot = (k.clone(), merge(&slot.1, v)),
                    None => entries.push((k.clone(), v.clone())),
                }
            }
            Node {
                kind: NodeKind::Map(entries),
                line: over.line,
                column: over.column,
            }
        }
        _ => over.clone(),
    }
}

/// Whether `node` holds the dotted `field` path (`a.b[2].c`).
pub fn has_path(node: &Node, field: &str) -> bool {
    let mut cur = node;
    for part in field.split('.').filter(|p| !p.is_empty()) {
        let (key, indices) = match part.find('[') {
            Some(i) => (&part[..i], &part[i..]),
            None => (part, ""),
        };
        let NodeKind::Map(entries) = &cur.kind else {
            return false;
        };
        let Some((_, v)) = entries
            .iter()
            .find(|(k, _)| matches!(&k.kind, NodeKind::Scalar { text, .. } if text == key))
        else {
            return false;
        };
        cur = v;
        for idx in indices.split(['[', ']']).filter(|s| !s.is_empty()) {
            let (NodeKind::Seq(items), Ok(i)) = (&cur.kind, idx.parse::<usize>()) else {
                return false;
            };
            let Some(item) = items.get(i) else {
                return false;
            };
            cur = item;
        }
    }
    true
}

/// A syntax error with its position.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SyntaxError {
    pub line: usize,
    pub column: usize,
    pub message: String,
}

impl SyntaxError {
    /// The error as a diagnostic about `file`.
    pub fn diagnostic(&self, file: &str) -> crate::diag::Diagnostic {
        crate::diag::Diagnostic {
            file: file.to_string(),
            line: self.line,
            column: self.column,
            field: String::new(),
            message: format!("YAML syntax: {}", self.message),
            hint: None,
        }
    }
}

/// The most bytes a YAML text may have: every file ecomctl reads is far smaller.
pub const MAX_BYTES: usize = 16 * 1024 * 1024;
/// The most nodes a text may hold once every alias is expanded (a 1 KB "billion laughs" text
/// would expand to billions): about 100 bytes each, so well under 100 MB.
pub const MAX_NODES: usize = 100_000;
/// The deepest nesting accepted.
pub const MAX_DEPTH: usize = 200;

/// Parses every document in `text`. An empty stream gives no documents. Bounded: a text
/// over [`MAX_BYTES`], nested deeper than [`MAX_DEPTH`] or expanding (through aliases) to
/// more than [`MAX_NODES`] nodes is refused where it crosses the bound.
pub fn parse_documents(text: &str) -> Result<Vec<Node>, SyntaxError> {
    if text.len() > MAX_BYTES {
        return Err(SyntaxError {
            line: 1,
            column: 1,
            message: format!(
                "the text is {} MB; at most {} MB is read",
                text.len() >> 20,
                MAX_BYTES >> 20
            ),
        });
    }
    let mut builder = Builder::default();
    let mut parser = Parser::new_from_str(text);
    parser.load(&mut builder, true).map_err(|e| SyntaxError {
        line: e.marker().line(),
        column: e.marker().col() + 1,
        message: e.info().to_string(),
    })?;
    if let Some(err) = builder.error {
        return Err(err);
    }
    Ok(builder.docs)
}

/// Parses a file that must hold exactly one document (an empty file is an empty mapping).
pub fn parse_one(text: &str) -> Result<Node, SyntaxError> {
    let mut docs = parse_documents(text)?;
    match docs.len() {
        0 => Ok(Node {
            kind: NodeKind::Map(Vec::new()),
            line: 1,
            column: 1,
        }),
        1 => Ok(docs.remove(0)),
        _ => {
            let second = &docs[1];
            Err(SyntaxError {
                line: second.line,
                column: second.column,
                message: "expected one YAML document, found several".into(),
            })
        }
    }
}

enum Frame {
    Seq(Node, usize),
    Map(Node, usize, Option<Node>),
}

#[derive(Default)]
struct Builder {
    docs: Vec<Node>,
    stack: Vec<Frame>,
    /// Each anchored node and how many nodes it holds.
    anchors: HashMap<usize, (Node, usize)>,
    /// Nodes built so far, aliases expanded.
    nodes: usize,
    /// Nodes of each open collection (for the anchor sizes).
    open_sizes: Vec<usize>,
    error: Option<SyntaxError>,
}

/// Nodes in a tree.
fn count(node: &Node) -> usize {
    1 + match &node.kind {
        NodeKind::Scalar { .. } => 0,
        NodeKind::Seq(items) => items.iter().map(count).sum(),
        NodeKind::Map(entries) => entries.iter().map(|(k, v)| count(k) + count(v)).sum(),
    }
}

impl Builder {
    /// Counts `n` more nodes; past a bound, records the error (the rest of the text is then
    /// only scanned, nothing more is built).
    fn grow(&mut self, n: usize, line: usize, column: usize) -> bool {
        if self.error.is_some() {
            return false;
        }
        self.nodes = self.nodes.saturating_add(n);
        for open in &mut self.open_sizes {
            *open = open.saturating_add(n);
        }
        let message = if self.nodes > MAX_NODES {
            format!(
                "this alias expands the document past {MAX_NODES} nodes; aliases nested in aliases (a \"billion laughs\" text) are refused"
            )
        } else if self.stack.len() > MAX_DEPTH {
            format!("nested deeper than {MAX_DEPTH} levels")
        } else {
            return true;
        };
        self.error = Some(SyntaxError {
            line,
            column,
            message,
        });
        self.stack.clear();
        self.open_sizes.clear();
        self.anchors.clear();
        self.docs.clear();
        false
    }

    fn push_value(&mut self, node: Node) {
        match self.stack.last_mut() {
            None => self.docs.push(node),
            Some(Frame::Seq(seq, _)) => {
                if let NodeKind::Seq(items) = &mut seq.kind {
                    items.push(node);
                }
            }
            Some(Frame::Map(map, _, pending)) => match pending.take() {
                None => {
                    if !matches!(node.kind, NodeKind::Scalar { .. }) && self.error.is_none() {
                        self.error = Some(SyntaxError {
                            line: node.line,
                            column: node.column,
                            message: "mapping keys must be plain strings".into(),
                        });
                    }
                    *pending = Some(node);
                }
                Some(key) => {
                    if let NodeKind::Map(entries) = &mut map.kind {
                        entries.push((key, node));
                    }
                }
            },
        }
    }
}

impl MarkedEventReceiver for Builder {
    fn on_event(&mut self, ev: Event, mark: Marker) {
        let (line, column) = (mark.line(), mark.col() + 1);
        if self.error.is_some() {
            return;
        }
        match ev {
            Event::Scalar(text, style, anchor, _tag) => {
                if !self.grow(1, line, column) {
                    return;
                }
                let plain = style == TScalarStyle::Plain;
                let node = Node {
                    kind: NodeKind::Scalar { text, plain },
                    line,
                    column,
                };
                if anchor > 0 {
                    self.anchors.insert(anchor, (node.clone(), 1));
                }
                self.push_value(node);
            }
            Event::SequenceStart(anchor, _) => {
                if !self.grow(1, line, column) {
                    return;
                }
                self.open_sizes.push(1);
                self.stack.push(Frame::Seq(
                    Node {
                        kind: NodeKind::Seq(Vec::new()),
                        line,
                        column,
                    },
                    anchor,
                ))
            }
            Event::MappingStart(anchor, _) => {
                if !self.grow(1, line, column) {
                    return;
                }
                self.open_sizes.push(1);
                self.stack.push(Frame::Map(
                    Node {
                        kind: NodeKind::Map(Vec::new()),
                        line,
                        column,
                    },
                    anchor,
                    None,
                ))
            }
            Event::SequenceEnd | Event::MappingEnd => {
                let (mut node, anchor) = match self.stack.pop() {
                    Some(Frame::Seq(n, a)) | Some(Frame::Map(n, a, _)) => (n, a),
                    None => return,
                };
                let size = self.open_sizes.pop().unwrap_or_else(|| count(&node));
                // The parser marks a block mapping where it recognised it, past its first key;
                // the first key is where a reader sees the mapping start.
                if let NodeKind::Map(entries) = &node.kind {
                    if let Some((k, _)) = entries.first() {
                        (node.line, node.column) = (k.line, k.column);
                    }
                }
                if anchor > 0 {
                    self.anchors.insert(anchor, (node.clone(), size));
                }
                self.push_value(node);
            }
            Event::Alias(id) => {
                let size = self.anchors.get(&id).map_or(1, |(_, n)| *n);
                // Counted before it is copied: the copy is what would explode.
                if !self.grow(size, line, column) {
                    return;
                }
                let node = self
                    .anchors
                    .get(&id)
                    .map(|(n, _)| n.clone())
                    .unwrap_or(Node {
                        kind: NodeKind::Scalar {
                            text: String::new(),
                            plain: true,
                        },
                        line,
                        column,
                    });
                self.push_value(node);
            }
            _ => {}
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn positions_are_one_based_and_point_at_values() {
        let doc = parse_one("a: 1\nb:\n  c: \"x\"\n  d: [1, 2]\n").unwrap();
        let NodeKind::Map(entries) = &doc.kind else {
            panic!("map")
        };
        assert_eq!((entries[0].0.line, entries[0].0.column), (1, 1));
        assert_eq!((entries[0].1.line, entries[0].1.column), (1, 4));
        let NodeKind::Map(inner) = &entries[1].1.kind else {
            panic!("map")
        };
        assert_eq!((inner[0].1.line, inner[0].1.column), (3, 6));
        assert_eq!(
            inner[0].1.kind,
            NodeKind::Scalar {
                text: "x".into(),
                plain: false
            }
        );
    }

    #[test]
    fn syntax_errors_carry_a_position() {
        let err = parse_one("a: [1, 2\nb: 3\n").unwrap_err();
        assert!(err.line >= 1, "{err:?}");
        let err = parse_one("a: 1\n  b: 2\n").unwrap_err();
        assert_eq!(err.line, 2, "{err:?}");
    }

    #[test]
    fn merge_overlays_mappings_and_paths_are_found() {
        let base = parse_one("a:\n  b: 1\n  c: [1]\nd: x\n").unwrap();
        let over = parse_one("a:\n  c: [2, 3]\ne: y\n").unwrap();
        let m = merge(&base, &over);
        assert!(
            has_path(&m, "a.b") && has_path(&m, "a.c[1]") && has_path(&m, "d") && has_path(&m, "e")
        );
        assert!(!has_path(&over, "a.b") && !has_path(&m, "a.c[2]"));
    }

    /// The "billion laughs" text: 9 levels of 9 aliases each.
    pub(crate) fn alias_bomb() -> String {
        let mut text = String::from(
            "a0: &a0 [\"lol\",\"lol\",\"lol\",\"lol\",\"lol\",\"lol\",\"lol\",\"lol\",\"lol\"]\n",
        );
        for i in 1..10 {
            let refs = vec![format!("*a{}", i - 1); 9].join(",");
            text.push_str(&format!("a{i}: &a{i} [{refs}]\n"));
        }
        text
    }

    #[test]
    fn an_alias_bomb_is_refused_where_it_explodes() {
        let err = parse_one(&alias_bomb()).unwrap_err();
        assert!(err.message.contains("alias"), "{err:?}");
        assert!(err.line >= 5, "{err:?}");
    }

    #[test]
    fn deep_nesting_and_huge_texts_are_refused() {
        let deep = format!("{}{}", "[".repeat(MAX_DEPTH + 5), "]".repeat(MAX_DEPTH + 5));
        assert!(parse_one(&deep).unwrap_err().message.contains("deeper"));
        let huge = "a: 1\n".repeat(MAX_BYTES / 5 + 1);
        assert!(parse_one(&huge).unwrap_err().message.contains("MB"));
    }

    #[test]
    fn aliases_resolve_and_several_documents_are_refused() {
        let doc = parse_one("x: &v [1]\ny: *v\n").unwrap();
        let NodeKind::Map(entries) = &doc.kind else {
            panic!("map")
        };
        assert_eq!(entries[0].1.kind, entries[1].1.kind);
        assert!(parse_one("a: 1\n---\nb: 2\n").is_err());
        assert_eq!(parse_documents("a: 1\n---\nb: 2\n").unwrap().len(), 2);
    }
}
