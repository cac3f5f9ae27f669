//! One line of a stratum transcript: a request or notification (has a `method`) or a
//! response (has `result`/`error`).

use serde_json::Value;

use crate::error::Error;

/// A decoded transcript line.
#[derive(Clone, Debug, PartialEq)]
pub enum Message {
    /// A request (id not null) or notification (id absent or null).
    Call {
        /// Request id (`Value::Null` for notifications).
        id: Value,
        /// Method name.
        method: String,
        /// Params (`Value::Null` if absent).
        params: Value,
    },
    /// A response to an earlier request.
    Response {
        /// The request id it answers.
        id: Value,
        /// The result.
        result: Value,
        /// The error, `Value::Null` if none.
        error: Value,
    },
}

/// Decodes one JSON line. Blank lines and `#` comments give `Ok(None)`.
pub fn parse_line(line: &str) -> Result<Option<Message>, Error> {
    let trimmed = line.trim();
    if trimmed.is_empty() || trimmed.starts_with('#') {
        return Ok(None);
    }
    let value: Value = serde_json::from_str(trimmed).map_err(|e| Error::Malformed {
        what: "transcript line",
        reason: format!("not JSON: {e}"),
    })?;
    let Value::Object(mut obj) = value else {
        return Err(Error::Malformed {
            what: "transcript line",
            reason: "not a JSON object".into(),
        });
    };
    let id = obj.remove("id").unwrap_or(Value::Null);
    match obj.remove("method") {
        Some(Value::String(method)) => Ok(Some(Message::Call {
            id,
            method,
            params: obj.remove("params").unwrap_or(Value::Null),
        })),
        Some(_) => Err(Error::Malformed {
            what: "transcript line",
            reason: "method must be a string".into(),
        }),
        None if obj.contains_key("result") || obj.contains_key("error") => {
            Ok(Some(Message::Response {
                id,
                result: obj.remove("result").unwrap_or(Value::Null),
                error: obj.remove("error").unwrap_or(Value::Null),
            }))
        }
        None => Err(Error::Malformed {
            what: "transcript line",
            reason: "neither a method call nor a response".into(),
        }),
    }
}
