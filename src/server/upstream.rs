//! The upstream side: pool addresses (`stratum+tcp://host:port`) and connecting to the
//! first one that answers, in priority order.

use std::fmt;
use std::time::Duration;

use tokio::net::TcpStream;

use crate::error::Error;

/// A pool address: `stratum+tcp://host:port` (`tcp://` and a bare `host:port` are taken
/// too, as miners' firmware does).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct UpstreamUrl {
    /// Host name or address.
    pub host: String,
    /// TCP port.
    pub port: u16,
}

impl UpstreamUrl {
    /// Parses a pool address.
    pub fn parse(url: &str) -> Result<UpstreamUrl, Error> {
        let bad = |reason: &str| Error::Malformed { what: "upstream URL", reason: reason.into() };
        let rest = url
            .strip_prefix("stratum+tcp://")
            .or_else(|| url.strip_prefix("tcp://"))
            .unwrap_or(url);
        if rest.contains("://") {
            return Err(bad("only stratum+tcp:// is supported"));
        }
        let rest = rest.trim_end_matches('/');
        let (host, port) = rest.rsplit_once(':').ok_or_else(|| bad("expected host:port"))?;
        let host = host.trim_start_matches('[').trim_end_matches(']');
        if host.is_empty() {
            return Err(bad("empty host"));
        }
        let port = port.parse::<u16>().ok().filter(|&p| p != 0).ok_or_else(|| bad("bad port"))?;
        Ok(UpstreamUrl { host: host.to_string(), port })
    }
}

impl fmt::Display for UpstreamUrl {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "stratum+tcp://{}:{}", self.host, self.port)
    }
}

/// Connects to the first of `upstreams` (priority order) that accepts within `timeout`;
/// returns the connection and the rank of the pool (0 = the first).
pub async fn connect_first(
    upstreams: &[UpstreamUrl],
    timeout: Duration,
) -> std::io::Result<(TcpStream, usize)> {
    let mut last = std::io::Error::other("no upstream configured");
    for (rank, url) in upstreams.iter().enumerate() {
        match tokio::time::timeout(timeout, TcpStream::connect((url.host.as_str(), url.port))).await
        {
            Ok(Ok(stream)) => {
                let _ = stream.set_nodelay(true);
                return Ok((stream, rank));
            }
            Ok(Err(e)) => last = e,
            Err(_) => last = std::io::Error::new(std::io::ErrorKind::TimedOut, "connect timed out"),
        }
        tracing::warn!(upstream = %url, error = %last, "upstream unreachable");
    }
    Err(last)
}

/// Whether one of `upstreams` accepts a connection within `timeout` (the connection is
/// closed at once): a probe for failing back to a preferred pool.
pub async fn any_reachable(upstreams: &[UpstreamUrl], timeout: Duration) -> bool {
    for url in upstreams {
        let connect = TcpStream::connect((url.host.as_str(), url.port));
        if matches!(tokio::time::timeout(timeout, connect).await, Ok(Ok(_))) {
            return true;
        }
    }
    false
}

#[cfg(test)]
mod tests {
    use super::UpstreamUrl;

    #[test]
    fn urls() {
        let u = UpstreamUrl::parse("stratum+tcp://ltc.pool.example:3333").unwrap();
        assert_eq!((u.host.as_str(), u.port), ("ltc.pool.example", 3333));
        assert_eq!(u.to_string(), "stratum+tcp://ltc.pool.example:3333");
        assert_eq!(UpstreamUrl::parse("127.0.0.1:3333").unwrap().port, 3333);
        assert_eq!(UpstreamUrl::parse("tcp://[::1]:80/").unwrap().host, "::1");
        for bad in ["stratum+ssl://x:1", "x", "x:0", "x:99999", ":3333", "http://x:1"] {
            assert!(UpstreamUrl::parse(bad).is_err(), "{bad}");
        }
    }
}
