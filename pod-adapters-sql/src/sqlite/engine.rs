//! The SQLite engine: one writer thread with group commit, and a pool of
//! reader connections used inline on the calling task.
//!
//! Writes are jobs: closures sent over a channel to the writer thread,
//! which owns the one read-write connection. The writer blocks for the
//! first job, takes every job already queued behind it (up to
//! [`MAX_BATCH`]), and runs them all in one `BEGIN IMMEDIATE` … `COMMIT`,
//! each inside its own `SAVEPOINT`: a job that fails (a version conflict,
//! say) is rolled back to its savepoint and the others go on. Every job
//! hears its answer only after the `COMMIT` returned, so nobody is told
//! "ok" before the data is on disk, and one fsync serves the whole batch.
//! If the `COMMIT` fails, every job of the batch fails with
//! [`StoreError::Unavailable`].
//!
//! The writer also keeps the health of writes: a batch whose transaction
//! failed, or a job that failed for the database's own reasons (the file
//! is locked by another process past the busy timeout, the disk or the
//! page limit is full, the file went read-only, an I/O error), marks writes
//! as failing, and the next batch that commits without such a failure
//! clears the mark. [`Engine::ready`] reports the mark, and while it is set
//! sends a probe write (a table created and dropped, so the file must be
//! writable and able to grow by a page), so readiness comes back when the
//! database does, with no traffic needed.
//!
//! A lazy write ([`Engine::write_lazy`]) does not start a batch: it joins
//! the next one, or, when no other write comes within [`LAZY_WAIT`], is
//! committed with the other lazy ones; it costs no fsync of its own.
//!
//! Reads never wait for the writer: each takes a free reader connection
//! (a `std::sync::Mutex` each, `query_only`) and runs on the calling task.
//! In WAL mode a reader sees the last committed state while a write
//! transaction is open. An in-memory database has a single connection
//! (SQLite's in-memory databases have no WAL and a shared-cache one would
//! make readers fail with `SQLITE_LOCKED` during writes): there the readers
//! take the writer's connection between batches.

use std::panic::AssertUnwindSafe;
use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::mpsc::{self, Receiver, Sender};
use std::sync::{Arc, Mutex, MutexGuard, PoisonError, RwLock};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use pod_ports::{StoreError, StoreTelemetry};
use rusqlite::{Connection, OpenFlags};
use tokio::sync::oneshot;

use super::error::{closed, db_error, describe, is_busy, unavailable};
use super::migrate;

/// How long a statement waits for another connection's write lock before
/// it fails: long enough to ride out another process's burst of writes or
/// migrations, short enough that a stuck database surfaces as an error.
pub(crate) const BUSY_TIMEOUT: Duration = Duration::from_secs(5);

/// How long [`Engine::ready`] waits for its probe write.
pub(crate) const PROBE_WAIT: Duration = Duration::from_secs(1);

/// The most jobs one transaction holds.
pub(crate) const MAX_BATCH: usize = 256;

/// How long a lazy write waits for another write to share its batch.
pub(crate) const LAZY_WAIT: Duration = Duration::from_millis(20);

/// Prepared statements each connection keeps.
const STATEMENT_CACHE: usize = 64;

/// A connection some threads share, `None` once the store is closed.
type Slot = Arc<Mutex<Option<Connection>>>;

type Telemetry = Arc<RwLock<Option<Arc<dyn StoreTelemetry>>>>;

fn lock<T>(mutex: &Mutex<T>) -> MutexGuard<'_, T> {
    // A panic in a job or a read poisons nothing a connection cares about:
    // the statement it ran is dropped (and reset) on unwind.
    mutex.lock().unwrap_or_else(PoisonError::into_inner)
}

/// What to open.
#[derive(Debug, Clone)]
pub(crate) enum Target {
    /// A database file.
    File {
        path: PathBuf,
        /// Create the file when it is missing.
        create: bool,
    },
    /// A private in-memory database that lives as long as the store.
    Memory,
}

/// A write the writer thread runs inside the batch's transaction.
/// How a job ended inside its savepoint.
#[derive(Debug)]
enum JobOutcome {
    /// Done; its savepoint is released.
    Done,
    /// Refused (a conflict, a row that does not read back): rolled back,
    /// and says nothing about the database's health.
    Refused,
    /// Failed for the database's own reasons ([`StoreError::Unavailable`],
    /// kept as the cause): rolled back, and writes are failing.
    Failed(StoreError),
}

trait WriteJob: Send {
    /// Runs the job on the writer's connection.
    fn run(&mut self, conn: &Connection) -> JobOutcome;
    /// Answers the caller once the batch's fate is known: `commit` is the
    /// `COMMIT`'s outcome (or why the job never ran or was rolled back).
    fn finish(self: Box<Self>, commit: Result<(), StoreError>);
}

struct Job<F, T> {
    work: Option<F>,
    result: Option<Result<T, StoreError>>,
    reply: oneshot::Sender<Result<T, StoreError>>,
}

impl<F, T> WriteJob for Job<F, T>
where
    F: FnOnce(&Connection) -> Result<T, StoreError> + Send,
    T: Send,
{
    fn run(&mut self, conn: &Connection) -> JobOutcome {
        let Some(work) = self.work.take() else {
            return JobOutcome::Refused;
        };
        let result = std::panic::catch_unwind(AssertUnwindSafe(|| work(conn)))
            .unwrap_or_else(|_| Err(StoreError::Unavailable("a write job panicked".to_owned())));
        let outcome = match &result {
            Ok(_) => JobOutcome::Done,
            Err(e @ StoreError::Unavailable(_)) => JobOutcome::Failed(e.clone()),
            Err(_) => JobOutcome::Refused,
        };
        self.result = Some(result);
        outcome
    }

    fn finish(self: Box<Self>, commit: Result<(), StoreError>) {
        let answer = match (commit, self.result) {
            (Err(e), _) => Err(e),
            (Ok(()), Some(result)) => result,
            (Ok(()), None) => Err(StoreError::Unavailable(
                "the write was not carried out".to_owned(),
            )),
        };
        // The caller may have given up waiting; nothing to do then.
        let _ = self.reply.send(answer);
    }
}

enum Message {
    Write(Box<dyn WriteJob>),
    /// Runs on the writer's connection outside any transaction (tests reach
    /// the connection with it).
    #[cfg(test)]
    Raw(RawWork),
    /// A write that need not start a batch of its own: it rides along with
    /// the next write, or is committed after [`LAZY_WAIT`] without one.
    Lazy(Box<dyn WriteJob>),
    /// Finish the batch under way, close the connection, then answer.
    Close(oneshot::Sender<()>),
}

/// The open database: the writer's channel and the readers.
pub(crate) struct Engine {
    jobs: Sender<Message>,
    writer: JoinHandle<()>,
    readers: Box<[Slot]>,
    next_reader: AtomicUsize,
    closed: AtomicBool,
    telemetry: Telemetry,
    in_memory: bool,
    /// Whether writes are failing (see the module's documentation).
    writes_failing: Arc<AtomicBool>,
}

impl Engine {
    /// Opens the database, brings its schema up to date and starts the
    /// writer thread. The blocking work (opening, migrating) runs on the
    /// writer thread, not on the caller's async task.
    pub(crate) async fn open(target: Target) -> Result<Engine, StoreError> {
        let (jobs, inbox) = mpsc::channel::<Message>();
        let (ready, opened) = oneshot::channel::<Result<Box<[Slot]>, StoreError>>();
        let telemetry: Telemetry = Arc::new(RwLock::new(None));
        let writer_telemetry = telemetry.clone();
        let writes_failing = Arc::new(AtomicBool::new(false));
        let writer_failing = writes_failing.clone();
        let in_memory = matches!(target, Target::Memory);
        let writer = std::thread::Builder::new()
            .name("pod-sql-writer".to_owned())
            .spawn(move || match setup(&target) {
                Ok((writer, readers)) => {
                    if ready.send(Ok(readers)).is_ok() {
                        run_writer(&writer, &inbox, &writer_telemetry, &writer_failing);
                    }
                    // The connection closes here, after the last batch.
                    lock(&writer).take();
                }
                Err(e) => {
                    let _ = ready.send(Err(e));
                }
            })
            .map_err(|_| {
                StoreError::Unavailable("cannot start the database writer thread".to_owned())
            })?;
        let readers = opened.await.map_err(|_| {
            StoreError::Unavailable("the database writer stopped while opening".to_owned())
        })??;
        Ok(Engine {
            jobs,
            writer,
            readers,
            next_reader: AtomicUsize::new(0),
            closed: AtomicBool::new(false),
            telemetry,
            in_memory,
            writes_failing,
        })
    }

    /// Runs `work` on the writer thread, inside the next batch's
    /// transaction and its own savepoint; answers once the batch is
    /// committed. An `Err` from `work` rolls back what it did, and only
    /// that.
    pub(crate) async fn write<T, F>(&self, work: F) -> Result<T, StoreError>
    where
        F: FnOnce(&Connection) -> Result<T, StoreError> + Send + 'static,
        T: Send + 'static,
    {
        self.submit(work, false).await
    }

    /// Like [`Engine::write`] (answered after the `COMMIT`), but the write
    /// does not start a batch, and so costs no fsync of its own: it joins
    /// the batch of the next write sent, or, when none comes within
    /// [`LAZY_WAIT`], is committed with the other lazy ones. For writes
    /// nobody waits for.
    pub(crate) async fn write_lazy<T, F>(&self, work: F) -> Result<T, StoreError>
    where
        F: FnOnce(&Connection) -> Result<T, StoreError> + Send + 'static,
        T: Send + 'static,
    {
        self.submit(work, true).await
    }

    async fn submit<T, F>(&self, work: F, lazy: bool) -> Result<T, StoreError>
    where
        F: FnOnce(&Connection) -> Result<T, StoreError> + Send + 'static,
        T: Send + 'static,
    {
        if self.is_closed() {
            return Err(closed());
        }
        let (reply, answer) = oneshot::channel();
        let job = Job {
            work: Some(work),
            result: None,
            reply,
        };
        let job: Box<dyn WriteJob> = Box::new(job);
        let message = if lazy {
            Message::Lazy(job)
        } else {
            Message::Write(job)
        };
        self.jobs.send(message).map_err(|_| closed())?;
        answer.await.unwrap_or_else(|_| Err(closed()))
    }

    /// Runs `read` on a reader connection, on the calling task.
    pub(crate) fn read<T>(
        &self,
        read: impl FnOnce(&Connection) -> Result<T, StoreError>,
    ) -> Result<T, StoreError> {
        if self.is_closed() {
            return Err(closed());
        }
        let count = self.readers.len();
        let start = self.next_reader.fetch_add(1, Ordering::Relaxed) % count;
        // A free reader if there is one, else wait for the next in turn.
        let guard = (0..count)
            .find_map(|i| match self.readers[(start + i) % count].try_lock() {
                Ok(guard) => Some(guard),
                Err(std::sync::TryLockError::Poisoned(poisoned)) => Some(poisoned.into_inner()),
                Err(std::sync::TryLockError::WouldBlock) => None,
            })
            .unwrap_or_else(|| lock(&self.readers[start]));
        match guard.as_ref() {
            Some(conn) => read(conn),
            None => Err(closed()),
        }
    }

    /// Whether the database answers: the writer is running and a reader
    /// can run a query.
    pub(crate) fn ping(&self) -> Result<(), StoreError> {
        if self.is_closed() {
            return Err(closed());
        }
        if self.writer.is_finished() {
            return Err(StoreError::Unavailable(
                "the database writer has stopped".to_owned(),
            ));
        }
        self.read(|conn| {
            conn.prepare_cached("SELECT 1")
                .and_then(|mut s| s.query_row([], |row| row.get::<_, i64>(0)))
                .map_err(db_error)?;
            Ok(())
        })
    }

    /// Whether the database can serve requests: [`Engine::ping`], and
    /// writes are not failing. While they are, a probe write is sent and
    /// awaited for up to [`PROBE_WAIT`]: when it commits, the database is
    /// ready again (a probe that takes longer goes on, and its commit clears
    /// the mark for a later call).
    pub(crate) async fn ready(&self) -> Result<(), StoreError> {
        self.ping()?;
        if !self.writes_failing.load(Ordering::SeqCst) {
            return Ok(());
        }
        let probe = self.write(|conn| {
            conn.execute_batch("CREATE TABLE pod_probe (x INTEGER); DROP TABLE pod_probe;")
                .map_err(|e| unavailable(&e))
        });
        match tokio::time::timeout(PROBE_WAIT, probe).await {
            Ok(Ok(())) => Ok(()),
            Ok(Err(e)) => Err(StoreError::Unavailable(format!("writes are failing: {e}"))),
            Err(_) => Err(StoreError::Unavailable(
                "writes are failing: the probe write is still waiting".to_owned(),
            )),
        }
    }

    /// Lets the writer finish the batch under way, then closes every
    /// connection. Later calls fail with [`StoreError::Unavailable`].
    pub(crate) async fn close(&self) {
        if self.closed.swap(true, Ordering::SeqCst) {
            return;
        }
        let (done, closed) = oneshot::channel();
        if self.jobs.send(Message::Close(done)).is_ok() {
            // An error means the writer is gone already.
            let _ = closed.await;
        }
        for reader in self.readers.iter() {
            lock(reader).take();
        }
    }

    pub(crate) fn is_closed(&self) -> bool {
        self.closed.load(Ordering::SeqCst)
    }

    pub(crate) fn set_telemetry(&self, telemetry: Arc<dyn StoreTelemetry>) {
        *self
            .telemetry
            .write()
            .unwrap_or_else(PoisonError::into_inner) = Some(telemetry);
    }

    pub(crate) fn reader_count(&self) -> usize {
        self.readers.len()
    }

    pub(crate) fn in_memory(&self) -> bool {
        self.in_memory
    }
}

/// How many reader connections a file database gets: two per core, at
/// least two.
fn reader_count() -> usize {
    let cores = std::thread::available_parallelism().map_or(1, usize::from);
    (cores * 2).clamp(2, 16)
}

/// Opens the writer's connection, migrates, and opens the readers.
fn setup(target: &Target) -> Result<(Slot, Box<[Slot]>), StoreError> {
    match target {
        Target::Memory => {
            let conn = Connection::open_in_memory_with_flags(
                OpenFlags::SQLITE_OPEN_READ_WRITE
                    | OpenFlags::SQLITE_OPEN_CREATE
                    | OpenFlags::SQLITE_OPEN_NO_MUTEX,
            )
            .map_err(|e| unavailable(&e))?;
            configure(&conn, false)?;
            migrate::run(&conn)?;
            let slot: Slot = Arc::new(Mutex::new(Some(conn)));
            Ok((slot.clone(), vec![slot].into_boxed_slice()))
        }
        Target::File { path, create } => {
            let mut flags = OpenFlags::SQLITE_OPEN_READ_WRITE | OpenFlags::SQLITE_OPEN_NO_MUTEX;
            if *create {
                flags |= OpenFlags::SQLITE_OPEN_CREATE;
            }
            // No SQLITE_OPEN_URI: a path is a path, even one that starts
            // with "file:".
            let conn = Connection::open_with_flags(path, flags).map_err(|e| open_error(&e))?;
            configure(&conn, false)?;
            enable_wal(&conn)?;
            migrate::run(&conn)?;
            let readers = (0..reader_count())
                .map(|_| {
                    let reader = Connection::open_with_flags(
                        path,
                        OpenFlags::SQLITE_OPEN_READ_WRITE | OpenFlags::SQLITE_OPEN_NO_MUTEX,
                    )
                    .map_err(|e| open_error(&e))?;
                    configure(&reader, true)?;
                    Ok(Arc::new(Mutex::new(Some(reader))))
                })
                .collect::<Result<Vec<Slot>, StoreError>>()?;
            Ok((Arc::new(Mutex::new(Some(conn))), readers.into_boxed_slice()))
        }
    }
}

fn open_error(e: &rusqlite::Error) -> StoreError {
    StoreError::Unavailable(format!("cannot open the database: {}", describe(e)))
}

/// The settings every connection gets. `journal_mode` is a property of the
/// file, set once by [`enable_wal`].
fn configure(conn: &Connection, reader: bool) -> Result<(), StoreError> {
    conn.busy_timeout(BUSY_TIMEOUT)
        .map_err(|e| unavailable(&e))?;
    conn.set_prepared_statement_cache_capacity(STATEMENT_CACHE);
    let mut pragmas = String::from("PRAGMA synchronous = FULL; PRAGMA foreign_keys = ON;");
    if reader {
        pragmas.push_str(" PRAGMA query_only = ON;");
    }
    conn.execute_batch(&pragmas).map_err(|e| unavailable(&e))
}

/// Puts the file in WAL mode. Switching a new file needs a moment of
/// exclusive access, which SQLite may refuse with `SQLITE_BUSY` without
/// waiting while another process opens the same new file: retried until
/// the busy timeout.
fn enable_wal(conn: &Connection) -> Result<(), StoreError> {
    let deadline = Instant::now() + BUSY_TIMEOUT;
    loop {
        match conn.query_row("PRAGMA journal_mode = WAL", [], |row| {
            row.get::<_, String>(0)
        }) {
            Ok(mode) if mode.eq_ignore_ascii_case("wal") => return Ok(()),
            Ok(_) => {
                return Err(StoreError::Unavailable(
                    "the database refused write-ahead logging".to_owned(),
                ));
            }
            Err(e) if is_busy(&e) && Instant::now() < deadline => {
                std::thread::sleep(Duration::from_millis(5));
            }
            Err(e) => return Err(unavailable(&e)),
        }
    }
}

/// Work a test runs on the writer's connection.
#[cfg(test)]
type RawWork = Box<dyn FnOnce(&Connection) + Send>;

/// The writes of the next batch, as they are taken from the channel.
#[derive(Default)]
struct NextBatch {
    batch: Vec<Box<dyn WriteJob>>,
    close: Option<oneshot::Sender<()>>,
    /// Set while the batch holds only lazy writes: until when they wait for
    /// another write.
    lazy_until: Option<Instant>,
    /// Work on the connection that ends the batch and runs after it.
    #[cfg(test)]
    raw: Option<RawWork>,
}

impl NextBatch {
    /// Whether a message ended the batch (nothing more joins it).
    fn ended(&self) -> bool {
        #[cfg(test)]
        if self.raw.is_some() {
            return true;
        }
        self.close.is_some()
    }

    fn take(&mut self, message: Message) {
        match message {
            Message::Write(job) => {
                self.batch.push(job);
                self.lazy_until = None;
            }
            Message::Lazy(job) => {
                if self.batch.is_empty() {
                    self.lazy_until = Some(Instant::now() + LAZY_WAIT);
                }
                self.batch.push(job);
            }
            Message::Close(done) => {
                self.close = Some(done);
                self.lazy_until = None;
            }
            #[cfg(test)]
            Message::Raw(work) => {
                self.raw = Some(work);
                self.lazy_until = None;
            }
        }
    }
}

/// The writer thread's loop: one batch per turn until the store is closed
/// or dropped.
fn run_writer(
    slot: &Slot,
    inbox: &Receiver<Message>,
    telemetry: &Telemetry,
    writes_failing: &AtomicBool,
) {
    let mut close = None;
    while close.is_none() {
        let Ok(first) = inbox.recv() else {
            return; // every handle to the store is gone
        };
        let mut next = NextBatch::default();
        next.take(first);
        // While the batch holds only lazy writes, wait (until the first
        // one's deadline) for a write that starts it.
        while let Some(until) = next.lazy_until {
            if next.batch.len() >= MAX_BATCH {
                break;
            }
            match inbox.recv_timeout(until.saturating_duration_since(Instant::now())) {
                Ok(message) => next.take(message),
                Err(_) => next.lazy_until = None,
            }
        }
        while !next.ended() && next.batch.len() < MAX_BATCH {
            match inbox.try_recv() {
                Ok(message) => next.take(message),
                Err(_) => break,
            }
        }
        let batch = next.batch;
        close = next.close;
        if !batch.is_empty() {
            run_batch(slot, batch, telemetry, writes_failing);
        }
        #[cfg(test)]
        if let (Some(work), Some(conn)) = (next.raw, lock(slot).as_ref()) {
            work(conn);
        }
    }
    lock(slot).take();
    if let Some(done) = close {
        let _ = done.send(());
    }
}

/// Runs one batch in one transaction and answers every job after the
/// `COMMIT`.
fn run_batch(
    slot: &Slot,
    mut batch: Vec<Box<dyn WriteJob>>,
    telemetry: &Telemetry,
    writes_failing: &AtomicBool,
) {
    let started = Instant::now();
    let size = batch.len();
    let outcome = {
        let guard = lock(slot);
        match guard.as_ref() {
            None => Err(closed()),
            Some(conn) => transaction(conn, &mut batch),
        }
    };
    let failing = match &outcome {
        Ok(failed_jobs) => *failed_jobs > 0,
        Err(_) => true,
    };
    if failing != writes_failing.swap(failing, Ordering::SeqCst) {
        if failing {
            tracing::error!("database writes are failing");
        } else {
            tracing::info!("database writes succeed again");
        }
    }
    let outcome = outcome.map(|_| ());
    match &outcome {
        Ok(()) => {
            let telemetry = telemetry
                .read()
                .unwrap_or_else(PoisonError::into_inner)
                .clone();
            if let Some(telemetry) = telemetry {
                telemetry.commit_batch(size, started.elapsed());
            }
        }
        Err(e) => tracing::error!(jobs = size, error = %e, "a batch of writes failed"),
    }
    for job in batch {
        job.finish(outcome.clone());
    }
}

/// `BEGIN IMMEDIATE`, every job in its savepoint, `COMMIT`. Any failure of
/// the transaction itself (not of a job) rolls everything back. On success,
/// how many jobs failed for the database's own reasons.
fn transaction(conn: &Connection, batch: &mut [Box<dyn WriteJob>]) -> Result<usize, StoreError> {
    let exec = |sql: &str| -> Result<(), rusqlite::Error> {
        conn.prepare_cached(sql)?.execute([])?;
        Ok(())
    };
    exec("BEGIN IMMEDIATE").map_err(|e| unavailable(&e))?;
    let mut failed = 0;
    // The last job's failure, the cause when SQLite then rolled back the
    // whole transaction (a full disk does that).
    let mut cause = None;
    let result = (|| {
        for job in batch.iter_mut() {
            exec("SAVEPOINT job")?;
            let outcome = job.run(conn);
            if let JobOutcome::Failed(e) = &outcome {
                failed += 1;
                cause = Some(e.clone());
            }
            if matches!(outcome, JobOutcome::Done) {
                exec("RELEASE job")?;
            } else {
                // A failed statement may have made SQLite roll back the
                // whole transaction (SQLITE_FULL, an I/O error); then the
                // savepoint is gone and so is the batch.
                exec("ROLLBACK TO job")?;
                exec("RELEASE job")?;
            }
        }
        exec("COMMIT")
    })();
    result.map(|()| failed).map_err(|e| {
        if !conn.is_autocommit() {
            let _ = conn.execute_batch("ROLLBACK");
            unavailable(&e)
        } else {
            // SQLite ended the transaction itself: say why.
            cause.take().unwrap_or_else(|| unavailable(&e))
        }
    })
}

#[cfg(test)]
impl Engine {
    /// Runs `read` on the writer's connection (through the writer thread),
    /// outside any transaction.
    pub(crate) async fn on_writer<T: Send + 'static>(
        &self,
        read: impl FnOnce(&Connection) -> Result<T, StoreError> + Send + 'static,
    ) -> Result<T, StoreError> {
        let (reply, answer) = oneshot::channel();
        self.jobs
            .send(Message::Raw(Box::new(move |conn| {
                let _ = reply.send(read(conn));
            })))
            .map_err(|_| closed())?;
        answer.await.unwrap_or_else(|_| Err(closed()))
    }
}
