//! Checking many submissions at once: hashing fans out over cores with rayon, the
//! duplicate filter is applied in input order, so the verdicts equal sequential checks.

use rayon::prelude::*;

use super::check::{Evaluated, Validator};
use super::session::Session;
use super::verdict::Verdict;
use crate::stratum::Submit;

impl Validator {
    /// Checks `shares` (each with its connection) and returns one verdict per share, in
    /// order: exactly what calling [`Validator::check`] on each in turn returns.
    pub fn check_batch(&self, shares: &[(&Session, &Submit)]) -> Vec<Verdict> {
        let evaluated: Vec<Evaluated> =
            shares.par_iter().map(|(session, submit)| self.evaluate(session, submit)).collect();
        evaluated.into_iter().map(|e| self.commit(e)).collect()
    }
}
