//! Keyset pagination, newest first: a page token names the last row of the previous page by
//! (creation time, id), so pages stay stable while rows are added.

use crate::errors::Violation;

/// Default page size when the request says 0.
pub const DEFAULT_PAGE: usize = 20;
/// Largest page.
pub const MAX_PAGE: usize = 100;

/// Where a page starts: after the row created at `created_at_ms` with id `id`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Cursor {
    /// Creation time of the last row of the previous page.
    pub created_at_ms: i64,
    /// Its id.
    pub id: String,
}

impl Cursor {
    /// The opaque page token.
    pub fn token(&self) -> String {
        format!("{}.{}", self.created_at_ms, self.id)
    }

    /// Parses a page token.
    pub fn parse(token: &str) -> Option<Self> {
        let (ms, id) = token.split_once('.')?;
        if id.is_empty() || id.len() > 128 {
            return None;
        }
        Some(Self {
            created_at_ms: ms.parse().ok()?,
            id: id.to_string(),
        })
    }

    /// The bounds to bind in `WHERE created_at_ms < $a OR (created_at_ms = $a AND id < $b)`:
    /// for the first page, everything.
    pub fn bounds(after: Option<&Cursor>) -> (i64, String) {
        after.map_or((i64::MAX, String::new()), |c| {
            (c.created_at_ms, c.id.clone())
        })
    }
}

/// A validated page request.
#[derive(Debug, Clone)]
pub struct PageRequest {
    /// Rows wanted.
    pub limit: usize,
    /// Where to start.
    pub after: Option<Cursor>,
}

/// Validates `page_size` and `page_token`, adding violations to `errors`.
pub fn parse(page_size: i32, page_token: &str, errors: &mut Vec<Violation>) -> PageRequest {
    let limit = match usize::try_from(page_size) {
        Ok(0) => DEFAULT_PAGE,
        Ok(n) if n <= MAX_PAGE => n,
        _ => {
            errors.push(Violation::new(
                "page_size",
                format!("must be between 0 and {MAX_PAGE}"),
            ));
            DEFAULT_PAGE
        }
    };
    let after = if page_token.is_empty() {
        None
    } else {
        let c = Cursor::parse(page_token);
        if c.is_none() {
            errors.push(Violation::new(
                "page_token",
                "not a token returned by this list call",
            ));
        }
        c
    };
    PageRequest { limit, after }
}

/// Cuts `rows` (fetched with `limit + 1`) to `limit` and returns the next page's token.
pub fn finish<T>(rows: &mut Vec<T>, limit: usize, key: impl Fn(&T) -> Cursor) -> String {
    if rows.len() > limit {
        rows.truncate(limit);
        rows.last().map(|r| key(r).token()).unwrap_or_default()
    } else {
        String::new()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tokens_round_trip_and_junk_is_rejected() {
        let c = Cursor {
            created_at_ms: 42,
            id: "abc".into(),
        };
        assert_eq!(Cursor::parse(&c.token()), Some(c));
        let mut errors = Vec::new();
        let p = parse(101, "junk", &mut errors);
        assert_eq!(p.limit, DEFAULT_PAGE);
        let fields: Vec<_> = errors.iter().map(|v| v.field.as_str()).collect();
        assert_eq!(fields, ["page_size", "page_token"]);
    }

    #[test]
    fn finish_cuts_the_extra_row() {
        let mut rows = vec![(3, "c"), (2, "b"), (1, "a")];
        let token = finish(&mut rows, 2, |r| Cursor {
            created_at_ms: r.0,
            id: r.1.into(),
        });
        assert_eq!(rows.len(), 2);
        assert_eq!(token, "2.b");
        let mut rows = vec![(1, "a")];
        assert_eq!(
            finish(&mut rows, 2, |r| Cursor {
                created_at_ms: r.0,
                id: r.1.into()
            }),
            ""
        );
    }
}
