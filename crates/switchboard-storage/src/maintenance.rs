//! Database housekeeping: the [`Maintenance`] handle.

use diesel::{QueryableByName, RunQueryDsl};

use crate::{StorageError, Store};

/// Database housekeeping; from [`Store::maintenance`].
#[derive(Debug, Clone, Copy)]
pub struct Maintenance<'a> {
    store: &'a Store,
}

impl<'a> Maintenance<'a> {
    pub(crate) const fn new(store: &'a Store) -> Self {
        Self { store }
    }

    /// SQLite: caps the database at `pages` pages (`PRAGMA max_page_count`
    /// on the connection that makes every write of this store), or lifts
    /// the cap (`None`). A write that would grow the database past it fails
    /// with [`StorageError::DiskFull`] (`SQLITE_FULL`), exactly as on a full
    /// disk: for tests of that path, and for an operator who wants a hard
    /// ceiling while they free space. SQLite never sets the cap below the
    /// database's current size. Returns the cap in force, in pages;
    /// `None` on PostgreSQL, which has no such setting.
    pub async fn set_sqlite_max_pages(
        self,
        pages: Option<u32>,
    ) -> Result<Option<u64>, StorageError> {
        #[derive(QueryableByName)]
        struct Cap {
            #[diesel(sql_type = diesel::sql_types::BigInt)]
            max_page_count: i64,
        }
        if !self.store.is_sqlite() {
            return Ok(None);
        }
        // SQLite's largest page count (and its default cap).
        let pages = pages.unwrap_or(u32::MAX - 1);
        self.store
            .write(move |c| {
                let cap: Cap =
                    diesel::sql_query(format!("PRAGMA max_page_count = {pages}")).get_result(c)?;
                Ok(Some(u64::try_from(cap.max_page_count).unwrap_or(0)))
            })
            .await
    }
}
