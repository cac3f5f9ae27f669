//! `--record DIR`: one transcript per miner connection, in the format `sharecheck replay`
//! reads (one JSON message a line: what the miner sent, what the proxy answered), so any
//! session can be audited offline with `sharecheck replay --compare`, the proxy's own
//! answers standing as the recorded pool answers.
//!
//! The files are written by one thread of their own (the connections only queue lines,
//! never touching the disk). Bounded: a file stops growing at its size limit (a `#` line
//! says so), lines the writer cannot keep up with are dropped (a `#` line says how many),
//! and the directory keeps the newest transcripts only: the proxy's own files, by name.

use std::collections::HashMap;
use std::fs::{self, File};
use std::io::{BufWriter, Write};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::mpsc::{Receiver, SyncSender, TrySendError, sync_channel};
use std::time::{SystemTime, UNIX_EPOCH};

/// Where and how much to record.
#[derive(Clone, Debug)]
pub struct RecordConfig {
    /// The directory (created if missing).
    pub dir: PathBuf,
    /// Bytes one transcript may hold (default 16 MiB).
    pub max_file_bytes: u64,
    /// Transcripts kept in the directory (default 1000); the oldest go first, even one
    /// still being written when more miners than that are connected.
    pub max_files: usize,
}

impl RecordConfig {
    /// Recording into `dir` with the default limits.
    pub fn new(dir: impl Into<PathBuf>) -> RecordConfig {
        RecordConfig { dir: dir.into(), max_file_bytes: 16 << 20, max_files: 1000 }
    }
}

/// Lines queued for the writer thread at most.
const QUEUE: usize = 64 * 1024;

enum Message {
    Start { connection: u64, peer: String },
    Line { connection: u64, line: String },
    End { connection: u64 },
}

/// The writer thread's handle: starts a [`Recorder`] per connection.
pub struct RecordWriter {
    queue: SyncSender<Message>,
    next_connection: AtomicU64,
    thread: std::thread::JoinHandle<()>,
}

impl RecordWriter {
    /// Starts the writer thread for `config`.
    pub fn start(config: RecordConfig) -> std::io::Result<RecordWriter> {
        fs::create_dir_all(&config.dir)?;
        let (queue, lines) = sync_channel(QUEUE);
        let thread = std::thread::Builder::new()
            .name("sharecheck-record".into())
            .spawn(move || write_transcripts(&config, &lines))?;
        Ok(RecordWriter { queue, next_connection: AtomicU64::new(0), thread })
    }

    /// Waits until every transcript is written and closed (the recorders must be gone:
    /// the thread ends when the last one is).
    pub fn finish(self) {
        drop(self.queue);
        let _ = self.thread.join();
    }

    /// A transcript for the miner connection from `peer`.
    pub fn recorder(&self, peer: &str) -> Recorder {
        let connection = self.next_connection.fetch_add(1, Ordering::Relaxed);
        let _ = self.queue.try_send(Message::Start { connection, peer: peer.to_string() });
        Recorder { queue: self.queue.clone(), connection, dropped: 0 }
    }
}

/// One connection's transcript: lines go to the writer thread.
pub struct Recorder {
    queue: SyncSender<Message>,
    connection: u64,
    dropped: u64,
}

impl Recorder {
    /// Records one line (a message as it crossed the miner connection).
    pub fn line(&mut self, line: &str) {
        let message = Message::Line { connection: self.connection, line: line.to_string() };
        match self.queue.try_send(message) {
            Ok(()) => {}
            Err(TrySendError::Full(_)) => self.dropped += 1,
            Err(TrySendError::Disconnected(_)) => {}
        }
    }
}

impl Drop for Recorder {
    fn drop(&mut self) {
        if self.dropped > 0 {
            let line = format!("# {} lines not recorded: the writer fell behind", self.dropped);
            let _ = self.queue.try_send(Message::Line { connection: self.connection, line });
        }
        // Blocking is fine here: the writer drains the queue continuously.
        let _ = self.queue.send(Message::End { connection: self.connection });
    }
}

/// One open transcript.
struct Transcript {
    out: BufWriter<File>,
    written: u64,
    full: bool,
}

/// The writer thread: opens, appends, flushes when the queue goes quiet, closes.
fn write_transcripts(config: &RecordConfig, lines: &Receiver<Message>) {
    let mut open: HashMap<u64, Transcript> = HashMap::new();
    while let Ok(first) = lines.recv() {
        let mut next = Some(first);
        while let Some(message) = next {
            match message {
                Message::Start { connection, peer } => {
                    if let Some(t) = new_transcript(config, &peer) {
                        open.insert(connection, t);
                    }
                }
                Message::Line { connection, line } => {
                    if let Some(t) = open.get_mut(&connection) {
                        append(t, &line, config.max_file_bytes);
                    }
                }
                Message::End { connection } => {
                    if let Some(mut t) = open.remove(&connection) {
                        let _ = t.out.flush();
                    }
                }
            }
            next = lines.try_recv().ok();
        }
        for t in open.values_mut() {
            let _ = t.out.flush();
        }
    }
}

fn new_transcript(config: &RecordConfig, peer: &str) -> Option<Transcript> {
    let made = (|| -> std::io::Result<Transcript> {
        prune(&config.dir, config.max_files.saturating_sub(1))?;
        let since = SystemTime::now().duration_since(UNIX_EPOCH).unwrap_or_default();
        let peer: String =
            peer.chars().map(|c| if c.is_ascii_alphanumeric() { c } else { '_' }).collect();
        let name = format!("{}-{:09}-{peer}.jsonl", since.as_secs(), since.subsec_nanos());
        let file = File::create(config.dir.join(name))?;
        Ok(Transcript { out: BufWriter::new(file), written: 0, full: false })
    })();
    made.map_err(|e| tracing::warn!(dir = %config.dir.display(), error = %e, "cannot record")).ok()
}

fn append(t: &mut Transcript, line: &str, limit: u64) {
    if t.full {
        return;
    }
    let size = line.len() as u64 + 1;
    if t.written + size > limit {
        t.full = true;
        let _ = writeln!(t.out, "# recording stopped: {limit} bytes reached");
        return;
    }
    t.written += size;
    if let Err(e) = writeln!(t.out, "{line}") {
        tracing::warn!(error = %e, "transcript write failed: recording stopped");
        t.full = true;
    }
}

/// Whether `name` is a transcript this proxy wrote: `SECONDS-NANOS-PEER.jsonl`.
fn is_transcript(name: &str) -> bool {
    let mut parts = name.splitn(3, '-');
    let digits =
        |s: Option<&str>| s.is_some_and(|s| !s.is_empty() && s.bytes().all(|b| b.is_ascii_digit()));
    name.ends_with(".jsonl") && digits(parts.next()) && digits(parts.next())
}

/// Removes the oldest of the proxy's transcripts (their names start with their time)
/// beyond `keep`; other files are left alone.
fn prune(dir: &Path, keep: usize) -> std::io::Result<()> {
    let mut names: Vec<String> = fs::read_dir(dir)?
        .filter_map(|e| e.ok()?.file_name().into_string().ok())
        .filter(|n| is_transcript(n))
        .collect();
    if names.len() <= keep {
        return Ok(());
    }
    names.sort();
    for old in &names[..names.len() - keep] {
        let _ = fs::remove_file(dir.join(old));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::{RecordConfig, RecordWriter, is_transcript};

    #[test]
    fn transcripts_are_bounded_in_size_and_number() {
        let dir =
            std::env::temp_dir().join(format!("sharecheck-record-unit-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).unwrap();
        std::fs::write(dir.join("notes.jsonl"), "mine\n").unwrap();
        let config = RecordConfig { dir: dir.clone(), max_file_bytes: 20, max_files: 2 };
        let writer = RecordWriter::start(config).unwrap();
        for peer in ["a", "b", "c"] {
            let mut r = writer.recorder(peer);
            r.line("0123456789"); // 11 bytes with its newline
            r.line("0123456789"); // would make 22 > 20: the recording stops
            r.line("never");
        }
        writer.finish();
        let transcripts = || {
            let mut names: Vec<String> = std::fs::read_dir(&dir)
                .unwrap()
                .map(|e| e.unwrap().file_name().into_string().unwrap())
                .filter(|n| is_transcript(n))
                .collect();
            names.sort();
            names
        };
        let names = transcripts();
        assert_eq!(names.len(), 2, "the oldest transcript was removed: {names:?}");
        assert!(names[1].ends_with("-c.jsonl"), "{names:?}");
        let last = std::fs::read_to_string(dir.join(&names[1])).unwrap();
        assert_eq!(last, "0123456789\n# recording stopped: 20 bytes reached\n");
        assert_eq!(std::fs::read_to_string(dir.join("notes.jsonl")).unwrap(), "mine\n");
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
