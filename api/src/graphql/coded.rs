//! Stable codes for the errors async-graphql makes itself, given where they are made (its
//! parse, validation and field hooks), never recognised from their text: a document that
//! does not parse or validate and an argument that does not coerce are `BAD_USER_INPUT`
//! (an integer out of range named); a query over the depth or complexity limit is
//! `LIMIT_EXCEEDED`; any other uncoded error out of a resolver is `INTERNAL`, logged once and
//! masked. Errors the service layer makes carry their code already ([`ApiError`]).

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
        })
    }
}

struct CodedExtension {
    max_depth: usize,
    max_complexity: usize,
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
        next.run(ctx, query, variables)
            .await
            .map_err(|e| with_code(e, "BAD_USER_INPUT"))
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
        if r.depth > self.max_depth {
            return Err(vec![limit(format!(
                "the query nests {} levels deep; at most {} are allowed (--max-depth)",
                r.depth, self.max_depth
            ))]);
        }
        if r.complexity > self.max_complexity {
            return Err(vec![limit(format!(
                "the query's complexity is {}; at most {} is allowed (--max-complexity: a connection costs `first` × its fields)",
                r.complexity, self.max_complexity
            ))]);
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
}
