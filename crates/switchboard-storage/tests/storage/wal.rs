//! SQLite's write-ahead log is checkpointed beside the writes, not by the
//! commit that made it long: it still starts over while writes go on, and
//! is copied whole into the database file once they stop.
//!
//! The WAL's state is read from its index, the `-shm` file, whose layout
//! SQLite documents (<https://sqlite.org/walformat.html>, "The WAL-Index
//! Format"): `mxFrame`, the frames of the WAL's current run, at byte 16
//! of the header, and `nBackfill`, how many of them are copied into the
//! database file, at byte 96; both in the machine's byte order.

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use super::harness::{TestDb, create_customer, open, tenant};

/// `mxFrame` and `nBackfill` of the WAL index `shm`.
fn wal_state(shm: &Path) -> (u32, u32) {
    let index = std::fs::read(shm).unwrap_or_else(|e| panic!("{}: {e}", shm.display()));
    let word = |at: usize| {
        let bytes: [u8; 4] = index[at..at + 4].try_into().unwrap();
        u32::from_ne_bytes(bytes)
    };
    (word(16), word(96))
}

/// Writers at once.
const WRITERS: usize = 8;

fn shm_of(db: &TestDb) -> PathBuf {
    let path = db.url.strip_prefix("sqlite://").unwrap();
    PathBuf::from(format!("{path}-shm"))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn the_wal_starts_over_while_writes_go_on_and_is_copied_whole_when_they_stop() {
    let db = TestDb::sqlite();
    let store = open(&db).await;
    let ctx = tenant(&store, "acme").await;
    let shm = shm_of(&db);

    // Writers that never pause, so that commits go on during every
    // background pass (a pass then never copies the last frames itself;
    // the writer's top-up does), until the WAL has started over (its frame
    // count fell) three times. SQLite's own automatic checkpoint is off, so
    // without the passes and the top-ups the count only grows.
    let stop = Arc::new(AtomicBool::new(false));
    let writers: Vec<_> = (0..WRITERS)
        .map(|_| {
            let (store, ctx, stop) = (store.clone(), ctx.clone(), Arc::clone(&stop));
            tokio::spawn(async move {
                let mut written = 0_u64;
                while !stop.load(Ordering::Relaxed) {
                    create_customer(&store, &ctx).await;
                    written += 1;
                }
                written
            })
        })
        .collect();
    let mut restarts = 0;
    let (mut before, _) = wal_state(&shm);
    let deadline = Instant::now() + Duration::from_secs(60);
    while restarts < 3 && Instant::now() < deadline {
        tokio::time::sleep(Duration::from_millis(2)).await;
        let (frames, _) = wal_state(&shm);
        if frames < before {
            restarts += 1;
        }
        before = frames;
    }
    stop.store(true, Ordering::Relaxed);
    let mut written = 0;
    for writer in writers {
        written += writer.await.unwrap();
    }
    assert_eq!(
        restarts, 3,
        "the WAL started over {restarts} times in 60 s of {written} writes ({before} frames)"
    );

    // Once writes stop, a background pass copies every frame.
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        let (frames, copied) = wal_state(&shm);
        assert!(frames > 0, "the last writes are in the WAL");
        if copied == frames {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "{copied} of {frames} frames copied 30 s after the last write"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }

    // Nothing was lost on the way: every customer is there after the store
    // closed and opened again.
    drop(store);
    let reopened = open(&db).await;
    let count = reopened.customers().count(ctx.tenant.id, None).await;
    assert_eq!(count.unwrap(), written);
}
