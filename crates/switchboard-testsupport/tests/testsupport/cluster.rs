//! Exercises a real PostgreSQL server: the shared one and a privately owned one.

use std::error::Error;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use switchboard_testsupport::{PgServer, own_postgres_or_skip, postgres_or_skip};

type TestResult = Result<(), Box<dyn Error>>;

/// Runs `sql` on `url` with `psql`; returns trimmed unaligned output.
fn psql(server: &PgServer, url: &str, sql: &str) -> Result<String, Box<dyn Error>> {
    Ok(server.psql(url, sql)?)
}

fn database_exists(server: &PgServer, name: &str) -> Result<bool, Box<dyn Error>> {
    let count = psql(
        server,
        server.admin_url(),
        &format!("SELECT count(*) FROM pg_database WHERE datname = '{name}'"),
    )?;
    Ok(count == "1")
}

#[test]
fn shared_server_creates_distinct_databases_and_drops_them() -> TestResult {
    let Some(server) = postgres_or_skip() else {
        return Ok(());
    };
    let first = server.create_database()?;
    let second = server.create_database()?;
    assert_ne!(first.name(), second.name());
    assert_ne!(first.url(), second.url());

    for db in [&first, &second] {
        assert_eq!(psql(server, db.url(), "SELECT 1")?, "1");
        assert_eq!(
            psql(server, db.url(), "SELECT current_database()")?,
            db.name()
        );
        assert!(database_exists(server, db.name())?);
    }

    // A table created in one database is not visible in the other.
    psql(server, first.url(), "CREATE TABLE marker (id int)")?;
    assert_eq!(
        psql(
            server,
            first.url(),
            "SELECT to_regclass('marker') IS NOT NULL"
        )?,
        "t"
    );
    assert_eq!(
        psql(server, second.url(), "SELECT to_regclass('marker') IS NULL")?,
        "t"
    );

    // Dropping the handle drops the database even while a session is connected
    // to it (WITH (FORCE)); the other database survives.
    let mut session = Command::new(server.psql_binary())
        .args(["-X", "-q", "-d", first.url(), "-c", "SELECT pg_sleep(60)"])
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()?;
    let sessions_sql = format!(
        "SELECT count(*) FROM pg_stat_activity WHERE datname = '{}'",
        first.name()
    );
    let deadline = Instant::now() + Duration::from_secs(10);
    while psql(server, server.admin_url(), &sessions_sql)? == "0" {
        assert!(
            Instant::now() < deadline,
            "the sleeping session never connected"
        );
        std::thread::sleep(Duration::from_millis(20));
    }
    let first_name = first.name().to_owned();
    drop(first);
    let dropped = !database_exists(server, &first_name)?;
    let session_ended = session.wait_briefly()?;
    assert!(dropped, "{first_name} still exists");
    assert!(session_ended, "the connected session was not terminated");
    assert!(database_exists(server, second.name())?);
    assert_eq!(psql(server, second.url(), "SELECT 1")?, "1");
    Ok(())
}

#[test]
fn shared_server_is_shared() -> TestResult {
    let (Some(a), Some(b)) = (postgres_or_skip(), postgres_or_skip()) else {
        return Ok(());
    };
    assert!(std::ptr::eq(a, b));
    assert_eq!(a.admin_url(), b.admin_url());
    Ok(())
}

#[test]
fn owned_server_is_stopped_and_deleted_on_drop() -> TestResult {
    if std::env::var_os("DATABASE_URL").is_some() {
        return Ok(()); // an external server is not ours to stop
    }
    let Some(server) = own_postgres_or_skip() else {
        return Ok(());
    };
    let Some(dir) = server.cluster_dir().map(ToOwned::to_owned) else {
        return Ok(());
    };
    let admin_url = server.admin_url().to_owned();
    let pg_isready = server
        .bin_dir()
        .map(|bin| bin.join("pg_isready"))
        .ok_or("no bin dir")?;
    let db = server.create_database()?;
    assert_eq!(psql(&server, db.url(), "SELECT 1")?, "1");
    drop(db);
    assert!(dir.join("data").is_dir());

    drop(server);
    assert!(!dir.exists(), "{} still exists", dir.display());
    let ready = Command::new(pg_isready)
        .args(["-q", "-t", "1", "-d", &admin_url])
        .status()?;
    assert!(!ready.success(), "server at {admin_url} still answers");
    Ok(())
}

/// Waits up to 10 s for `self` to exit; kills it (and reports `false`) otherwise.
trait WaitBriefly {
    fn wait_briefly(&mut self) -> Result<bool, Box<dyn Error>>;
}

impl WaitBriefly for Child {
    fn wait_briefly(&mut self) -> Result<bool, Box<dyn Error>> {
        let deadline = Instant::now() + Duration::from_secs(10);
        while Instant::now() < deadline {
            if self.try_wait()?.is_some() {
                return Ok(true);
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        self.kill()?;
        self.wait()?;
        Ok(false)
    }
}

/// WAL segment files ahead of the write position: ready for reuse.
const READY_SEGMENTS: &str = "SELECT count(*) FROM pg_ls_waldir() \
     WHERE name ~ '^[0-9A-F]{24}$' AND name > pg_walfile_name(pg_current_wal_lsn())";

#[test]
fn ready_wal_leaves_recycled_segments_ahead_of_the_write_position() -> TestResult {
    use switchboard_testsupport::ceiling::{Bare, Synchronous};

    if std::env::var_os("DATABASE_URL").is_some() {
        return Ok(()); // switching and checkpointing need our own cluster
    }
    let Some(server) = own_postgres_or_skip() else {
        return Ok(());
    };
    let db = server.create_database()?;
    let before: i64 = psql(&server, db.url(), READY_SEGMENTS)?.parse()?;
    let mut bare = Bare::open(db.url(), Synchronous::Full)?;
    let ready = bare
        .ready_wal(4)?
        .ok_or("PostgreSQL answered like SQLite")?;
    assert!(ready >= 4, "{ready} segments ready, {before} before");
    assert!(ready > before, "{ready} segments ready, {before} before");
    // What it reports is what the cluster holds.
    let counted: i64 = psql(&server, db.url(), READY_SEGMENTS)?.parse()?;
    assert_eq!(counted, ready);

    let dir = tempfile::tempdir()?;
    let sqlite = format!("sqlite://{}", dir.path().join("bare.db").display());
    assert_eq!(Bare::open(&sqlite, Synchronous::Full)?.ready_wal(4)?, None);
    Ok(())
}
