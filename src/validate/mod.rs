//! Share validation: jobs, sessions, the check pipeline, the duplicate filter, verdicts
//! and batch checking. Knows nothing of sockets or files.

pub mod aux_work;
mod batch;
pub mod check;
pub mod config;
pub mod duplicates;
pub mod job;
pub mod session;
pub mod verdict;

pub use aux_work::{AuxBlockFound, AuxWork};
pub use check::Validator;
pub use config::ValidatorConfig;
pub use duplicates::{Allowance, DuplicateFilter, Remembered};
pub use job::{JobLookup, JobRegistry, PreparedJob};
pub use session::Session;
pub use verdict::{BlockSolution, Outcome, Reason, Verdict};
