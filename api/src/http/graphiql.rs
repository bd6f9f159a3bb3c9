//! GraphiQL, served by logbook itself: the page and its assets (a pinned GraphiQL with
//! React, vendored in `api/assets/graphiql/` by `scripts/vendor-graphiql.sh`, checked
//! against their `SHA256SUMS`), so that it works with no internet; `--graphiql-cdn` takes
//! them from a mirror of unpkg.com instead.

use axum::extract::Path;
use axum::response::{Html, Response};

/// GraphiQL's version (npm `graphiql`).
pub const GRAPHIQL_VERSION: &str = "3.9.0";
/// React's version (npm `react`, `react-dom`).
pub const REACT_VERSION: &str = "18.3.1";

/// The files under `/graphiql/`: name, content type, bytes.
const ASSETS: [super::Asset; 4] = [
    (
        "graphiql.min.js",
        "text/javascript; charset=utf-8",
        include_bytes!("../../assets/graphiql/graphiql.min.js"),
    ),
    (
        "graphiql.min.css",
        "text/css; charset=utf-8",
        include_bytes!("../../assets/graphiql/graphiql.min.css"),
    ),
    (
        "react.production.min.js",
        "text/javascript; charset=utf-8",
        include_bytes!("../../assets/graphiql/react.production.min.js"),
    ),
    (
        "react-dom.production.min.js",
        "text/javascript; charset=utf-8",
        include_bytes!("../../assets/graphiql/react-dom.production.min.js"),
    ),
];

const PAGE: &str = include_str!("../../assets/graphiql.html");

/// The GraphiQL page: its assets from `/graphiql/`, or from `cdn` (a mirror of unpkg.com:
/// `{cdn}/graphiql@VERSION/graphiql.min.js`, …).
pub fn page(cdn: Option<&str>) -> Html<String> {
    let (css, js, react, react_dom) = match cdn {
        None => (
            "/graphiql/graphiql.min.css".to_string(),
            "/graphiql/graphiql.min.js".to_string(),
            "/graphiql/react.production.min.js".to_string(),
            "/graphiql/react-dom.production.min.js".to_string(),
        ),
        Some(base) => {
            // an attribute value: nothing that could close it
            let base: String = base
                .trim_end_matches('/')
                .chars()
                .filter(|c| !matches!(c, '"' | '<' | '>' | '\'' | '&' | '`') && !c.is_whitespace())
                .collect();
            (
                format!("{base}/graphiql@{GRAPHIQL_VERSION}/graphiql.min.css"),
                format!("{base}/graphiql@{GRAPHIQL_VERSION}/graphiql.min.js"),
                format!("{base}/react@{REACT_VERSION}/umd/react.production.min.js"),
                format!("{base}/react-dom@{REACT_VERSION}/umd/react-dom.production.min.js"),
            )
        }
    };
    Html(
        PAGE.replace("{{CSS}}", &css)
            .replace("{{GRAPHIQL}}", &js)
            .replace("{{REACT_DOM}}", &react_dom)
            .replace("{{REACT}}", &react),
    )
}

/// GET `/graphiql/{asset}`: one of GraphiQL's files.
pub async fn asset(Path(name): Path<String>) -> Response {
    super::vendored(&ASSETS, "GraphiQL", &name)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_embedded_assets_are_the_vendored_ones() {
        super::super::assert_vendored(include_str!("../../assets/graphiql/SHA256SUMS"), &ASSETS);
        let versions = include_str!("../../assets/graphiql/VERSIONS");
        assert!(versions.contains(&format!("graphiql {GRAPHIQL_VERSION}\n")));
        assert!(versions.contains(&format!("react {REACT_VERSION}\n")));
    }

    #[test]
    fn the_page_loads_nothing_from_the_internet_unless_told() {
        let local = page(None).0;
        assert!(!local.contains("{{"), "every placeholder filled");
        assert!(
            !local.contains("http://") && !local.contains("https://"),
            "{local}"
        );
        assert!(local.contains("src=\"/graphiql/graphiql.min.js\""));
        let cdn = page(Some("https://mirror.intranet/npm/\" onload=\"x")).0;
        assert!(cdn.contains(
            "src=\"https://mirror.intranet/npm/onload=x/graphiql@3.9.0/graphiql.min.js\""
        ));
    }
}
