//! `--record DIR`: one transcript per miner connection, in the format `sharecheck replay`
//! reads (one JSON message a line: what the miner sent, what the proxy answered), so any
//! session can be audited offline with `sharecheck replay --compare`, the proxy's own
//! answers standing as the recorded pool answers.
//!
//! Bounded: a file stops growing at its size limit (a `#` comment line says so), and the
//! directory keeps the newest files only (older ones are removed as new ones start).

use std::fs::{self, File};
use std::io::{BufWriter, Write};
use std::path::{Path, PathBuf};
use std::time::{SystemTime, UNIX_EPOCH};

/// Where and how much to record.
#[derive(Clone, Debug)]
pub struct RecordConfig {
    /// The directory (created if missing).
    pub dir: PathBuf,
    /// Bytes one transcript may hold (default 16 MiB).
    pub max_file_bytes: u64,
    /// Transcripts kept in the directory (default 1000); the oldest go first.
    pub max_files: usize,
}

impl RecordConfig {
    /// Recording into `dir` with the default limits.
    pub fn new(dir: impl Into<PathBuf>) -> RecordConfig {
        RecordConfig { dir: dir.into(), max_file_bytes: 16 << 20, max_files: 1000 }
    }
}

/// One connection's transcript.
pub struct Recorder {
    out: BufWriter<File>,
    written: u64,
    limit: u64,
    full: bool,
}

impl Recorder {
    /// Starts a transcript for the miner at `peer`; `None` (and a log line) if the file
    /// cannot be made.
    pub fn start(config: &RecordConfig, peer: &str) -> Option<Recorder> {
        let made = (|| -> std::io::Result<Recorder> {
            fs::create_dir_all(&config.dir)?;
            prune(&config.dir, config.max_files.saturating_sub(1))?;
            let since = SystemTime::now().duration_since(UNIX_EPOCH).unwrap_or_default();
            let peer: String =
                peer.chars().map(|c| if c.is_ascii_alphanumeric() { c } else { '_' }).collect();
            let name = format!("{}-{:09}-{peer}.jsonl", since.as_secs(), since.subsec_nanos());
            let file = File::create(config.dir.join(name))?;
            Ok(Recorder {
                out: BufWriter::new(file),
                written: 0,
                limit: config.max_file_bytes,
                full: false,
            })
        })();
        match made {
            Ok(recorder) => Some(recorder),
            Err(e) => {
                tracing::warn!(dir = %config.dir.display(), error = %e, "cannot record");
                None
            }
        }
    }

    /// Records one line (a message as it crossed the miner connection).
    pub fn line(&mut self, line: &str) {
        if self.full {
            return;
        }
        let size = line.len() as u64 + 1;
        if self.written + size > self.limit {
            self.full = true;
            let _ = writeln!(self.out, "# recording stopped: {} bytes reached", self.limit);
            return;
        }
        self.written += size;
        if writeln!(self.out, "{line}").is_err() {
            self.full = true;
        }
    }
}

impl Drop for Recorder {
    fn drop(&mut self) {
        let _ = self.out.flush();
    }
}

/// Removes the oldest transcripts (by name: they start with their time) beyond `keep`.
fn prune(dir: &Path, keep: usize) -> std::io::Result<()> {
    let mut names: Vec<PathBuf> = fs::read_dir(dir)?
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.extension().is_some_and(|x| x == "jsonl"))
        .collect();
    if names.len() <= keep {
        return Ok(());
    }
    names.sort();
    for old in &names[..names.len() - keep] {
        let _ = fs::remove_file(old);
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::{RecordConfig, Recorder};

    #[test]
    fn transcripts_are_bounded_in_size_and_number() {
        let dir =
            std::env::temp_dir().join(format!("sharecheck-record-unit-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        let config = RecordConfig { dir: dir.clone(), max_file_bytes: 20, max_files: 2 };
        for peer in ["a", "b", "c"] {
            let mut r = Recorder::start(&config, peer).unwrap();
            r.line("0123456789"); // 11 bytes with its newline
            r.line("0123456789"); // would make 22 > 20: the recording stops
            r.line("never");
        }
        let mut files: Vec<_> =
            std::fs::read_dir(&dir).unwrap().map(|e| e.unwrap().path()).collect();
        files.sort();
        assert_eq!(files.len(), 2, "the oldest transcript was removed: {files:?}");
        assert!(files[1].to_string_lossy().ends_with("-c.jsonl"), "{files:?}");
        let text = std::fs::read_to_string(&files[1]).unwrap();
        assert_eq!(text, "0123456789\n# recording stopped: 20 bytes reached\n");
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
