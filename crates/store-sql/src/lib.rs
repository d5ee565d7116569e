//! The SQL both stores run, written once. No driver: statements and builders render text for a
//! [`Dialect`] and hand the arguments back for the backend to bind.
//!
//! - Fixed statements ([`Statement`]) are written with PostgreSQL's `$N` placeholders, numbered
//!   in the order they first appear; SQLite reads the same text with `?N` (its numbered form),
//!   made at compile time, so both backends bind the same arguments in the same order.
//! - Statements built from a query ([`Sql`]) push their arguments as they go: `?` for SQLite,
//!   `$N` for PostgreSQL.
//!
//! One module per noun, the file list of the two store crates. A statement lives here only when
//! both dialects run exactly it; where they really differ (upserts, arrays, JSON, locking) each
//! backend keeps its own.

pub mod admin_keys;
pub mod audit;
pub mod console;
pub mod console_roles;
pub mod groups;
pub mod login_domains;
pub mod orgs;
pub mod query;
pub mod saml;
pub mod sessions;
pub mod tokens;
pub mod users;

use time::OffsetDateTime;
use uuid::Uuid;

/// A time as both stores keep it: Unix milliseconds.
pub fn ms(t: OffsetDateTime) -> i64 {
    (t.unix_timestamp_nanos() / 1_000_000) as i64
}

/// Which database a statement is rendered for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Dialect {
    Sqlite,
    Postgres,
}

/// A fixed statement in both renderings.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Statement {
    postgres: &'static str,
    sqlite: &'static str,
}

impl Statement {
    /// Used by [`statement!`]: `sqlite` is `postgres` with every `$` turned into `?`.
    pub const fn new(postgres: &'static str, sqlite: &'static [u8]) -> Self {
        match std::str::from_utf8(sqlite) {
            Ok(sqlite) => Statement { postgres, sqlite },
            Err(_) => panic!("a statement's SQLite rendering is not UTF-8"),
        }
    }

    pub const fn postgres(&self) -> &'static str {
        self.postgres
    }

    pub const fn sqlite(&self) -> &'static str {
        self.sqlite
    }
}

/// `$N` to `?N`, byte for byte (same length), at compile time.
pub const fn sqlite_placeholders<const N: usize>(postgres: &str) -> [u8; N] {
    let bytes = postgres.as_bytes();
    let mut out = [0u8; N];
    let mut i = 0;
    while i < N {
        out[i] = if bytes[i] == b'$' { b'?' } else { bytes[i] };
        i += 1;
    }
    out
}

/// A [`Statement`] from its PostgreSQL text (see the crate's header for the numbering rule).
#[macro_export]
macro_rules! statement {
    ($postgres:expr) => {{
        const POSTGRES: &str = $postgres;
        const SQLITE: [u8; POSTGRES.len()] = $crate::sqlite_placeholders(POSTGRES);
        $crate::Statement::new(POSTGRES, &SQLITE)
    }};
}

/// Is the database there?
pub const PING: Statement = statement!("SELECT 1");

/// An argument of a built statement. Ids are UUIDs: SQLite stores them as hyphenated text,
/// PostgreSQL as `uuid`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Arg {
    Text(String),
    Int(i64),
    /// A boolean: SQLite stores 0 or 1.
    Bool(bool),
    Id(Uuid),
}

/// A statement built piece by piece, with its arguments in placeholder order.
#[derive(Debug, Clone)]
pub struct Sql {
    dialect: Dialect,
    text: String,
    args: Vec<Arg>,
}

impl Sql {
    pub fn new(dialect: Dialect, head: &str) -> Self {
        Sql {
            dialect,
            text: head.to_string(),
            args: Vec::new(),
        }
    }

    /// Appends literal SQL.
    pub fn push(&mut self, sql: &str) -> &mut Self {
        self.text.push_str(sql);
        self
    }

    /// Appends a placeholder for `arg`.
    pub fn push_arg(&mut self, arg: Arg) -> &mut Self {
        self.args.push(arg);
        match self.dialect {
            Dialect::Sqlite => self.text.push('?'),
            Dialect::Postgres => {
                self.text.push('$');
                self.text.push_str(&self.args.len().to_string());
            }
        }
        self
    }

    /// ` AND {column} >= ? [AND {column} < ?]`: the strings starting with `prefix`, an index
    /// range in both stores' binary collation; no upper end when the prefix is only U+10FFFF.
    pub fn push_prefix_range(&mut self, column: &str, prefix: &str) -> &mut Self {
        self.push(&format!(" AND {column} >= "))
            .push_arg(Arg::Text(prefix.to_string()));
        if let Some(upper) = directory::query::prefix_upper_bound(prefix) {
            self.push(&format!(" AND {column} < "))
                .push_arg(Arg::Text(upper));
        }
        self
    }

    pub fn dialect(&self) -> Dialect {
        self.dialect
    }

    pub fn text(&self) -> &str {
        &self.text
    }

    pub fn args(&self) -> &[Arg] {
        &self.args
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_statement_reads_numbered_in_both_dialects() {
        const S: Statement = statement!("DELETE FROM t WHERE a = $1 AND b = $2");
        assert_eq!(S.postgres(), "DELETE FROM t WHERE a = $1 AND b = $2");
        assert_eq!(S.sqlite(), "DELETE FROM t WHERE a = ?1 AND b = ?2");
    }

    #[test]
    fn built_statements_number_their_arguments_per_dialect() {
        for (dialect, text) in [
            (Dialect::Sqlite, "SELECT 1 WHERE a = ? AND b = ?"),
            (Dialect::Postgres, "SELECT 1 WHERE a = $1 AND b = $2"),
        ] {
            let mut sql = Sql::new(dialect, "SELECT 1 WHERE a = ");
            sql.push_arg(Arg::Int(1))
                .push(" AND b = ")
                .push_arg(Arg::Text("x".into()));
            assert_eq!(sql.text(), text);
            assert_eq!(sql.args(), &[Arg::Int(1), Arg::Text("x".into())]);
        }
    }
}
