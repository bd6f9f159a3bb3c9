//! Stable codes for the errors async-graphql makes itself, given where they are made (its
//! parse, validation and field hooks), never recognised from their text: a document that
//! does not parse or validate and an argument that does not coerce are `BAD_USER_INPUT`
//! (an integer out of range named); a query over the depth or complexity limit is
//! `LIMIT_EXCEEDED` (introspection's own nesting aside: [`data_depth`]); any other uncoded
//! error out of a resolver is `INTERNAL`, logged once and masked. Errors the service layer
//! makes carry their code already ([`ApiError`]).

use crate::error::ApiError;
use crate::gate;
use async_graphql::extensions::{
    Extension, ExtensionContext, ExtensionFactory, NextParseQuery, NextRequest, NextResolve,
    NextValidation, ResolveInfo,
};
use async_graphql::parser::types::ExecutableDocument;
use async_graphql::{
    ErrorExtensions, Response, ServerError, ServerResult, ValidationResult, Value, Variables,
};
use std::sync::Arc;

/// The extension: the schema's depth and complexity limits, checked after validation.
pub struct Coded {
    /// Deepest nesting allowed.
    pub max_depth: usize,
    /// Largest complexity allowed.
    pub max_complexity: usize,
}

impl ExtensionFactory for Coded {
    fn create(&self) -> Arc<dyn Extension> {
        Arc::new(CodedExtension {
            max_depth: self.max_depth,
            max_complexity: self.max_complexity,
            depth: std::sync::OnceLock::new(),
            cost: std::sync::OnceLock::new(),
        })
    }
}

struct CodedExtension {
    max_depth: usize,
    max_complexity: usize,
    /// The parsed document's [`data_depth`], once parsed.
    depth: std::sync::OnceLock<usize>,
    /// What the request cost its key's budget, once charged (the request hook runs before
    /// the request's data is attached, so it is kept here).
    cost: std::sync::OnceLock<crate::budget::Cost>,
}

/// How deep a document's fields nest, counted as async-graphql counts depth (a field is one
/// level more than the selection it is in; fragments count where they are spread), except
/// that the introspection fields `__schema` and `__type` count as one level whatever they
/// select: their nesting is the schema's own type structure, not data (graphql-js's
/// standard introspection query nests 15 levels), and what they may cost is bounded by the
/// gate's nesting and field limits. A fragment cycle counts 0 (validation refuses it).
fn data_depth(doc: &ExecutableDocument) -> usize {
    gate::fold_fields(
        doc,
        &|field, inner: usize| match field.name.node.as_str() {
            "__schema" | "__type" => 1,
            _ => inner + 1,
        },
        &|a, b| a.max(b),
    )
}

fn has_code(e: &ServerError) -> bool {
    e.extensions
        .as_ref()
        .is_some_and(|x| x.get("code").is_some())
}

fn with_code(mut e: ServerError, code: &'static str) -> ServerError {
    if !has_code(&e) {
        e.extensions
            .get_or_insert_with(Default::default)
            .set("code", code);
    }
    e
}

fn masked(mut e: ServerError) -> ServerError {
    tracing::error!(error = %e.message, path = ?e.path, "unexpected resolver error");
    e.message = "internal error".into();
    with_code(e, "INTERNAL")
}

fn limit(message: String) -> ServerError {
    let e = ApiError::LimitExceeded(message).extend();
    let mut s = ServerError::new(e.message, None);
    s.extensions = e.extensions;
    s
}

#[async_graphql::async_trait::async_trait]
impl Extension for CodedExtension {
    async fn request(&self, ctx: &ExtensionContext<'_>, next: NextRequest<'_>) -> Response {
        let mut resp = next.run(ctx).await;
        // what the request cost its key
        if let Some(cost) = self.cost.get() {
            resp.extensions.insert("cost".into(), cost.to_value());
        }
        // what reached the response by another way than the hooks below
        resp.errors = std::mem::take(&mut resp.errors)
            .into_iter()
            .map(|e| if has_code(&e) { e } else { masked(e) })
            .collect();
        resp
    }

    async fn parse_query(
        &self,
        ctx: &ExtensionContext<'_>,
        query: &str,
        variables: &Variables,
        next: NextParseQuery<'_>,
    ) -> ServerResult<ExecutableDocument> {
        let doc = next
            .run(ctx, query, variables)
            .await
            .map_err(|e| with_code(e, "BAD_USER_INPUT"))?;
        let _ = self.depth.set(data_depth(&doc));
        Ok(doc)
    }

    async fn validation(
        &self,
        ctx: &ExtensionContext<'_>,
        next: NextValidation<'_>,
    ) -> Result<ValidationResult, Vec<ServerError>> {
        let r = next.run(ctx).await.map_err(|errors| {
            errors
                .into_iter()
                .map(|e| with_code(e, "BAD_USER_INPUT"))
                .collect::<Vec<_>>()
        })?;
        // introspection's own nesting does not count (see data_depth)
        let depth = self.depth.get().copied().unwrap_or(r.depth);
        if depth > self.max_depth {
            return Err(vec![limit(format!(
                "the query nests {depth} levels deep; at most {} are allowed (--max-depth)",
                self.max_depth
            ))]);
        }
        if r.complexity > self.max_complexity {
            return Err(vec![limit(format!(
                "the query's complexity is {}; at most {} is allowed (--max-complexity: a connection costs `first` × its fields)",
                r.complexity, self.max_complexity
            ))]);
        }
        // charged to the key's budget before it runs
        if let Some(charge) = ctx.data_opt::<std::sync::Arc<crate::budget::Charge>>() {
            let cost = charge.take(r.complexity as u64);
            if charge.outcome().is_some() {
                let _ = self.cost.set(cost);
            }
            if let Some(wait) = cost.retry_after {
                let secs = wait.as_secs_f64().ceil() as u64;
                let e = ApiError::RateLimited {
                    message: format!(
                        "this key's cost budget ({} a minute) cannot pay for this request (cost {}, {} left): retry in {secs} s, or ask for a larger budget",
                        cost.limit, cost.requested, cost.remaining
                    ),
                    retry_after: secs,
                }
                .extend();
                let mut s = ServerError::new(e.message, None);
                s.extensions = e.extensions;
                return Err(vec![s]);
            }
        }
        Ok(r)
    }

    async fn resolve(
        &self,
        ctx: &ExtensionContext<'_>,
        info: ResolveInfo<'_>,
        next: NextResolve<'_>,
    ) -> ServerResult<Option<Value>> {
        let field = info.field;
        next.run(ctx, info).await.map_err(|e| {
            if has_code(&e) {
                e
            } else if e.source.is_some() {
                // an error converted from a failure inside (`?` keeps its source)
                masked(e)
            } else {
                // made by async-graphql from the request: an argument that did not coerce
                argument_error(e, field)
            }
        })
    }
}

/// An argument that did not coerce: the caller's mistake, with the out-of-range integers
/// named (async-graphql names only the input type).
fn argument_error(mut e: ServerError, field: &async_graphql::parser::types::Field) -> ServerError {
    let names = gate::out_of_range_arguments(field);
    if !names.is_empty() {
        e.message = format!("{} — out of range: {}", e.message, names.join(", "));
        e.extensions
            .get_or_insert_with(Default::default)
            .set("field", names[0].clone());
    }
    with_code(e, "BAD_USER_INPUT")
}

#[cfg(test)]
mod tests {
    use super::*;
    use async_graphql::{EmptyMutation, EmptySubscription, Object, Schema};

    struct Query;

    #[Object]
    impl Query {
        async fn echo(&self, n: i32) -> i32 {
            n
        }
        async fn broken(&self) -> async_graphql::Result<i32> {
            Err(std::io::Error::other("disk on fire"))?
        }
        async fn refused(&self) -> async_graphql::Result<i32> {
            Err(ApiError::Forbidden("not yours".into()).extend())
        }
        async fn me(&self) -> Query {
            Query
        }
    }

    async fn run(q: &str) -> async_graphql::Response {
        Schema::build(Query, EmptyMutation, EmptySubscription)
            .extension(Coded {
                max_depth: 3,
                max_complexity: 5,
            })
            .finish()
            .execute(q)
            .await
    }

    fn code(r: &async_graphql::Response) -> Option<String> {
        let e = r.errors.first()?;
        match e.extensions.as_ref()?.get("code")? {
            Value::String(s) => Some(s.clone()),
            _ => None,
        }
    }

    #[tokio::test]
    async fn each_kind_of_error_gets_its_code_where_it_is_made() {
        let ok = run("{ echo(n: 2) }").await;
        assert!(ok.errors.is_empty(), "{:?}", ok.errors);
        assert_eq!(
            code(&run("{ echo(n: ").await).as_deref(),
            Some("BAD_USER_INPUT")
        );
        assert_eq!(
            code(&run("{ nope }").await).as_deref(),
            Some("BAD_USER_INPUT")
        );
        let deep = run("{ me { me { me { echo(n: 1) } } } }").await;
        assert_eq!(code(&deep).as_deref(), Some("LIMIT_EXCEEDED"));
        assert!(
            deep.errors[0].message.contains("4 levels"),
            "{:?}",
            deep.errors
        );
        let wide = run("{ a: echo(n: 1) b: echo(n: 1) c: echo(n: 1) d: echo(n: 1) e: echo(n: 1) f: echo(n: 1) }").await;
        assert_eq!(code(&wide).as_deref(), Some("LIMIT_EXCEEDED"));
        assert!(
            wide.errors[0].message.contains("complexity is 6"),
            "{:?}",
            wide.errors
        );
        // an argument that does not coerce is the caller's, the integer named
        let big = run("{ echo(n: 99999999999) }").await;
        assert_eq!(
            code(&big).as_deref(),
            Some("BAD_USER_INPUT"),
            "{:?}",
            big.errors
        );
        assert!(
            big.errors[0].message.contains("out of range: n"),
            "{:?}",
            big.errors
        );
        // a failure inside is masked; a service error keeps its code and text
        let broken = run("{ broken }").await;
        assert_eq!(code(&broken).as_deref(), Some("INTERNAL"));
        assert_eq!(broken.errors[0].message, "internal error");
        let refused = run("{ refused }").await;
        assert_eq!(code(&refused).as_deref(), Some("FORBIDDEN"));
        assert_eq!(refused.errors[0].message, "not yours");
    }

    #[test]
    fn data_depth_counts_like_async_graphql_but_not_introspection() {
        let d = |q: &str| data_depth(&async_graphql::parser::parse_query(q).expect("parses"));
        assert_eq!(d("{ a }"), 1);
        assert_eq!(d("{ a { b c { d } } }"), 3);
        assert_eq!(d("{ a { ...F } } fragment F on T { b { c } }"), 3);
        assert_eq!(d("{ a { ... on T { b { c } } } }"), 3);
        assert_eq!(
            d("{ __schema { types { fields { type { ofType { name } } } } } a }"),
            1
        );
        assert_eq!(d("{ __type(name: \"T\") { fields { name } } a { b } }"), 2);
        // a cycle (which validation refuses) ends instead of recursing forever
        assert_eq!(
            d("{ a { ...F } } fragment F on T { b { ...G } } fragment G on T { ...F }"),
            2
        );
    }
}
