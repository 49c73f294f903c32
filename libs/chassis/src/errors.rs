//! `tonic::Status` values with `google.rpc` error details, so that clients in any language can
//! tell which field was wrong or when to retry, without parsing messages.

use std::time::Duration;

use tonic::{Code, Status};
use tonic_types::{ErrorDetails, FieldViolation, StatusExt};

/// A bad field in a request: its path (`items[2].quantity`) and what is wrong with it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Violation {
    /// Field path in the request, as in `google.rpc.BadRequest.FieldViolation.field`.
    pub field: String,
    /// What is wrong, for a human.
    pub description: String,
}

impl Violation {
    /// A violation of `field`.
    pub fn new(field: impl Into<String>, description: impl Into<String>) -> Self {
        Self {
            field: field.into(),
            description: description.into(),
        }
    }
}

/// Checks a required text field (an id, a reason): not blank, at most `max` characters.
pub fn require_text(value: &str, field: &str, max: usize, errors: &mut Vec<Violation>) {
    if value.trim().is_empty() {
        errors.push(Violation::new(field, "required"));
    } else if value.chars().count() > max {
        errors.push(Violation::new(field, format!("at most {max} characters")));
    }
}

/// Most field violations reported in one status. Details travel base64-encoded in a trailer,
/// and HTTP/2 peers refuse header blocks over 16 KiB: a request with hundreds of bad fields
/// must still get its INVALID_ARGUMENT, not a protocol error.
pub const MAX_VIOLATIONS: usize = 20;

/// `INVALID_ARGUMENT` with one `BadRequest` field violation per bad field (the first
/// [`MAX_VIOLATIONS`], then one saying how many more). The message names the fields too, for
/// clients that only read the message.
pub fn invalid_argument(violations: &[Violation]) -> Status {
    let shown = &violations[..violations.len().min(MAX_VIOLATIONS)];
    let more = violations.len() - shown.len();
    let fields: Vec<&str> = shown.iter().map(|v| v.field.as_str()).collect();
    let mut message = format!("invalid request: {}", fields.join(", "));
    let mut list: Vec<FieldViolation> = shown
        .iter()
        .map(|v| FieldViolation::new(v.field.clone(), v.description.clone()))
        .collect();
    if more > 0 {
        message.push_str(&format!(" and {more} more"));
        list.push(FieldViolation::new(
            "",
            format!("{more} more problems not listed"),
        ));
    }
    let details = ErrorDetails::with_bad_request(list);
    Status::with_error_details(Code::InvalidArgument, message, details)
}

/// `UNAVAILABLE` with a `RetryInfo` telling the client how long to wait.
pub fn unavailable_retry(message: impl Into<String>, retry_after: Duration) -> Status {
    Status::with_error_details(
        Code::Unavailable,
        message,
        ErrorDetails::with_retry_info(Some(retry_after)),
    )
}

/// `RESOURCE_EXHAUSTED` (overload) with a `RetryInfo` telling the client how long to back off.
pub fn resource_exhausted_retry(message: impl Into<String>, retry_after: Duration) -> Status {
    Status::with_error_details(
        Code::ResourceExhausted,
        message,
        ErrorDetails::with_retry_info(Some(retry_after)),
    )
}

/// A status with an `ErrorInfo` carrying a machine-readable `reason` (e.g. `PAYMENT_DECLINED`).
pub fn with_reason(code: Code, message: impl Into<String>, reason: &str, domain: &str) -> Status {
    Status::with_error_details(
        code,
        message,
        ErrorDetails::with_error_info(reason, domain, std::collections::HashMap::new()),
    )
}

/// `INTERNAL` for an unexpected error; the cause is logged once here and not sent to clients.
pub fn internal(context: &str, cause: &dyn std::fmt::Display) -> Status {
    tracing::error!(error = %cause, "{context}");
    Status::internal(format!("{context}; see server logs"))
}

/// Why a command failed: the one error type of every service's write path, mapped to a gRPC
/// status in one place ([`From<AppError> for Status`]) and to a consumer's retry decision
/// ([`From<AppError> for crate::consumer::PolicyError`]).
#[derive(Debug, thiserror::Error)]
pub enum AppError {
    /// Bad input: `INVALID_ARGUMENT` with a field violation per bad field.
    #[error("invalid request: {0:?}")]
    Invalid(Vec<Violation>),
    /// No such thing: `NOT_FOUND`.
    #[error("{0}")]
    NotFound(String),
    /// The id is taken by something different: `ALREADY_EXISTS`.
    #[error("{0}")]
    AlreadyExists(String),
    /// The state does not allow the command: `FAILED_PRECONDITION`.
    #[error("{0}")]
    NotAllowed(String),
    /// It changed concurrently (compare-and-set lost, retries exhausted): `ABORTED`, which
    /// tells the client that retrying the whole call is safe.
    #[error("{0}")]
    Conflict(String),
    /// Storage failed: `UNAVAILABLE` with a RetryInfo when the database is away (connection
    /// refused or lost, pool timed out, the server shutting down or not yet accepting:
    /// retrying with the same idempotency key is safe and will work once it is back),
    /// otherwise `INTERNAL`; the cause is logged, never sent to the client.
    #[error("storage failed: {0}")]
    Storage(#[from] sqlx::Error),
    /// An event could not be recorded: `INTERNAL`.
    #[error("recording an event failed: {0}")]
    Record(String),
}

impl AppError {
    /// `FAILED_PRECONDITION` with the domain's reason.
    pub fn not_allowed(reason: impl std::fmt::Display) -> Self {
        Self::NotAllowed(reason.to_string())
    }
}

impl From<crate::outbox::RecordError> for AppError {
    fn from(e: crate::outbox::RecordError) -> Self {
        match e {
            crate::outbox::RecordError::Sqlx(e) => Self::Storage(e),
            other => Self::Record(other.to_string()),
        }
    }
}

impl From<AppError> for Status {
    fn from(e: AppError) -> Self {
        match e {
            AppError::Invalid(v) => invalid_argument(&v),
            AppError::NotFound(m) => Status::not_found(m),
            AppError::AlreadyExists(m) => Status::already_exists(m),
            AppError::NotAllowed(m) => Status::failed_precondition(m),
            AppError::Conflict(m) => Status::aborted(m),
            AppError::Storage(e) if database_away(&e) => {
                tracing::warn!(error = %e, "the database is unavailable");
                unavailable_retry(
                    "the database is unavailable; retry shortly (retrying with the same idempotency key is safe)",
                    Duration::from_secs(1),
                )
            }
            AppError::Storage(e) => internal("storage failed", &e),
            AppError::Record(m) => internal("recording an event failed", &m),
        }
    }
}

/// True if `e` says the database cannot be reached now (rather than that the statement is
/// wrong): I/O errors, pool time-outs, PostgreSQL's connection exceptions (SQLSTATE class 08)
/// and operator intervention (57P01 admin shutdown, 57P02 crash shutdown, 57P03 cannot connect
/// now).
pub fn database_away(e: &sqlx::Error) -> bool {
    match e {
        sqlx::Error::Io(_)
        | sqlx::Error::PoolTimedOut
        | sqlx::Error::PoolClosed
        | sqlx::Error::WorkerCrashed => true,
        sqlx::Error::Database(d) => d
            .code()
            .is_some_and(|c| c.starts_with("08") || matches!(&*c, "57P01" | "57P02" | "57P03")),
        _ => false,
    }
}

/// `Err(AppError::Invalid)` unless `violations` is empty: the end of a request's validation.
pub fn check(violations: Vec<Violation>) -> Result<(), AppError> {
    if violations.is_empty() {
        Ok(())
    } else {
        Err(AppError::Invalid(violations))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn invalid_argument_carries_every_field() {
        let s = invalid_argument(&[
            Violation::new("customer_id", "required"),
            Violation::new("items[0].quantity", "must be 1..=100"),
        ]);
        assert_eq!(s.code(), Code::InvalidArgument);
        let details = s.get_error_details();
        let bad = details.bad_request().expect("bad request detail");
        let fields: Vec<_> = bad
            .field_violations
            .iter()
            .map(|v| v.field.as_str())
            .collect();
        assert_eq!(fields, ["customer_id", "items[0].quantity"]);
        assert!(s.message().contains("items[0].quantity"));
    }

    #[test]
    fn huge_violation_lists_are_capped() {
        let many: Vec<_> = (0..500)
            .map(|i| Violation::new(format!("items[{i}].name"), "required"))
            .collect();
        let s = invalid_argument(&many);
        let bad = s
            .get_error_details()
            .bad_request()
            .cloned()
            .expect("details");
        assert_eq!(bad.field_violations.len(), MAX_VIOLATIONS + 1);
        assert!(s.message().ends_with("and 480 more"));
        let encoded = s.into_http::<tonic::body::Body>();
        let size: usize = encoded
            .headers()
            .iter()
            .map(|(k, v)| k.as_str().len() + v.len())
            .sum();
        assert!(size < 8 * 1024, "header block {size} bytes");
    }

    #[test]
    fn each_app_error_has_one_status() {
        let code = |e: AppError| Status::from(e).code();
        assert_eq!(code(AppError::NotFound("x".into())), Code::NotFound);
        assert_eq!(
            code(AppError::NotAllowed("x".into())),
            Code::FailedPrecondition
        );
        assert_eq!(code(AppError::Conflict("x".into())), Code::Aborted);
        // The database away: retry later; anything else about storage: our fault.
        let away = Status::from(AppError::Storage(sqlx::Error::PoolTimedOut));
        assert_eq!(away.code(), Code::Unavailable);
        assert!(away.get_error_details().retry_info().is_some());
        assert_eq!(
            code(AppError::Storage(sqlx::Error::Io(std::io::Error::from(
                std::io::ErrorKind::ConnectionRefused
            )))),
            Code::Unavailable
        );
        assert_eq!(
            code(AppError::Storage(sqlx::Error::RowNotFound)),
            Code::Internal
        );
        assert_eq!(
            code(AppError::Invalid(vec![Violation::new(
                "order_id", "required"
            )])),
            Code::InvalidArgument
        );
        let internal = Status::from(AppError::Storage(sqlx::Error::Protocol("secret".into())));
        assert!(
            !internal.message().contains("secret"),
            "causes stay in the logs"
        );
    }

    #[test]
    fn unavailable_carries_retry_delay() {
        let s = unavailable_retry("later", Duration::from_secs(3));
        let d = s.get_error_details();
        assert_eq!(
            d.retry_info().and_then(|r| r.retry_delay),
            Some(Duration::from_secs(3))
        );
    }
}
