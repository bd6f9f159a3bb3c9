//! The API's error type. Every GraphQL error carries a stable `extensions.code`; internal
//! errors are logged once with the request id and masked.

use async_graphql::ErrorExtensions;
use thiserror::Error;

/// What a client sees, by `code`.
#[derive(Debug, Error)]
pub enum ApiError {
    /// No valid key (`UNAUTHENTICATED`).
    #[error("a valid API key is required: send Authorization: Bearer TOKEN")]
    Unauthenticated,
    /// The key may not do this (`FORBIDDEN`).
    #[error("{0}")]
    Forbidden(String),
    /// Bad input, naming the field (`BAD_USER_INPUT`).
    #[error("{field}: {message}")]
    BadInput {
        /// The input field.
        field: String,
        /// What is wrong.
        message: String,
    },
    /// Not there, or not visible to this key (`NOT_FOUND`).
    #[error("{0} not found")]
    NotFound(String),
    /// A limit was exceeded (`LIMIT_EXCEEDED`).
    #[error("{0}")]
    LimitExceeded(String),
    /// A month the province has locked for a district after its report (`MONTH_LOCKED`):
    /// entries dated in it are not added or changed.
    #[error(
        "month {month} of district {district} is locked after its report: entries dated in it cannot be added or changed; ask the province centre to unlock it"
    )]
    MonthLocked {
        /// District code.
        district: String,
        /// `YYYY-MM`.
        month: String,
    },
    /// The object store could not be reached (`STORAGE_UNAVAILABLE`): nothing was kept; try
    /// again later.
    #[error("the photo could not be stored ({0}); nothing was kept: try again later")]
    StorageUnavailable(String),
    /// The key runs only its trusted documents, and this is not one (`FORBIDDEN`, with
    /// `reason: DOCUMENT_NOT_TRUSTED`).
    #[error(
        "this key runs only its trusted documents, and this document (sha256 {0}) is not one of them: store it with `logbook documents add`, or send one that is"
    )]
    DocumentNotTrusted(String),
    /// A document sent by its hash alone that this server does not hold
    /// (`PERSISTED_QUERY_NOT_FOUND`): send it in full (with its hash) instead.
    #[error("PersistedQueryNotFound")]
    PersistedQueryNotFound,
    /// The key's cost budget cannot pay for the request now (`RATE_LIMITED`, HTTP 429).
    #[error("{message}")]
    RateLimited {
        /// What happened and what to do.
        message: String,
        /// Seconds until the budget can pay (whole, rounded up).
        retry_after: u64,
    },
    /// The database failed (`INTERNAL`, masked).
    #[error("database error: {0}")]
    Db(#[from] sea_orm::DbErr),
    /// Something else failed inside (`INTERNAL`, masked).
    #[error("internal error: {0}")]
    Internal(String),
}

impl ApiError {
    /// The stable code.
    pub fn code(&self) -> &'static str {
        match self {
            ApiError::Unauthenticated => "UNAUTHENTICATED",
            ApiError::Forbidden(_) | ApiError::DocumentNotTrusted(_) => "FORBIDDEN",
            ApiError::PersistedQueryNotFound => "PERSISTED_QUERY_NOT_FOUND",
            ApiError::BadInput { .. } => "BAD_USER_INPUT",
            ApiError::NotFound(_) => "NOT_FOUND",
            ApiError::LimitExceeded(_) => "LIMIT_EXCEEDED",
            ApiError::MonthLocked { .. } => "MONTH_LOCKED",
            ApiError::StorageUnavailable(_) => "STORAGE_UNAVAILABLE",
            ApiError::RateLimited { .. } => "RATE_LIMITED",
            ApiError::Db(_) | ApiError::Internal(_) => "INTERNAL",
        }
    }

    /// A bad-input error for a field.
    pub fn bad_input(field: &str, message: impl Into<String>) -> Self {
        ApiError::BadInput {
            field: field.to_string(),
            message: message.into(),
        }
    }
}

impl ErrorExtensions for ApiError {
    fn extend(&self) -> async_graphql::Error {
        let message = match self {
            ApiError::Db(_) | ApiError::Internal(_) => {
                tracing::error!(error = %self, "internal error");
                "internal error".to_string()
            }
            other => other.to_string(),
        };
        async_graphql::Error::new(message).extend_with(|_, ext| {
            ext.set("code", self.code());
            if let ApiError::BadInput { field, .. } = self {
                ext.set("field", field.as_str());
            }
            if let ApiError::MonthLocked { district, month } = self {
                ext.set("district", district.as_str());
                ext.set("month", month.as_str());
            }
            if let ApiError::RateLimited { retry_after, .. } = self {
                ext.set("retryAfter", *retry_after);
            }
        })
    }
}

impl ApiError {
    /// The HTTP status an error answers with outside GraphQL's own errors (a handler that
    /// means another, such as 408 or 415, pairs the error with it).
    pub fn status(&self) -> axum::http::StatusCode {
        use axum::http::StatusCode;
        match self {
            ApiError::Unauthenticated => StatusCode::UNAUTHORIZED,
            ApiError::Forbidden(_) | ApiError::DocumentNotTrusted(_) => StatusCode::FORBIDDEN,
            // what Apollo clients expect, to send the document in full next
            ApiError::PersistedQueryNotFound => StatusCode::OK,
            ApiError::BadInput { .. } | ApiError::LimitExceeded(_) => StatusCode::BAD_REQUEST,
            ApiError::NotFound(_) => StatusCode::NOT_FOUND,
            ApiError::MonthLocked { .. } => StatusCode::CONFLICT,
            ApiError::StorageUnavailable(_) => StatusCode::SERVICE_UNAVAILABLE,
            ApiError::RateLimited { .. } => StatusCode::TOO_MANY_REQUESTS,
            ApiError::Db(_) | ApiError::Internal(_) => StatusCode::INTERNAL_SERVER_ERROR,
        }
    }
}

/// An error as a whole HTTP response, shaped like a GraphQL answer (`data: null`, one error
/// with its `code`); internal errors are logged here, once, and masked.
impl axum::response::IntoResponse for ApiError {
    fn into_response(self) -> axum::response::Response {
        let message = match &self {
            ApiError::Db(_) | ApiError::Internal(_) => {
                tracing::error!(error = %self, "internal error");
                "internal error".to_string()
            }
            other => other.to_string(),
        };
        let body = serde_json::json!({
            "data": null,
            "errors": [{ "message": message, "extensions": { "code": self.code() } }]
        });
        (self.status(), axum::Json(body)).into_response()
    }
}

/// Turns service results into GraphQL results that keep the error's `code`.
pub trait GqlResult<T> {
    /// Maps the error through [`ErrorExtensions::extend`].
    fn gql(self) -> async_graphql::Result<T>;
}

impl<T> GqlResult<T> for Result<T, ApiError> {
    fn gql(self) -> async_graphql::Result<T> {
        self.map_err(|e| e.extend())
    }
}

/// Results of services.
pub type ApiResult<T> = Result<T, ApiError>;
