//! Where `serve`'s log lines go: stderr or `[log] file`, written in batches.
//!
//! Under load a gateway logs five lines a message; one `write` each was a tenth of its system
//! calls. Lines of level INFO and below are collected in memory and written by a thread of
//! their own, every line of the last `[log] flush_interval` in one `write`. A WARN or
//! ERROR line is written at once, after everything collected before it (the order of lines is
//! kept), and so is everything when the server stops ([`LogGuard`]) or panics. A crash that
//! gives no chance (SIGKILL, power cut) loses at most the interval's INFO lines; the spool and
//! the quarantine, not the log, are what keep messages. A zero interval writes every line at
//! once, as a `write` of its own.
//!
//! Memory is bounded: a line that finds [`MAX_COLLECTED`] bytes waiting (a disk or a journal
//! that stopped taking them) writes them itself, so logging slows down instead of growing. A
//! destination that fails (a full disk) is reported on stderr once, and again once it takes
//! lines again; the lines in between are lost, as they would be unbatched.

use crate::locking::lock;
use std::io::{self, Write};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Condvar, Mutex, MutexGuard, PoisonError, TryLockError};
use std::thread;
use std::time::{Duration, Instant};
use tracing::{Level, Metadata};

/// Bytes collected before the thread that logs writes them itself.
const MAX_COLLECTED: usize = 1 << 20;

/// The log's destination and the lines waiting for it; a [`tracing_subscriber::fmt::MakeWriter`].
#[derive(Clone)]
pub struct LogOutput {
    shared: Arc<Shared>,
}

struct Shared {
    /// Taken for each `write` to the destination, and before taking the collected lines out
    /// of `collected`: batches leave in the order they were collected.
    destination: Mutex<Box<dyn Write + Send>>,
    collected: Mutex<Collected>,
    /// The flushing thread waits here while nothing is collected.
    lines_waiting: Condvar,
    flush_interval: Duration,
    /// The last write to the destination failed (reported once, until one succeeds).
    failing: AtomicBool,
}

#[derive(Default)]
struct Collected {
    lines: Vec<u8>,
    /// The flushing thread waits on `lines_waiting` (only then is it worth a wake-up).
    flusher_idle: bool,
    stopping: bool,
}

impl LogOutput {
    /// Lines for `destination`, collected for up to `flush_interval` (zero: none collected).
    /// Starts the flushing thread; the returned guard flushes and stops it when dropped.
    pub fn start(
        destination: Box<dyn Write + Send>,
        flush_interval: Duration,
    ) -> io::Result<(LogOutput, LogGuard)> {
        let shared = Arc::new(Shared {
            destination: Mutex::new(destination),
            collected: Mutex::new(Collected::default()),
            lines_waiting: Condvar::new(),
            flush_interval,
            failing: AtomicBool::new(false),
        });
        let flusher = if flush_interval.is_zero() {
            None
        } else {
            let shared = Arc::clone(&shared);
            Some(
                thread::Builder::new()
                    .name("log-writer".into())
                    .spawn(move || shared.flush_every_interval())?,
            )
        };
        let output = LogOutput { shared };
        Ok((
            output.clone(),
            LogGuard {
                output: Some(output),
                flusher,
            },
        ))
    }

    /// Writes every collected line now (the guard's flush).
    pub fn flush_now(&self) {
        self.shared.write_collected_and(&[]);
    }

    /// Writes every collected line unless a write is under way (the panic hook's flush: the
    /// panic may have struck while this thread was writing).
    pub fn flush_unless_busy(&self) {
        let destination = match self.shared.destination.try_lock() {
            Ok(destination) => destination,
            Err(TryLockError::Poisoned(poisoned)) => poisoned.into_inner(),
            Err(TryLockError::WouldBlock) => return,
        };
        self.shared.write_collected_locked(destination, &[]);
    }

    fn writer(&self, at_once: bool) -> LineWriter {
        LineWriter {
            shared: Arc::clone(&self.shared),
            at_once: at_once || self.shared.flush_interval.is_zero(),
        }
    }
}

impl Shared {
    /// Writes what is collected, then `line`, in one `write`, under the destination's lock.
    fn write_collected_and(&self, line: &[u8]) {
        self.write_collected_locked(lock(&self.destination), line);
    }

    fn write_collected_locked(
        &self,
        mut destination: MutexGuard<'_, Box<dyn Write + Send>>,
        line: &[u8],
    ) {
        let mut batch = std::mem::take(&mut lock(&self.collected).lines);
        if batch.is_empty() && line.is_empty() {
            return;
        }
        let bytes = if batch.is_empty() {
            line
        } else {
            batch.extend_from_slice(line);
            &batch
        };
        let written = destination
            .write_all(bytes)
            .and_then(|()| destination.flush());
        let lost = bytes.len();
        drop(destination);
        // The log cannot say it; stderr may (unless stderr is what failed). Never a panic.
        match written {
            Err(e) if !self.failing.swap(true, Ordering::Relaxed) => {
                let _ = writeln!(
                    io::stderr(),
                    "supportgate: log: {lost} byte(s) not written ({e}); lines are lost until writing works again"
                );
            }
            Ok(()) if self.failing.swap(false, Ordering::Relaxed) => {
                let _ = writeln!(io::stderr(), "supportgate: log: writing again");
            }
            _ => {}
        }
        // Keep the allocation for the next batch when nothing was collected meanwhile.
        batch.clear();
        let mut collected = lock(&self.collected);
        if collected.lines.is_empty() && batch.capacity() <= MAX_COLLECTED {
            collected.lines = batch;
        }
    }

    fn collect(&self, line: &[u8]) {
        let mut collected = lock(&self.collected);
        // Full, or nobody left to flush (the guard is gone): this line writes.
        if collected.lines.len() + line.len() > MAX_COLLECTED || collected.stopping {
            drop(collected);
            self.write_collected_and(line);
            return;
        }
        collected.lines.extend_from_slice(line);
        if std::mem::take(&mut collected.flusher_idle) {
            self.lines_waiting.notify_one();
        }
    }

    /// The flushing thread: waits for a first line, lets the interval's lines join it, writes
    /// them; then one interval after another while each brings lines (under load nobody has
    /// to wake it), idle again after one without; until the guard stops it, which cuts an
    /// interval short.
    fn flush_every_interval(&self) {
        let mut collected = lock(&self.collected);
        loop {
            while collected.lines.is_empty() && !collected.stopping {
                collected.flusher_idle = true;
                collected = self
                    .lines_waiting
                    .wait(collected)
                    .unwrap_or_else(PoisonError::into_inner);
            }
            collected.flusher_idle = false;
            loop {
                collected = self.wait_out_interval(collected);
                if collected.stopping {
                    return;
                }
                if collected.lines.is_empty() {
                    break;
                }
                drop(collected);
                self.write_collected_and(&[]);
                collected = lock(&self.collected);
            }
        }
    }

    /// Waits one interval (less if the guard stops the thread).
    fn wait_out_interval<'a>(
        &self,
        mut collected: MutexGuard<'a, Collected>,
    ) -> MutexGuard<'a, Collected> {
        let until = Instant::now() + self.flush_interval;
        while !collected.stopping {
            let left = until.saturating_duration_since(Instant::now());
            if left.is_zero() {
                break;
            }
            collected = self
                .lines_waiting
                .wait_timeout(collected, left)
                .unwrap_or_else(PoisonError::into_inner)
                .0;
        }
        collected
    }
}

/// Flushes the collected lines and stops the flushing thread when dropped (end of `serve`).
pub struct LogGuard {
    output: Option<LogOutput>,
    flusher: Option<thread::JoinHandle<()>>,
}

impl Drop for LogGuard {
    fn drop(&mut self) {
        let Some(output) = self.output.take() else {
            return;
        };
        lock(&output.shared.collected).stopping = true;
        output.shared.lines_waiting.notify_one();
        if let Some(flusher) = self.flusher.take() {
            let _ = flusher.join();
        }
        output.flush_now();
    }
}

/// One line's writer: the fmt layer formats a line, then writes it with one `write_all`.
pub struct LineWriter {
    shared: Arc<Shared>,
    at_once: bool,
}

impl Write for LineWriter {
    fn write(&mut self, line: &[u8]) -> io::Result<usize> {
        if self.at_once {
            self.shared.write_collected_and(line);
        } else {
            self.shared.collect(line);
        }
        Ok(line.len())
    }

    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}

impl<'a> tracing_subscriber::fmt::MakeWriter<'a> for LogOutput {
    type Writer = LineWriter;

    fn make_writer(&'a self) -> LineWriter {
        self.writer(true)
    }

    fn make_writer_for(&'a self, meta: &Metadata<'_>) -> LineWriter {
        // WARN and ERROR are what an administrator must see at once, and never lose.
        self.writer(*meta.level() <= Level::WARN)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A destination that keeps each `write` apart.
    #[derive(Clone, Default)]
    struct Writes(Arc<Mutex<Vec<Vec<u8>>>>);

    impl Write for Writes {
        fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
            lock(&self.0).push(buf.to_vec());
            Ok(buf.len())
        }
        fn flush(&mut self) -> io::Result<()> {
            Ok(())
        }
    }

    impl Writes {
        fn taken(&self) -> Vec<String> {
            lock(&self.0)
                .iter()
                .map(|w| String::from_utf8_lossy(w).into_owned())
                .collect()
        }

        /// Waits (bounded) until `n` writes were made.
        fn wait_for(&self, n: usize) -> Vec<String> {
            let until = Instant::now() + Duration::from_secs(10);
            while lock(&self.0).len() < n && Instant::now() < until {
                thread::sleep(Duration::from_millis(1));
            }
            self.taken()
        }
    }

    fn log(output: &LogOutput, at_once: bool, line: &str) {
        output.writer(at_once).write_all(line.as_bytes()).unwrap();
    }

    #[test]
    fn info_lines_of_one_interval_leave_in_one_write_in_their_order() {
        let writes = Writes::default();
        let (output, _guard) =
            LogOutput::start(Box::new(writes.clone()), Duration::from_secs(1)).unwrap();
        for n in 0..5 {
            log(&output, false, &format!("INFO line {n}\n"));
        }
        assert!(writes.taken().is_empty(), "written before the interval");
        assert_eq!(
            writes.wait_for(1),
            ["INFO line 0\nINFO line 1\nINFO line 2\nINFO line 3\nINFO line 4\n"]
        );
        // The next interval starts with the next line.
        log(&output, false, "INFO later\n");
        assert_eq!(writes.wait_for(2)[1], "INFO later\n");
    }

    #[test]
    fn a_warning_is_written_at_once_after_what_was_collected_before_it() {
        let writes = Writes::default();
        let (output, _guard) =
            LogOutput::start(Box::new(writes.clone()), Duration::from_secs(1)).unwrap();
        log(&output, false, "INFO before\n");
        log(&output, true, "WARN now\n");
        assert_eq!(writes.taken(), ["INFO before\nWARN now\n"]);
    }

    #[test]
    fn the_guard_writes_what_is_collected_without_waiting_out_the_interval() {
        let writes = Writes::default();
        let (output, guard) =
            LogOutput::start(Box::new(writes.clone()), Duration::from_secs(1)).unwrap();
        log(&output, false, "INFO last words\n");
        let began = Instant::now();
        drop(guard);
        assert!(
            began.elapsed() < Duration::from_millis(500),
            "{:?}",
            began.elapsed()
        );
        assert_eq!(writes.taken(), ["INFO last words\n"]);
        // After the guard, each line is written at once.
        log(&output, false, "INFO after\n");
        assert_eq!(writes.taken()[1], "INFO after\n");
    }

    #[test]
    fn a_full_collection_is_written_by_the_line_that_finds_it_full() {
        let writes = Writes::default();
        let (output, _guard) =
            LogOutput::start(Box::new(writes.clone()), Duration::from_secs(1)).unwrap();
        let line = format!("INFO {}\n", "x".repeat(1000));
        let lines = MAX_COLLECTED / line.len() + 1;
        for _ in 0..lines {
            log(&output, false, &line);
        }
        let written = writes.taken();
        assert_eq!(
            written.len(),
            1,
            "one write, by the line that found the bound"
        );
        assert_eq!(written[0].len(), lines * line.len());
    }

    /// Fails its first writes (a full disk), then takes them.
    struct FullDiskFirst {
        failures_left: usize,
        writes: Writes,
    }

    impl Write for FullDiskFirst {
        fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
            if self.failures_left > 0 {
                self.failures_left -= 1;
                return Err(io::Error::other("no space left on device"));
            }
            self.writes.write(buf)
        }
        fn flush(&mut self) -> io::Result<()> {
            Ok(())
        }
    }

    #[test]
    fn a_failing_destination_loses_those_lines_and_takes_the_next_ones() {
        let writes = Writes::default();
        let destination = FullDiskFirst {
            failures_left: 2,
            writes: writes.clone(),
        };
        let (output, _guard) = LogOutput::start(Box::new(destination), Duration::ZERO).unwrap();
        for line in ["WARN lost 1\n", "WARN lost 2\n", "WARN kept\n"] {
            log(&output, true, line);
        }
        assert_eq!(writes.taken(), ["WARN kept\n"]);
        assert!(!output.shared.failing.load(Ordering::Relaxed));
    }

    #[test]
    fn no_interval_writes_each_line_alone() {
        let writes = Writes::default();
        let (output, _guard) = LogOutput::start(Box::new(writes.clone()), Duration::ZERO).unwrap();
        log(&output, false, "INFO a\n");
        log(&output, false, "INFO b\n");
        assert_eq!(writes.taken(), ["INFO a\n", "INFO b\n"]);
    }
}
