//! A non-blocking log writer that writes in batches.
//!
//! `tracing-appender`'s non-blocking writer hands every line to its writer thread on a channel:
//! one wake-up of that thread and one `write` per line, and its receiver spins and yields
//! (`sched_yield`, four times per line measured) before it sleeps. With one request line per
//! call that was a sixth of the gateway's CPU per call on a quiet machine, on the cores the
//! requests need. Here a line is appended to a buffer under a lock. The first line after a
//! quiet moment wakes the writer thread, which writes it at once; the lines that follow within
//! [`GATHER`] are written together after it, without waking anyone (the buffer passing
//! [`HIGH_WATER`] is written sooner). So a lone line appears at once, and a busy gateway wakes
//! the writer at most once per [`GATHER`], not once per line; lines keep their order and a
//! request never waits for the output. When the output cannot keep up and the buffer holds
//! [`MAX_BUFFERED`], further lines are dropped and counted, and the count is written once the
//! output drains. Dropping the [`BatchGuard`] flushes everything and stops the thread.

use std::io::Write;
use std::sync::{Arc, Condvar, Mutex, MutexGuard};
use std::thread::JoinHandle;
use std::time::Duration;

use tracing_subscriber::fmt::MakeWriter;

/// How long the lines after a written batch are gathered before the next write.
pub const GATHER: Duration = Duration::from_millis(10);
/// A buffer this large is written at once, without waiting for the interval.
pub const HIGH_WATER: usize = 64 * 1024;
/// Beyond this, lines are dropped (and counted) until the output catches up.
pub const MAX_BUFFERED: usize = 8 * 1024 * 1024;

#[derive(Default)]
struct Pending {
    bytes: Vec<u8>,
    dropped: u64,
    closing: bool,
    /// The writer thread waits for a first line (the next line wakes it).
    idle: bool,
}

#[derive(Default)]
struct Shared {
    pending: Mutex<Pending>,
    wake: Condvar,
}

impl Shared {
    fn lock(&self) -> MutexGuard<'_, Pending> {
        self.pending.lock().unwrap_or_else(|p| p.into_inner())
    }
}

/// The writer the log layers write to; cheap to clone.
#[derive(Clone)]
pub struct BatchWriter {
    shared: Arc<Shared>,
}

/// Flushes and stops the writer thread when dropped.
pub struct BatchGuard {
    shared: Arc<Shared>,
    thread: Option<JoinHandle<()>>,
}

/// How the writer thread hands a batch to the output.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Writes {
    /// The whole batch in one write (a pipe, a terminal).
    Batch,
    /// One write per line, for an output that decides something per write (a file that
    /// rotates once a write takes it past its size limit).
    Lines,
}

/// A batching writer in front of `output`, and the guard that flushes it.
pub fn batched(output: impl Write + Send + 'static, writes: Writes) -> (BatchWriter, BatchGuard) {
    let shared = Arc::new(Shared::default());
    let for_thread = shared.clone();
    let thread = std::thread::Builder::new()
        .name("mcp2-log-writer".into())
        .spawn(move || write_loop(&for_thread, output, writes))
        .ok();
    let writer = BatchWriter {
        shared: shared.clone(),
    };
    (writer, BatchGuard { shared, thread })
}

fn write_loop(shared: &Shared, mut output: impl Write, writes: Writes) {
    let mut batch = Vec::new();
    loop {
        let (dropped, closing) = {
            let mut pending = shared.lock();
            while pending.bytes.is_empty() && pending.dropped == 0 && !pending.closing {
                pending.idle = true;
                pending = shared.wake.wait(pending).unwrap_or_else(|p| p.into_inner());
            }
            pending.idle = false;
            std::mem::swap(&mut batch, &mut pending.bytes);
            (std::mem::take(&mut pending.dropped), pending.closing)
        };
        // Nowhere to report a failing log output; the next batch tries again.
        match writes {
            Writes::Batch => {
                let _ = output.write_all(&batch);
            }
            Writes::Lines => {
                for line in batch.split_inclusive(|b| *b == b'\n') {
                    let _ = output.write_all(line);
                }
            }
        }
        batch.clear();
        if dropped > 0 {
            let _ = writeln!(
                output,
                "mcp2: {dropped} log lines dropped: the log output could not keep up"
            );
        }
        let _ = output.flush();
        if closing {
            return;
        }
        // The lines of the next moments go out together, without waking this thread each.
        let pending = shared.lock();
        if pending.bytes.len() < HIGH_WATER && !pending.closing {
            let _ = shared.wake.wait_timeout(pending, GATHER);
        }
    }
}

impl Write for BatchWriter {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        let mut pending = self.shared.lock();
        if pending.bytes.len() + buf.len() > MAX_BUFFERED {
            pending.dropped += 1;
            return Ok(buf.len());
        }
        pending.bytes.extend_from_slice(buf);
        let filled =
            pending.bytes.len() >= HIGH_WATER && pending.bytes.len() - buf.len() < HIGH_WATER;
        if pending.idle || filled {
            pending.idle = false;
            self.shared.wake.notify_one();
        }
        Ok(buf.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

impl<'a> MakeWriter<'a> for BatchWriter {
    type Writer = BatchWriter;

    fn make_writer(&'a self) -> Self::Writer {
        self.clone()
    }
}

impl Drop for BatchGuard {
    fn drop(&mut self) {
        self.shared.lock().closing = true;
        self.shared.wake.notify_one();
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// An output the test can read, shared with the writer thread.
    #[derive(Clone, Default)]
    struct Sink(Arc<Mutex<Vec<u8>>>);

    impl Write for Sink {
        fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
            self.0.lock().unwrap().extend_from_slice(buf);
            Ok(buf.len())
        }
        fn flush(&mut self) -> std::io::Result<()> {
            Ok(())
        }
    }

    impl Sink {
        fn text(&self) -> String {
            String::from_utf8(self.0.lock().unwrap().clone()).unwrap()
        }
    }

    #[test]
    fn lines_arrive_in_order_soon_and_all_on_drop() {
        let sink = Sink::default();
        let (writer, guard) = batched(sink.clone(), Writes::Batch);
        for n in 0..100 {
            writeln!(writer.make_writer(), "line {n}").unwrap();
        }
        let deadline = std::time::Instant::now() + Duration::from_secs(5);
        while !sink.text().contains("line 99") && std::time::Instant::now() < deadline {
            std::thread::sleep(Duration::from_millis(5));
        }
        let expected: String = (0..100).map(|n| format!("line {n}\n")).collect();
        assert_eq!(sink.text(), expected);
        writeln!(writer.make_writer(), "last").unwrap();
        drop(guard);
        assert!(sink.text().ends_with("line 99\nlast\n"), "{}", sink.text());
    }

    /// An output that blocks until released, like a pipe nobody reads.
    struct Stuck(Arc<(Mutex<bool>, Condvar)>, Sink);

    impl Write for Stuck {
        fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
            let (released, wake) = &*self.0;
            let mut released = released.lock().unwrap();
            while !*released {
                released = wake.wait(released).unwrap();
            }
            self.1.write(buf)
        }
        fn flush(&mut self) -> std::io::Result<()> {
            Ok(())
        }
    }

    #[test]
    fn a_stuck_output_never_blocks_the_logger_and_the_drops_are_counted() {
        let gate = Arc::new((Mutex::new(false), Condvar::new()));
        let sink = Sink::default();
        let (writer, guard) = batched(Stuck(gate.clone(), sink.clone()), Writes::Lines);
        writeln!(writer.make_writer(), "first").unwrap();
        std::thread::sleep(GATHER * 3); // the thread is now stuck writing "first"
        let line = vec![b'x'; 1024 * 1024];
        for _ in 0..12 {
            writer.make_writer().write_all(&line).unwrap();
        }
        *gate.0.lock().unwrap() = true;
        gate.1.notify_all();
        drop(guard);
        let text = sink.text();
        assert!(text.starts_with("first\n"), "{}", &text[..20]);
        assert!(
            text.contains("mcp2: 4 log lines dropped"),
            "{}",
            &text[text.len().saturating_sub(200)..]
        );
    }
}
