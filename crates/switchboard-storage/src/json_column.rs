//! The JSON column types and the Rust values stored in them.
//!
//! - [`Json`]: `jsonb` on PostgreSQL (documents: indexed and searched by
//!   content), text on SQLite.
//! - [`WrittenJson`]: `json` on PostgreSQL (records read back whole: an
//!   event's payload and diff, a history row's actor and diff), text on
//!   SQLite. PostgreSQL checks the syntax and keeps the text as written.
//!
//! Both take a [`JsonValue`] or a [`JsonText`]. On PostgreSQL they travel
//! in the binary format: `jsonb`'s is a version byte and the text, `json`'s
//! the text alone.

use std::io::Write;

use diesel::backend::Backend;
use diesel::deserialize::{self, FromSql, FromSqlRow};
use diesel::expression::AsExpression;
use diesel::pg::{Pg, PgValue};
use diesel::serialize::{self, IsNull, Output, ToSql};
use diesel::sql_types::{HasSqlType, Text};
use diesel::sqlite::Sqlite;
use serde_json::Value;

use crate::connection::MultiBackend;
use crate::schema::sql_types::{Json, WrittenJson};

/// A JSON value stored in a [`Json`] or [`WrittenJson`] column.
#[derive(Debug, Clone, PartialEq, AsExpression, FromSqlRow)]
#[diesel(sql_type = Json)]
#[diesel(sql_type = WrittenJson)]
pub struct JsonValue(pub Value);

/// JSON text stored in a [`Json`] or [`WrittenJson`] column.
///
/// Entity documents are written straight from `serde_json::to_string` and
/// read straight into their struct with `serde_json::from_str`, skipping
/// the intermediate [`Value`] that [`JsonValue`] would build on each side.
#[derive(Debug, Clone, PartialEq, AsExpression, FromSqlRow)]
#[diesel(sql_type = Json)]
#[diesel(sql_type = WrittenJson)]
pub struct JsonText(pub String);

/// The only binary `jsonb` format version PostgreSQL has defined.
const JSONB_VERSION: u8 = 1;

/// The JSON text of a PostgreSQL value of `jsonb` (`versioned`) or `json`.
fn pg_text(value: PgValue<'_>, versioned: bool) -> deserialize::Result<&[u8]> {
    let bytes = value.as_bytes();
    if !versioned {
        return Ok(bytes);
    }
    match bytes.split_first() {
        Some((&JSONB_VERSION, rest)) => Ok(rest),
        _ => Err("unsupported jsonb encoding".into()),
    }
}

/// Starts a PostgreSQL value of `jsonb` (`versioned`) or `json`: the
/// version byte, or nothing.
fn pg_start(out: &mut Output<'_, '_, Pg>, versioned: bool) -> std::io::Result<()> {
    if versioned {
        out.write_all(&[JSONB_VERSION])?;
    }
    Ok(())
}

/// The conversions of [`JsonValue`] and [`JsonText`] for one column type
/// (`versioned`: PostgreSQL's `jsonb`), on PostgreSQL, SQLite and the
/// store's connection type (which serializes each value for the backend
/// it runs on).
macro_rules! json_sql_type {
    ($sql:ty, versioned = $versioned:expr) => {
        impl ToSql<$sql, Pg> for JsonValue {
            fn to_sql<'b>(&'b self, out: &mut Output<'b, '_, Pg>) -> serialize::Result {
                pg_start(out, $versioned)?;
                serde_json::to_writer(out, &self.0)?;
                Ok(IsNull::No)
            }
        }

        impl FromSql<$sql, Pg> for JsonValue {
            fn from_sql(value: PgValue<'_>) -> deserialize::Result<Self> {
                Ok(Self(serde_json::from_slice(pg_text(value, $versioned)?)?))
            }
        }

        impl ToSql<$sql, Pg> for JsonText {
            fn to_sql<'b>(&'b self, out: &mut Output<'b, '_, Pg>) -> serialize::Result {
                pg_start(out, $versioned)?;
                out.write_all(self.0.as_bytes())?;
                Ok(IsNull::No)
            }
        }

        impl FromSql<$sql, Pg> for JsonText {
            fn from_sql(value: PgValue<'_>) -> deserialize::Result<Self> {
                Ok(Self(
                    std::str::from_utf8(pg_text(value, $versioned)?)?.to_owned(),
                ))
            }
        }

        impl ToSql<$sql, Sqlite> for JsonValue {
            fn to_sql<'b>(&'b self, out: &mut Output<'b, '_, Sqlite>) -> serialize::Result {
                out.set_value(serde_json::to_string(&self.0)?);
                Ok(IsNull::No)
            }
        }

        impl FromSql<$sql, Sqlite> for JsonValue {
            fn from_sql(value: <Sqlite as Backend>::RawValue<'_>) -> deserialize::Result<Self> {
                let text = <String as FromSql<Text, Sqlite>>::from_sql(value)?;
                Ok(Self(serde_json::from_str(&text)?))
            }
        }

        impl ToSql<$sql, Sqlite> for JsonText {
            fn to_sql<'b>(&'b self, out: &mut Output<'b, '_, Sqlite>) -> serialize::Result {
                out.set_value(self.0.as_str());
                Ok(IsNull::No)
            }
        }

        impl FromSql<$sql, Sqlite> for JsonText {
            fn from_sql(value: <Sqlite as Backend>::RawValue<'_>) -> deserialize::Result<Self> {
                <String as FromSql<Text, Sqlite>>::from_sql(value).map(Self)
            }
        }

        impl HasSqlType<$sql> for MultiBackend {
            fn metadata(lookup: &mut Self::MetadataLookup) -> Self::TypeMetadata {
                MultiBackend::lookup_sql_type::<$sql>(lookup)
            }
        }

        multi_backend!($sql, JsonValue);
        multi_backend!($sql, JsonText);
    };
}

/// `$rust`'s conversions for column type `$sql` on the store's connection
/// type: the backend it runs on converts it.
macro_rules! multi_backend {
    ($sql:ty, $rust:ty) => {
        impl FromSql<$sql, MultiBackend> for $rust {
            fn from_sql(
                bytes: <MultiBackend as Backend>::RawValue<'_>,
            ) -> deserialize::Result<Self> {
                bytes.from_sql::<Self, $sql>()
            }
        }

        impl ToSql<$sql, MultiBackend> for $rust {
            fn to_sql<'b>(&'b self, out: &mut Output<'b, '_, MultiBackend>) -> serialize::Result {
                out.set_value((<$sql>::default(), self));
                Ok(IsNull::No)
            }
        }
    };
}

json_sql_type!(Json, versioned = true);
json_sql_type!(WrittenJson, versioned = false);
