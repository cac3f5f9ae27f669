//! Reading a stratum connection line by line, in bounded memory, without ever giving up on
//! the stream: a line over the limit is skipped up to its newline (never held), a line
//! that is not UTF-8 is reported, and reading goes on.

use tokio::io::{AsyncBufReadExt, AsyncRead, BufReader};

/// One line read.
#[derive(Debug, PartialEq, Eq)]
pub enum Line {
    /// A line of text, without its `\n` (or `\r\n`).
    Text(String),
    /// A line longer than the limit (skipped).
    TooLong,
    /// A line that is not UTF-8 (skipped).
    NotUtf8,
}

/// Lines of at most `max` bytes from `R`.
pub struct LineReader<R> {
    reader: BufReader<R>,
    partial: Vec<u8>,
    discarding: bool,
    max: usize,
}

impl<R: AsyncRead + Unpin> LineReader<R> {
    /// Reads lines of at most `max` bytes from `reader`. The read buffer is a sixteenth
    /// of that, 64 bytes to 8 KiB: a miner's lines are a few hundred bytes, and every
    /// connection keeps its buffer (longer lines are gathered beside it).
    pub fn new(reader: R, max: usize) -> Self {
        let reader = BufReader::with_capacity((max / 16).clamp(64, 8192), reader);
        LineReader { reader, partial: Vec::new(), discarding: false, max }
    }

    /// The next line; `None` at the end of the stream. Cancel-safe: what was read stays in
    /// the reader, so it can be a branch of `tokio::select!`.
    pub async fn next(&mut self) -> std::io::Result<Option<Line>> {
        loop {
            let available = self.reader.fill_buf().await?;
            if available.is_empty() {
                return Ok(None);
            }
            match available.iter().position(|&b| b == b'\n') {
                Some(end) => return Ok(Some(self.line_ending_at(end))),
                None => {
                    let n = available.len();
                    if !self.discarding {
                        self.partial.extend_from_slice(available);
                        if self.partial.len() > self.max {
                            // Too long already: drop it and skip to its newline.
                            self.partial = Vec::new();
                            self.discarding = true;
                        }
                    }
                    self.reader.consume(n);
                }
            }
        }
    }

    /// The next line if it has already been read in whole (no waiting, no system call):
    /// the lines a miner sent in one go, taken together.
    pub fn buffered(&mut self) -> Option<Line> {
        let end = self.reader.buffer().iter().position(|&b| b == b'\n')?;
        Some(self.line_ending_at(end))
    }

    /// The line whose `\n` is at `end` in the read buffer (with what was gathered before
    /// it), consumed.
    fn line_ending_at(&mut self, end: usize) -> Line {
        if !self.discarding {
            self.partial.extend_from_slice(&self.reader.buffer()[..end]);
        }
        self.reader.consume(end + 1);
        if std::mem::take(&mut self.discarding) || self.partial.len() > self.max {
            self.partial.clear();
            return Line::TooLong;
        }
        let mut bytes = std::mem::take(&mut self.partial);
        if bytes.last() == Some(&b'\r') {
            bytes.pop();
        }
        match String::from_utf8(bytes) {
            Ok(text) => Line::Text(text),
            Err(_) => Line::NotUtf8,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::{Line, LineReader};

    #[tokio::test]
    async fn lines_long_lines_and_bad_bytes() {
        let input: Vec<u8> =
            [b"ab\r\n".as_slice(), &[b'x'; 100], b"\n\xff\n", b"cd\n", b"tail"].concat();
        let mut r = LineReader::new(input.as_slice(), 10);
        assert_eq!(r.next().await.unwrap(), Some(Line::Text("ab".into())));
        assert_eq!(r.next().await.unwrap(), Some(Line::TooLong));
        assert_eq!(r.next().await.unwrap(), Some(Line::NotUtf8));
        assert_eq!(r.next().await.unwrap(), Some(Line::Text("cd".into())));
        // A last line without its newline is not a line.
        assert_eq!(r.next().await.unwrap(), None);
    }

    #[tokio::test]
    async fn buffered_lines_without_reading() {
        // A read buffer of 64 bytes: the third line is not in it yet.
        let input: Vec<u8> = [b"ab\ncd\r\n".as_slice(), &[b'y'; 60], b"\nef\n"].concat();
        let mut r = LineReader::new(input.as_slice(), 10);
        assert_eq!(r.buffered(), None, "nothing read yet");
        assert_eq!(r.next().await.unwrap(), Some(Line::Text("ab".into())));
        assert_eq!(r.buffered(), Some(Line::Text("cd".into())));
        // The long line's start is buffered, its end is not: not a line yet, kept.
        assert_eq!(r.buffered(), None);
        assert_eq!(r.next().await.unwrap(), Some(Line::TooLong));
        assert_eq!(r.buffered(), Some(Line::Text("ef".into())));
        assert_eq!(r.buffered(), None);
        assert_eq!(r.next().await.unwrap(), None);
    }
}
