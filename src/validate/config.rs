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
    /// Distinct shares remembered per job (default 1 048 576): once a job's filter holds
    /// that many, its further shares are `stale` (not remembered, so not acceptable);
    /// blocks are always accepted. Bounds a job's memory.
    pub max_shares_per_job: usize,
    /// Distinct shares one connection may have remembered per job (default 16 384): past
    /// it, that connection's further shares of the job are `stale`, so a miner flooding
    /// at a very low difficulty exhausts its own allowance, not the job for everyone.
    /// Blocks are always accepted.
    pub max_shares_per_connection: usize,
    /// Retired jobs whose duplicate filters are kept (default 8), so the identical job
    /// notified again after it was retired still knows the shares it has taken.
    pub retired_jobs_kept: usize,
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
            max_shares_per_connection: 1 << 14,
            retired_jobs_kept: 8,
            reserve_shares_per_job: 2048,
        }
    }
}
