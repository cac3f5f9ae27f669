//! Stratum V1 wire types a proxy sees, and their hex and byte-order rules. Lenient where
//! pools differ harmlessly (integer or float difficulty, extra fields or params), strict
//! where it matters (hex, lengths). Knows nothing of validation policy.

pub mod messages;
pub mod transcript;
pub mod wire;

pub use messages::{ConfigureResult, Notify, SetExtranonce, Submit, SubscribeResult};
pub use transcript::{Message, parse_line};
