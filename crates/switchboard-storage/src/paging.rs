//! Pages of query results, and offsets mapped onto keyset positions.
//!
//! Underneath, every page is keyset-paged: it starts after a [`Cursor`]
//! (the sort key and id of the previous page's last row), which is stable
//! under concurrent writes and costs the same on the thousandth page as on
//! the first. Vendors whose APIs demand offsets (`offset`, `page`,
//! `$skip`) get them mapped onto cursors: when the store serves the page at
//! offset `n` with `k` rows, it remembers the cursor after them as the
//! position of offset `n + k` for the same tenant, filter and order. A
//! client walking the pages in order is then served each next page from
//! its cursor: no row is skipped or repeated when rows are inserted or
//! deleted meanwhile, and no page costs more than the first. An offset the
//! store has not served (a jump, another process, after
//! [`OFFSET_CURSOR_TTL_MS`]) is answered with SQL `OFFSET` on the current
//! data, as the vendors do.
//!
//! The positions are per tenant and query shape, not per client: two
//! clients walking the same query at once while rows change share them,
//! and one may then see a row twice or miss one, as with plain `OFFSET`.

use std::collections::HashMap;
use std::convert::Infallible;
use std::sync::Mutex;

use sha2::{Digest, Sha256};
use switchboard_domain::query::{Cursor, Field, Filter, Page, Query};
use switchboard_domain::{TenantId, Timestamp};

use crate::connection::DbConnection;
use crate::decoded::Decoded;
use crate::sql::query::Target;
use crate::sql::{self, R};
use crate::{StorageError, Store};

/// A page of query results.
#[derive(Debug, Clone, PartialEq)]
pub struct QueryPage<T> {
    /// The rows, in the query's order.
    pub items: Vec<T>,
    /// Where the next page starts, when this page is full (there may be
    /// more rows); `None` after the last page.
    pub next: Option<Cursor>,
}

/// How long a remembered offset position is used.
pub const OFFSET_CURSOR_TTL_MS: i64 = 10 * 60 * 1000;
/// Most remembered offset positions per store.
pub const MAX_OFFSET_CURSORS: usize = 10_000;

#[derive(Debug, Clone, PartialEq, Eq, Hash)]
struct Key {
    kind: &'static str,
    tenant: i64,
    /// SHA-256 of the filter and the order.
    shape: [u8; 32],
    offset: u64,
}

/// Positions of served offsets (see the module documentation).
#[derive(Debug, Default)]
pub(crate) struct OffsetCursors {
    map: Mutex<HashMap<Key, (Cursor, Timestamp)>>,
}

impl OffsetCursors {
    fn get(&self, key: &Key, now: Timestamp) -> Option<Cursor> {
        let map = self.map.lock().ok()?;
        map.get(key)
            .filter(|(_, expires)| *expires > now)
            .map(|(c, _)| *c)
    }

    fn put(&self, key: Key, cursor: Cursor, now: Timestamp) {
        let Ok(mut map) = self.map.lock() else {
            return;
        };
        if map.len() >= MAX_OFFSET_CURSORS {
            map.retain(|_, (_, expires)| *expires > now);
            if map.len() >= MAX_OFFSET_CURSORS {
                map.clear();
            }
        }
        let expires = Timestamp::from_millis(now.as_millis().saturating_add(OFFSET_CURSOR_TTL_MS));
        map.insert(key, (cursor, expires));
    }
}

fn shape<F: Field>(q: &Query<F>) -> [u8; 32] {
    let text = format!("{:?}|{:?}", q.filter(), q.sort());
    Sha256::digest(text.as_bytes()).into()
}

/// How many of the tenant's rows match `filter` (all with `None`), from
/// the entity's running counts where they serve.
pub(crate) async fn count<F: Target>(
    store: &Store,
    tenant: TenantId,
    filter: Option<&Filter<F>>,
) -> Result<u64, StorageError> {
    let filter = filter.cloned();
    let total = store
        .run(move |c| sql::query::count(c, tenant.get(), filter.as_ref()))
        .await?;
    store.after_total::<F>(tenant.get(), total);
    Ok(total.n)
}

/// Loads a page of a query on a connection.
pub(crate) type Load<F> =
    fn(&mut DbConnection, &Decoded, i64, &Query<F>) -> R<Vec<<F as Field>::Entity>>;

/// A page of query results and how many rows match the query's filter in
/// all, read in one statement (the same snapshot).
#[derive(Debug, Clone, PartialEq)]
pub struct CountedPage<T> {
    /// The page.
    pub page: QueryPage<T>,
    /// How many rows match the filter, on every page.
    pub total: u64,
}

/// Runs `q` for `tenant` with `load`, mapping an offset onto a remembered
/// cursor when there is one.
pub(crate) async fn run<F>(
    store: &Store,
    kind: &'static str,
    tenant: TenantId,
    q: &Query<F>,
    load: Load<F>,
) -> Result<QueryPage<F::Entity>, StorageError>
where
    F: Field,
    F::Entity: Send + 'static,
{
    let (page, ()) = run_with(store, kind, tenant, q, move |c, memo, t, q| {
        Ok((load(c, memo, t, q)?, ()))
    })
    .await?;
    Ok(page)
}

/// Like [`run`], for a `load` that also reads something else on the same
/// connection (a total, linked rows), returned beside the page.
pub(crate) async fn run_with<F, X, L>(
    store: &Store,
    kind: &'static str,
    tenant: TenantId,
    q: &Query<F>,
    load: L,
) -> Result<(QueryPage<F::Entity>, X), StorageError>
where
    F: Field,
    F::Entity: Send + 'static,
    X: Send + 'static,
    L: FnOnce(&mut DbConnection, &Decoded, i64, &Query<F>) -> R<(Vec<F::Entity>, X)>
        + Send
        + 'static,
{
    let q = q.clone();
    let built = run_built(
        store,
        kind,
        tenant,
        move |_| Ok(Ok::<_, Infallible>(q)),
        load,
    )
    .await?;
    Ok(match built {
        Ok(page) => page,
        Err(never) => match never {},
    })
}

/// Like [`run_with`], for a query `build` makes on the page's own
/// connection, in the same call to the blocking pool (from definitions it
/// reads there); an error of `build` is returned as it is, and then
/// nothing is read.
pub(crate) async fn run_built<F, X, E, B, L>(
    store: &Store,
    kind: &'static str,
    tenant: TenantId,
    build: B,
    load: L,
) -> Result<Result<(QueryPage<F::Entity>, X), E>, StorageError>
where
    F: Field,
    F::Entity: Send + 'static,
    X: Send + 'static,
    E: Send + 'static,
    B: FnOnce(&mut DbConnection) -> R<Result<Query<F>, E>> + Send + 'static,
    L: FnOnce(&mut DbConnection, &Decoded, i64, &Query<F>) -> R<(Vec<F::Entity>, X)>
        + Send
        + 'static,
{
    let now = store.now();
    let kept = store.clone();
    let memo = store.decoded_shared();
    store
        .run(move |c| {
            let offsets = kept.offset_cursors();
            let q = match build(c)? {
                Ok(q) => q,
                Err(e) => return Ok(Err(e)),
            };
            let shape = shape(&q);
            let key = |offset: u64| Key {
                kind,
                tenant: tenant.get(),
                shape,
                offset,
            };
            let offset = match q.page() {
                Page::Offset(n) => Some(n),
                Page::First => Some(0),
                Page::After(_) => None,
            };
            // The query itself unless a remembered cursor stands for its
            // offset (the same filter, sort and limit either way).
            let effective = match offset {
                Some(n) if n > 0 => match offsets.get(&key(n), now) {
                    Some(cursor) => q.at(Page::After(cursor)),
                    None => q,
                },
                _ => q,
            };
            let (items, extra) = load(c, &memo, tenant.get(), &effective)?;
            let next = effective.next_cursor(&items);
            if let (Some(n), Some(cursor)) = (offset, next) {
                offsets.put(key(n + items.len() as u64), cursor, now);
            }
            Ok(Ok((QueryPage { items, next }, extra)))
        })
        .await
}
