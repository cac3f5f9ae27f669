//! The miner's side of a connection, shared by every mode: writing lines (bounded in
//! time), recording the transcript, answering requests in the order they came per id,
//! counting bad lines, and sending the miner back to the proxy (`client.reconnect`).

use std::collections::{HashMap, VecDeque};
use std::net::SocketAddr;
use std::time::Duration;

use serde_json::{Value, json};
use tokio::io::AsyncWriteExt;
use tokio::net::tcp::{OwnedReadHalf, OwnedWriteHalf};

use super::lines::LineReader;
use super::record::Recorder;

/// Longest line a miner may send (bytes): a real one is a few hundred.
pub const MAX_MINER_LINE: usize = 16 * 1024;
/// Longest line an upstream may send: a notify with a large coinbase and branch.
pub const MAX_UPSTREAM_LINE: usize = 1024 * 1024;
/// Bad lines a miner may send before it is disconnected.
pub const MAX_BAD_LINES: u32 = 10;
/// Requests of one miner awaiting the pool's answer at most; past it, further requests
/// are answered with an error at once (a submit with its local verdict).
pub const MAX_AWAITED: usize = 1024;
/// Bytes a corked link holds before it writes them anyway.
const CORKED_MAX: usize = 64 * 1024;
/// How long a closed miner connection waits for the miner to close its side.
const LINGER: Duration = Duration::from_secs(1);
/// How long one write to a miner or the pool may take before the connection is dropped.
pub(crate) const WRITE_TIMEOUT: Duration = Duration::from_secs(10);
/// The label under which shares of a miner that has not authorized are counted.
pub(crate) const UNAUTHORIZED: &str = "_unauthorized";

/// Why a connection ended (for the log).
#[derive(Debug)]
pub(crate) enum End {
    MinerClosed,
    UpstreamClosed,
    Abuse,
    NoLogin,
    Idle,
    Drained(Drain),
    Io(std::io::Error),
}

impl std::fmt::Display for End {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            End::MinerClosed => f.write_str("miner closed the connection"),
            End::UpstreamClosed => f.write_str("upstream closed the connection"),
            End::Abuse => write!(f, "more than {MAX_BAD_LINES} bad lines"),
            End::NoLogin => f.write_str("no subscribe and authorize in time"),
            End::Idle => f.write_str("idle for too long"),
            End::Drained(Drain::Shutdown) => f.write_str("the proxy is shutting down"),
            End::Drained(Drain::Reconnect) => f.write_str("miner sent to reconnect"),
            End::Io(e) => write!(f, "i/o error: {e}"),
        }
    }
}

impl From<std::io::Error> for End {
    fn from(e: std::io::Error) -> End {
        End::Io(e)
    }
}

/// Why a connection stops and closes once the shares it has sent are answered.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Drain {
    /// The proxy is stopping.
    Shutdown,
    /// The miner was sent `client.reconnect` (another pool, or the pool asked).
    Reconnect,
}

/// An answer owed to the miner, in the order of its requests with the same id.
enum Owed {
    /// Awaiting the answer to the request this token stands for.
    Pending(u64),
    /// Ready, held until the earlier answers of the same id are sent.
    Ready(Value),
}

/// Writing to one miner.
pub(crate) struct MinerLink {
    write: OwnedWriteHalf,
    /// The proxy's own address as this miner reached it: what `client.reconnect` names.
    proxy_addr: Option<SocketAddr>,
    /// The transcript of the connection (`--record`).
    recorder: Option<Recorder>,
    /// Answers owed per request id (its JSON text), oldest first: a miner that reuses ids
    /// (cgminer after a restart, firmware sending id 4 for every submit) pairs answers by
    /// order, so an answer never overtakes an earlier one of its id.
    owed: HashMap<String, VecDeque<Owed>>,
    /// Ready answers held in `owed`.
    held: usize,
    bad_lines: u32,
    /// Lines sent while corked, written together by [`MinerLink::flush`].
    out: Vec<u8>,
    corked: bool,
}

impl MinerLink {
    pub(crate) fn new(
        write: OwnedWriteHalf,
        proxy_addr: Option<SocketAddr>,
        recorder: Option<Recorder>,
    ) -> MinerLink {
        MinerLink {
            write,
            proxy_addr,
            recorder,
            owed: HashMap::new(),
            held: 0,
            bad_lines: 0,
            out: Vec::new(),
            corked: false,
        }
    }

    /// From now on lines are gathered and written by [`MinerLink::flush`] (or once
    /// [`CORKED_MAX`] bytes wait): the answers to every share a miner sent in one go
    /// leave in one write, not one system call each.
    pub(crate) fn cork(&mut self) {
        self.corked = true;
    }

    /// Writes what was gathered while corked.
    pub(crate) async fn flush(&mut self) -> Result<(), End> {
        if self.out.is_empty() {
            return Ok(());
        }
        // Not kept: an idle connection holds no buffer.
        let out = std::mem::take(&mut self.out);
        write_all(&mut self.write, &out).await
    }

    /// Records a line the miner sent.
    pub(crate) fn record_received(&mut self, line: &str) {
        if let Some(r) = &mut self.recorder {
            r.line(line);
        }
    }

    /// Sends a message to the miner (and records it).
    pub(crate) async fn send(&mut self, message: &Value) -> Result<(), End> {
        self.send_line(&message.to_string()).await
    }

    /// Sends a line to the miner (and records it).
    pub(crate) async fn send_line(&mut self, line: &str) -> Result<(), End> {
        self.record_received(line);
        if !self.corked {
            return send_line(&mut self.write, line).await;
        }
        self.out.extend_from_slice(line.as_bytes());
        self.out.push(b'\n');
        if self.out.len() >= CORKED_MAX {
            return self.flush().await;
        }
        Ok(())
    }

    /// Notes that the answer to the request `miner_id` will come later, as `token`.
    pub(crate) fn owe(&mut self, miner_id: &Value, token: u64) {
        if !miner_id.is_null() {
            self.owed.entry(miner_id.to_string()).or_default().push_back(Owed::Pending(token));
        }
    }

    /// Answers a request now, unless an earlier request with the same id still awaits its
    /// answer (then right after it).
    pub(crate) async fn reply(&mut self, miner_id: &Value, reply: Value) -> Result<(), End> {
        if !miner_id.is_null()
            && self.held < MAX_AWAITED
            && let Some(queue) = self.owed.get_mut(&miner_id.to_string())
        {
            queue.push_back(Owed::Ready(reply));
            self.held += 1;
            return Ok(());
        }
        self.send(&reply).await
    }

    /// The answer owed as `token`: sent with every answer of the same id it was holding
    /// back.
    pub(crate) async fn settle(
        &mut self,
        miner_id: &Value,
        token: u64,
        reply: Value,
    ) -> Result<(), End> {
        let key = miner_id.to_string();
        let slot = self
            .owed
            .get_mut(&key)
            .and_then(|q| q.iter_mut().find(|o| matches!(o, Owed::Pending(t) if *t == token)));
        let Some(slot) = slot else {
            return self.send(&reply).await;
        };
        *slot = Owed::Ready(reply);
        self.held += 1;
        loop {
            let Some(queue) = self.owed.get_mut(&key) else { return Ok(()) };
            if !matches!(queue.front(), Some(Owed::Ready(_))) {
                return Ok(());
            }
            if let Some(Owed::Ready(ready)) = queue.pop_front() {
                if queue.is_empty() {
                    self.owed.remove(&key);
                }
                self.held -= 1;
                self.send(&ready).await?;
            }
        }
    }

    /// Answers a line that is not a stratum message; too many of them end the connection.
    pub(crate) async fn bad_line(&mut self, why: &str) -> Result<(), End> {
        self.bad_lines += 1;
        let error = json!([20, format!("malformed: {why}"), null]);
        self.send(&json!({"id": null, "result": null, "error": error})).await?;
        if self.bad_lines > MAX_BAD_LINES {
            return Err(End::Abuse);
        }
        Ok(())
    }

    /// Tells the miner to connect again, to this proxy. cgminer and bmminer read the host
    /// and the port as strings (and accept only a host in the domain they reached): the
    /// proxy's own address as the miner reached it.
    pub(crate) async fn send_reconnect(&mut self) -> Result<(), End> {
        let Some(addr) = self.proxy_addr else { return Ok(()) };
        let host = addr.ip().to_canonical().to_string();
        let params = json!([host, addr.port().to_string(), 0]);
        self.send(&json!({"id": null, "method": "client.reconnect", "params": params})).await
    }

    /// Closes the connection once what was written is sent, then reads and drops what the
    /// miner still sends until it closes too, for at most [`LINGER`]: a socket closed with
    /// unread bytes is reset, and a reset can destroy answers the miner has not read yet.
    pub(crate) async fn close(mut self, lines: &mut LineReader<OwnedReadHalf>) {
        if self.flush().await.is_err() {
            return;
        }
        let _ = tokio::time::timeout(WRITE_TIMEOUT, self.write.shutdown()).await;
        let _ =
            tokio::time::timeout(LINGER, async { while let Ok(Some(_)) = lines.next().await {} })
                .await;
    }
}

/// A request answered with a stratum error.
pub(crate) fn error_reply(id: &Value, code: i32, message: &str) -> Value {
    json!({"id": id, "result": null, "error": [code, message, null]})
}

/// Writes one line; a peer that does not take it within [`WRITE_TIMEOUT`] is dropped, so
/// the connection's timers keep running.
pub(crate) async fn send_line(to: &mut OwnedWriteHalf, line: &str) -> Result<(), End> {
    let mut bytes = Vec::with_capacity(line.len() + 1);
    bytes.extend_from_slice(line.as_bytes());
    bytes.push(b'\n');
    write_all(to, &bytes).await
}

/// Writes `bytes`, or fails after the write timeout (a peer that does not read).
pub(crate) async fn write_all(to: &mut OwnedWriteHalf, bytes: &[u8]) -> Result<(), End> {
    match tokio::time::timeout(WRITE_TIMEOUT, to.write_all(bytes)).await {
        Ok(result) => Ok(result?),
        Err(_) => {
            Err(End::Io(std::io::Error::new(std::io::ErrorKind::TimedOut, "write timed out")))
        }
    }
}
