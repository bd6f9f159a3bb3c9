//! The front door of GraphQL: what a document may cost before async-graphql parses or
//! validates it. A lexical pass bounds its tokens and nesting (so neither the parser's
//! recursion nor its allocation can run away); then the parsed document's *expanded* field
//! count — each fragment counted once and memoised, so the check is linear however the
//! fragments nest — and its `stats` fields are bounded. Every refusal is `LIMIT_EXCEEDED`
//! naming the limit.

use crate::error::ApiError;
use async_graphql::parser::types::{
    ExecutableDocument, Field, FragmentDefinition, OperationType, Selection, SelectionSet,
};
use async_graphql::{Name, Positioned};
use std::collections::HashMap;

/// Bounds on one document.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct GateLimits {
    /// Tokens in the document (names, punctuation, values).
    pub max_tokens: usize,
    /// Nesting of `{`, `[` and `(`.
    pub max_nesting: usize,
    /// Fields once every fragment spread is expanded, aliases and root fields included.
    pub max_fields: u64,
    /// `stats` fields in one document.
    pub max_stats: u64,
}

impl Default for GateLimits {
    fn default() -> Self {
        Self {
            max_tokens: 20_000,
            max_nesting: 48,
            max_fields: 5_000,
            max_stats: 3,
        }
    }
}

/// What the gate saw of a document it let through.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Shape {
    /// It selects `__schema` or `__type` (introspection; `__typename` is not).
    pub introspects: bool,
    /// The type of the operation the request runs (the one `operation` names, or the only
    /// one); `None` when the document does not parse or names no such operation.
    pub kind: Option<OperationType>,
    /// That operation's name, when it has one.
    pub name: Option<String>,
    /// Small enough ([`LIGHT_TOKENS`], [`LIGHT_FIELDS`]) for async-graphql's synchronous
    /// validation to run on an async worker: measured at about 0.7 ms for the whole request
    /// of 200 aliased fields, where a document at the limits (5,000 fields) takes 15–26 ms
    /// and runs on the blocking pool instead.
    pub light: bool,
}

/// Most tokens of a [light](Shape::light) document.
pub const LIGHT_TOKENS: usize = 1_000;
/// Most expanded fields of a [light](Shape::light) document.
pub const LIGHT_FIELDS: u64 = 200;

/// A document the gate let through: what it asks for, and the document as parsed (`None`
/// when it does not parse), for async-graphql to execute without parsing it again.
#[derive(Debug)]
pub struct Admitted {
    /// What it asks for.
    pub shape: Shape,
    /// The parsed document.
    pub document: Option<ExecutableDocument>,
}

/// Checks a document against the limits, and tells what it asks for, with the document as
/// parsed. A document that does not parse passes: the schema reports its syntax error as
/// usual.
pub fn admit(
    query: &str,
    operation: Option<&str>,
    limits: &GateLimits,
) -> Result<Admitted, ApiError> {
    let tokens = lexical(query, limits)?;
    let Ok(doc) = async_graphql::parser::parse_query(query) else {
        return Ok(Admitted {
            shape: Shape::default(),
            document: None,
        });
    };
    let Cost {
        fields,
        stats,
        introspection,
    } = expanded(&doc);
    if fields > limits.max_fields {
        return Err(ApiError::LimitExceeded(format!(
            "the query selects more than {} fields once its fragments are expanded (max_fields)",
            limits.max_fields
        )));
    }
    if stats > limits.max_stats {
        return Err(ApiError::LimitExceeded(format!(
            "at most {} stats fields per request (max_stats); group by more keys in one stats instead",
            limits.max_stats
        )));
    }
    let selected = match operation {
        Some(name) => doc
            .operations
            .iter()
            .find(|(n, _)| n.is_some_and(|n| n.as_str() == name)),
        None => {
            let mut ops = doc.operations.iter();
            match (ops.next(), ops.next()) {
                (Some(op), None) => Some(op),
                _ => None,
            }
        }
    };
    let shape = Shape {
        introspects: introspection > 0,
        kind: selected.map(|(_, op)| op.node.ty),
        name: selected.and_then(|(n, _)| n.map(|n| n.to_string())),
        light: tokens <= LIGHT_TOKENS && fields <= LIGHT_FIELDS,
    };
    Ok(Admitted {
        shape,
        document: Some(doc),
    })
}

/// Adds to `out` the input names under `name` whose literal integer is outside GraphQL's
/// `Int` (32 bits).
fn out_of_range(name: &str, v: &async_graphql::Value, out: &mut Vec<String>) {
    use async_graphql::Value;
    match v {
        Value::Number(n) => {
            let fits = n.as_i64().is_some_and(|i| i32::try_from(i).is_ok());
            if !fits && (n.is_i64() || n.is_u64()) && !out.iter().any(|o| o == name) {
                out.push(name.to_string());
            }
        }
        Value::List(items) => items.iter().for_each(|i| out_of_range(name, i, out)),
        Value::Object(fields) => fields
            .iter()
            .for_each(|(k, v)| out_of_range(k.as_str(), v, out)),
        _ => {}
    }
}

/// The argument and input-field names of one field whose literal integer is outside
/// GraphQL's `Int` (32 bits), for naming them in the error async-graphql reports without
/// them.
pub fn out_of_range_arguments(field: &async_graphql::parser::types::Field) -> Vec<String> {
    let mut out = Vec::new();
    for (name, value) in &field.arguments {
        out_of_range(
            name.node.as_str(),
            &value.node.clone().into_const().unwrap_or_default(),
            &mut out,
        );
    }
    out
}

/// Counts tokens and nesting without building anything; the count of tokens.
fn lexical(q: &str, limits: &GateLimits) -> Result<usize, ApiError> {
    let b = q.as_bytes();
    let (mut i, mut tokens, mut depth) = (0usize, 0usize, 0usize);
    let too_many = || {
        ApiError::LimitExceeded(format!(
            "the query has more than {} tokens (max_tokens)",
            limits.max_tokens
        ))
    };
    while i < b.len() {
        let c = b[i];
        match c {
            b' ' | b'\t' | b'\n' | b'\r' | b',' => {
                i += 1;
                continue;
            }
            b'#' => {
                while i < b.len() && b[i] != b'\n' && b[i] != b'\r' {
                    i += 1;
                }
                continue;
            }
            b'"' => {
                if b[i..].starts_with(b"\"\"\"") {
                    i += 3;
                    while i < b.len() && !b[i..].starts_with(b"\"\"\"") {
                        i += if b[i] == b'\\' { 2 } else { 1 };
                    }
                    i += 3;
                } else {
                    i += 1;
                    while i < b.len() && b[i] != b'"' && b[i] != b'\n' {
                        i += if b[i] == b'\\' { 2 } else { 1 };
                    }
                    i += 1;
                }
            }
            b'{' | b'[' | b'(' => {
                depth += 1;
                if depth > limits.max_nesting {
                    return Err(ApiError::LimitExceeded(format!(
                        "the query nests deeper than {} levels (max_nesting)",
                        limits.max_nesting
                    )));
                }
                i += 1;
            }
            b'}' | b']' | b')' => {
                depth = depth.saturating_sub(1);
                i += 1;
            }
            b'.' if b[i..].starts_with(b"...") => i += 3,
            c if c.is_ascii_alphanumeric() || c == b'_' || c == b'-' => {
                while i < b.len()
                    && (b[i].is_ascii_alphanumeric() || matches!(b[i], b'_' | b'.' | b'-' | b'+'))
                {
                    i += 1;
                }
            }
            _ => i += 1,
        }
        tokens += 1;
        if tokens > limits.max_tokens {
            return Err(too_many());
        }
    }
    Ok(tokens)
}

/// What a document selects once its fragments are expanded.
#[derive(Debug, Clone, Copy, Default)]
struct Cost {
    /// Fields, aliases and root fields included.
    fields: u64,
    /// `stats` fields.
    stats: u64,
    /// `__schema` and `__type` fields.
    introspection: u64,
}

/// The [`Cost`] of every operation, fragments expanded.
fn expanded(doc: &ExecutableDocument) -> Cost {
    fold_fields(
        doc,
        &|field, inner: Cost| {
            let name = field.name.node.as_str();
            Cost {
                fields: inner.fields.saturating_add(1),
                stats: inner.stats.saturating_add(u64::from(name == "stats")),
                introspection: inner
                    .introspection
                    .saturating_add(u64::from(matches!(name, "__schema" | "__type"))),
            }
        },
        &|a, b| Cost {
            fields: a.fields.saturating_add(b.fields),
            stats: a.stats.saturating_add(b.stats),
            introspection: a.introspection.saturating_add(b.introspection),
        },
    )
}

/// Folds every operation's fields with fragments expanded: `field` gives a field's value
/// from the value of its own selection, `join` combines siblings (and the operations). Each
/// fragment is folded once and its value reused wherever it is spread, so the work is
/// linear in the document however fragments nest; a cycle or an unknown fragment counts as
/// `T::default()` (validation refuses both).
pub(crate) fn fold_fields<T: Copy + Default>(
    doc: &ExecutableDocument,
    field: &dyn Fn(&Field, T) -> T,
    join: &dyn Fn(T, T) -> T,
) -> T {
    struct Fold<'d, 'f, T> {
        fragments: &'d HashMap<Name, Positioned<FragmentDefinition>>,
        field: &'f dyn Fn(&Field, T) -> T,
        join: &'f dyn Fn(T, T) -> T,
        memo: HashMap<&'d str, T>,
        visiting: Vec<&'d str>,
    }
    impl<'d, T: Copy + Default> Fold<'d, '_, T> {
        fn set(&mut self, set: &'d SelectionSet) -> T {
            let mut acc = T::default();
            for sel in &set.items {
                let v = match &sel.node {
                    Selection::Field(f) => {
                        let inner = self.set(&f.node.selection_set.node);
                        (self.field)(&f.node, inner)
                    }
                    Selection::InlineFragment(inline) => self.set(&inline.node.selection_set.node),
                    Selection::FragmentSpread(spread) => {
                        let name = spread.node.fragment_name.node.as_str();
                        if let Some(v) = self.memo.get(name) {
                            *v
                        } else if self.visiting.contains(&name) {
                            T::default()
                        } else if let Some((key, def)) = self.fragments.get_key_value(name) {
                            self.visiting.push(key.as_str());
                            let v = self.set(&def.node.selection_set.node);
                            self.visiting.pop();
                            self.memo.insert(key.as_str(), v);
                            v
                        } else {
                            T::default()
                        }
                    }
                };
                acc = (self.join)(acc, v);
            }
            acc
        }
    }
    let mut fold = Fold {
        fragments: &doc.fragments,
        field,
        join,
        memo: HashMap::new(),
        visiting: Vec::new(),
    };
    let mut total = T::default();
    for (_, op) in doc.operations.iter() {
        let v = fold.set(&op.node.selection_set.node);
        total = join(total, v);
    }
    total
}

#[cfg(test)]
mod tests {
    use super::*;

    fn check(q: &str, op: Option<&str>, limits: &GateLimits) -> Result<Shape, ApiError> {
        admit(q, op, limits).map(|a| a.shape)
    }

    fn code(q: &str) -> Option<String> {
        check(q, None, &GateLimits::default())
            .err()
            .map(|e| e.to_string())
    }

    /// `levels` fragments, each spreading the next `spreads` times: 10 × 10 is 10¹⁰ fields.
    fn fragment_bomb(levels: usize, spreads: usize) -> String {
        let mut q = String::from("query { ...F0 }\n");
        for l in 0..levels {
            let body = if l + 1 == levels {
                "__typename".to_string()
            } else {
                (0..spreads)
                    .map(|_| format!("...F{}", l + 1))
                    .collect::<Vec<_>>()
                    .join(" ")
            };
            q.push_str(&format!("fragment F{l} on Query {{ {body} }}\n"));
        }
        q
    }

    #[test]
    fn ordinary_queries_pass() {
        assert_eq!(code("{ me { kind label } }"), None);
        assert_eq!(
            code("query Q($f: Int) { households(first: $f) { nodes { houseCode } } }"),
            None
        );
        assert_eq!(
            code("{ stats(groupBy: [DISTRICT]) { problems } a: stats { problems } }"),
            None
        );
        // a syntax error is the schema's to report
        assert_eq!(code("{ me { "), None);
    }

    #[test]
    fn a_fragment_bomb_is_counted_in_linear_time_and_refused() {
        let q = fragment_bomb(10, 10);
        assert!(q.len() < 1_000);
        let t = std::time::Instant::now();
        let e = code(&q).expect("refused");
        assert!(e.contains("max_fields"), "{e}");
        // memoised: the count of 10^10 expanded fields takes microseconds, not hours
        assert!(t.elapsed() < std::time::Duration::from_secs(1));
        assert_eq!(
            expanded(&async_graphql::parser::parse_query(fragment_bomb(3, 10)).expect("parse"))
                .fields,
            100
        );
    }

    #[test]
    fn alias_floods_tokens_nesting_and_stats_are_refused() {
        let aliases: String = (0..6_000).map(|i| format!("a{i}: __typename ")).collect();
        assert!(
            code(&format!("{{ {aliases} }}"))
                .expect("refused")
                .contains("max_fields")
        );
        let huge: String = (0..45_000).map(|i| format!("a{i}: __typename ")).collect();
        assert!(
            code(&format!("{{ {huge} }}"))
                .expect("refused")
                .contains("max_tokens")
        );
        let deep = format!("{}{}", "{a".repeat(10_000), "}".repeat(10_000));
        assert!(code(&deep).expect("refused").contains("max_nesting"));
        let lists = format!("{{ a(x: {}1{}) }}", "[".repeat(100), "]".repeat(100));
        assert!(code(&lists).expect("refused").contains("max_nesting"));
        let stats: String = (0..4)
            .map(|i| format!("s{i}: stats {{ problems }} "))
            .collect();
        assert!(
            code(&format!("{{ {stats} }}"))
                .expect("refused")
                .contains("max_stats")
        );
        // strings and comments are single tokens, whatever they hold
        let s = format!(
            "{{ a(x: \"{}\") }} # {}",
            "{".repeat(100_000),
            "[".repeat(100_000)
        );
        assert_eq!(code(&s), None);
    }

    #[test]
    fn out_of_range_integers_are_named() {
        let q = "{ problems(first: 1, filter: { indicator: 99999999999, houseCode: \"1\" }) { totalCount } x: households(first: -3000000000) { totalCount } ok: households(first: 5) { totalCount } }";
        let doc = async_graphql::parser::parse_query(q).expect("parses");
        let (_, op) = doc.operations.iter().next().expect("one operation");
        let named: Vec<Vec<String>> = op
            .node
            .selection_set
            .node
            .items
            .iter()
            .map(|s| match &s.node {
                Selection::Field(f) => out_of_range_arguments(&f.node),
                _ => Vec::new(),
            })
            .collect();
        assert_eq!(
            named,
            vec![
                vec!["indicator".to_string()],
                vec!["first".to_string()],
                vec![]
            ]
        );
    }

    #[test]
    fn the_operation_and_introspection_are_told() {
        let shape =
            |q: &str, op: Option<&str>| check(q, op, &GateLimits::default()).expect("passes");
        let s = shape("{ __typename me { kind } }", None);
        assert_eq!((s.introspects, s.kind), (false, Some(OperationType::Query)));
        assert_eq!(
            shape("query Mine { me { kind } }", None).name.as_deref(),
            Some("Mine")
        );
        // through a fragment, and __type as well as __schema
        let s = shape(
            "{ ...F } fragment F on Query { __type(name: \"Household\") { name } }",
            None,
        );
        assert!(s.introspects);
        let two = "query A { me { kind } } mutation B { __typename }";
        assert_eq!(shape(two, Some("B")).kind, Some(OperationType::Mutation));
        assert_eq!(shape(two, Some("A")).kind, Some(OperationType::Query));
        // two operations and none named, or a name that is not there: not told
        assert_eq!(shape(two, None).kind, None);
        assert_eq!(shape(two, Some("C")).kind, None);
        assert_eq!(shape("{ me {", None), Shape::default());
    }

    #[test]
    fn small_documents_are_light_and_come_back_parsed() {
        let admitted = |q: &str| admit(q, None, &GateLimits::default()).expect("passes");
        let a = admitted(
            "query($c: String!) { household(houseCode: $c) { houseCode members { firstName } } }",
        );
        assert!(a.shape.light);
        assert_eq!(a.document.expect("parsed").operations.iter().count(), 1);
        let fields = |n: usize| {
            (0..n)
                .map(|i| format!("a{i}: __typename "))
                .collect::<String>()
        };
        assert!(admitted(&format!("{{ {} }}", fields(200))).shape.light);
        assert!(!admitted(&format!("{{ {} }}", fields(201))).shape.light);
        // few fields, many tokens (arguments)
        let args: String = (0..400).map(|i| format!("a{i}: 1 ")).collect();
        assert!(
            !admitted(&format!("{{ me(x: {{ {args} }}) {{ kind }} }}"))
                .shape
                .light
        );
        // a syntax error: neither parsed nor light (the blocking pool reports it)
        let bad = admitted("{ me {");
        assert!(bad.document.is_none() && !bad.shape.light);
    }

    #[test]
    fn cycles_terminate() {
        assert_eq!(
            code("{ ...A } fragment A on Query { ...B } fragment B on Query { ...A me { kind } }"),
            None
        );
    }
}
