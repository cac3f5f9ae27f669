//! Validator configuration, with the defaults a proxy would expect.

/// Limits and policy of a [`super::Validator`].
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ValidatorConfig {
    /// Seconds a share's ntime may run ahead of its job's ntime (default 7000).
    pub ntime_window: u32,
    /// Live (non-stale) jobs kept; notifying more retires the oldest (default 32).
    pub max_live_jobs: usize,
    /// Ids of retired jobs remembered so their shares are answered `stale`, not
    /// `job_not_found` (default 256).
    pub max_stale_ids: usize,
    /// Largest `coinb1 ‖ coinb2` accepted from a notify, in bytes (default 100 000: a
    /// whole block's coinbase limit is far below).
    pub max_coinbase_bytes: usize,
    /// Longest merkle branch accepted (default 32: 2^32 transactions).
    pub max_branch_len: usize,
    /// Distinct shares remembered per job; a job that reaches it is retired and its
    /// further shares are `stale` (default 1 048 576).
    pub max_shares_per_job: usize,
    /// Shares each job's duplicate filter has room for from the start (default 2048,
    /// about 132 KiB a job): until a job collects more, remembering a share allocates
    /// nothing; past it the filter grows by doubling.
    pub reserve_shares_per_job: usize,
}

impl Default for ValidatorConfig {
    fn default() -> Self {
        ValidatorConfig {
            ntime_window: 7000,
            max_live_jobs: 32,
            max_stale_ids: 256,
            max_coinbase_bytes: 100_000,
            max_branch_len: 32,
            max_shares_per_job: 1 << 20,
            reserve_shares_per_job: 2048,
        }
    }
}
