//! A pool's own validator on the bench's job and shares: the Stratum V2 reference
//! implementation's (SRI) server-side extended channel, `channels_sv2::server::extended::
//! ExtendedChannel::validate_share`, so `sharecheck bench` and `benches/sri.rs` can measure
//! it beside `Validator::check` in the same run. Built only with the `sri` feature.
//!
//! The job is carried over byte for byte: the stratum coinbase halves are SV2's
//! `coinbase_tx_prefix`/`coinbase_tx_suffix`, the branch its `merkle_path`, extranonce1 the
//! channel's extranonce prefix and extranonce2 the share's rollable extranonce. So SRI hashes
//! exactly the headers `check` hashes (`tests/sri_parity.rs` holds the two hashes equal).

use binary_sv2::{Sv2OptionOwned, U256Owned};
use bitcoin::Target;
use channels_sv2::extranonce_manager::{AllocatedExtranoncePrefix, ExtranonceAllocator};
use channels_sv2::server::extended::ExtendedChannel;
use channels_sv2::server::jobs::extended::ExtendedJob;
use channels_sv2::server::share_accounting::{ShareValidationError, ShareValidationResult};
use mining_sv2::{NewExtendedMiningJobOwned, SubmitSharesExtendedOwned};
use template_distribution_sv2::{NewTemplateOwned, SetNewPrevHashOwned};

use super::ShareWorkload;

/// The SV2 job id the workload's job gets.
const JOB_ID: u32 = 1;
/// The channel id (one channel).
const CHANNEL_ID: u32 = 1;

/// Why an SRI channel could not take the workload's job or shares.
#[derive(Debug, thiserror::Error)]
#[error("SRI channel setup: {0}")]
pub struct SriSetupError(String);

fn setup<E: std::fmt::Debug>(what: &'static str) -> impl FnOnce(E) -> SriSetupError {
    move |e| SriSetupError(format!("{what}: {e:?}"))
}

/// What SRI said of one share.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum SriVerdict {
    /// Valid share (or block), with its header hash in internal byte order.
    Accepted([u8; 32]),
    /// The hash does not meet the channel's target.
    AboveTarget,
    /// Any other refusal, with its SV2 error code.
    Refused(&'static str),
}

/// An SRI server extended channel holding the workload's job, and the workload's submits
/// as SV2 `SubmitSharesExtended` messages.
pub struct SriChannel {
    channel: ExtendedChannel,
    job: ExtendedJob,
    tip: SetNewPrevHashOwned,
    /// The same tip with another previous-block hash: switching to it and back empties
    /// the channel's record of seen shares, as the workload's `refresh` empties ours.
    other_tip: SetNewPrevHashOwned,
    shares: Vec<SubmitSharesExtendedOwned>,
    /// The allocator's slots below the one that gives the workload's extranonce1, held
    /// while the channel lives (as a pool holds other channels' slots): each allocation
    /// then takes the next index whatever the allocator's search order.
    _held_prefixes: Vec<AllocatedExtranoncePrefix>,
}

impl SriChannel {
    /// A channel with the workload's job and share target `target_le` (a 256-bit target,
    /// little-endian, as SV2 carries it). The workload's session gives the extranonce1
    /// (2 bytes or more: SRI's allocator puts a one-byte channel index after the rest) and
    /// the extranonce2 size.
    pub fn for_workload(
        workload: &ShareWorkload,
        target_le: [u8; 32],
    ) -> Result<SriChannel, SriSetupError> {
        let job = workload.notify();
        let extranonce1 = workload
            .session
            .extranonce1()
            .ok_or_else(|| SriSetupError("the session has no extranonce1".into()))?
            .to_vec();
        let (upstream, last) = match extranonce1.as_slice() {
            [upstream @ .., last] if !upstream.is_empty() => (upstream.to_vec(), *last),
            _ => return Err(SriSetupError("extranonce1 must be 2 bytes at least".into())),
        };
        let extranonce2_size = u16::try_from(workload.session.extranonce2_size())
            .map_err(setup("extranonce2 size"))?;
        // SRI's allocator writes a one-byte channel index after the upstream prefix: take
        // slots until the index is extranonce1's last byte.
        let total = extranonce1.len() + usize::from(extranonce2_size);
        let total = u8::try_from(total).map_err(setup("extranonce length"))?;
        let mut allocator = ExtranonceAllocator::from_upstream_prefix(upstream, vec![], total, 256)
            .map_err(setup("extranonce allocator"))?;
        let mut held = Vec::with_capacity(usize::from(last));
        let prefix = loop {
            let prefix = allocator
                .allocate_extended(usize::from(extranonce2_size))
                .map_err(setup("extranonce prefix"))?;
            if prefix.as_bytes() == extranonce1.as_slice() {
                break prefix;
            }
            // 256 slots: the allocator refuses (CapacityExhausted) before this loops on.
            held.push(prefix);
        };
        let target = Target::from_le_bytes(target_le);
        let mut channel = ExtendedChannel::new_for_pool(
            CHANNEL_ID,
            "bench".into(),
            prefix,
            target,
            1e15,
            false,
            extranonce2_size,
            100,
            // Only sizes the record of seen shares (to its cap, 2^20): far above a pass.
            1e6,
            "sharecheck".into(),
            None,
        )
        .map_err(setup("channel"))?;
        channel.set_target(target).map_err(setup("target"))?;

        let tip = SetNewPrevHashOwned {
            template_id: 1,
            prev_hash: U256Owned::from(job.prevhash.0),
            header_timestamp: job.ntime,
            n_bits: job.nbits,
            target: U256Owned::from([0xff; 32]),
        };
        let mut other_tip = tip.clone();
        let mut other_prev = job.prevhash.0;
        other_prev[0] ^= 1;
        other_tip.prev_hash = U256Owned::from(other_prev);

        let template = NewTemplateOwned {
            template_id: 1,
            future_template: false,
            version: job.version,
            coinbase_tx_version: 1,
            coinbase_prefix: Vec::new().try_into().map_err(setup("coinbase prefix"))?,
            coinbase_tx_input_sequence: u32::MAX,
            coinbase_tx_value_remaining: 0,
            coinbase_tx_outputs_count: 0,
            coinbase_tx_outputs: Vec::new().try_into().map_err(setup("coinbase outputs"))?,
            coinbase_tx_locktime: 0,
            merkle_path: Vec::new().try_into().map_err(setup("template merkle path"))?,
        };
        let merkle_path: Vec<U256Owned> =
            job.merkle_branch.iter().map(|h| U256Owned::from(*h)).collect();
        let message = NewExtendedMiningJobOwned {
            channel_id: CHANNEL_ID,
            job_id: JOB_ID,
            min_ntime: Sv2OptionOwned::new(Some(job.ntime)),
            version: job.version,
            version_rolling_allowed: false,
            merkle_path: merkle_path.try_into().map_err(setup("merkle path"))?,
            coinbase_tx_prefix: job.coinb1.clone().try_into().map_err(setup("coinb1"))?,
            coinbase_tx_suffix: job.coinb2.clone().try_into().map_err(setup("coinb2"))?,
        };
        let job_for_channel = ExtendedJob::from_template(
            template,
            Vec::new(),
            Vec::new(),
            job.coinb1.clone(),
            job.coinb2.clone(),
            message,
        )
        .map_err(setup("job"))?;

        let shares = workload
            .submits
            .iter()
            .enumerate()
            .map(|(i, submit)| {
                let word = |what: &'static str, hex: &str| {
                    u32::from_str_radix(hex, 16).map_err(setup(what))
                };
                let extranonce = hex::decode(&submit.extranonce2).map_err(setup("extranonce2"))?;
                Ok(SubmitSharesExtendedOwned {
                    channel_id: CHANNEL_ID,
                    sequence_number: i as u32,
                    job_id: JOB_ID,
                    nonce: word("nonce", &submit.nonce)?,
                    ntime: word("ntime", &submit.ntime)?,
                    version: job.version,
                    extranonce: extranonce.try_into().map_err(setup("extranonce2"))?,
                })
            })
            .collect::<Result<Vec<_>, SriSetupError>>()?;

        let mut sri = SriChannel {
            channel,
            job: job_for_channel,
            tip,
            other_tip,
            shares,
            _held_prefixes: held,
        };
        sri.refresh()?;
        Ok(sri)
    }

    /// Makes every share fresh again: a new tip and back (which empties the channel's
    /// record of seen shares), then the job again.
    pub fn refresh(&mut self) -> Result<(), SriSetupError> {
        self.channel.on_set_new_prev_hash(self.other_tip.clone()).map_err(setup("tip"))?;
        self.channel.on_set_new_prev_hash(self.tip.clone()).map_err(setup("tip"))?;
        self.channel.on_group_channel_job(self.job.clone()).map_err(setup("job"))
    }

    /// The number of shares (the workload's submits, in order).
    pub fn len(&self) -> usize {
        self.shares.len()
    }

    /// Whether there are no shares.
    pub fn is_empty(&self) -> bool {
        self.shares.is_empty()
    }

    /// Validates share `index` (the workload's submit of that index), as a pool's SV2
    /// server does on `SubmitSharesExtended`: the message is cloned, as a decoded one is
    /// handed over by value.
    pub fn validate(&mut self, index: usize) -> SriVerdict {
        let Some(share) = self.shares.get(index) else {
            return SriVerdict::Refused("no such share");
        };
        match self.channel.validate_share(share.clone()) {
            Ok(ShareValidationResult::Valid(hash))
            | Ok(ShareValidationResult::BlockFound(hash, ..)) => {
                SriVerdict::Accepted(*hash.as_ref())
            }
            Err(ShareValidationError::DoesNotMeetTarget(_)) => SriVerdict::AboveTarget,
            Err(e) => SriVerdict::Refused(refusal_name(&e)),
        }
    }

    /// Validates every share once, in order; returns how many were accepted.
    pub fn validate_all(&mut self) -> usize {
        (0..self.shares.len())
            .filter(|&i| matches!(self.validate(i), SriVerdict::Accepted(_)))
            .count()
    }
}

/// The SV2 error code of a refusal (a name where the variant carries none).
fn refusal_name(e: &ShareValidationError) -> &'static str {
    match e {
        ShareValidationError::Invalid(code)
        | ShareValidationError::Stale(code)
        | ShareValidationError::InvalidJobId(code)
        | ShareValidationError::DoesNotMeetTarget(code)
        | ShareValidationError::VersionRollingNotAllowed(code)
        | ShareValidationError::DuplicateShare(code)
        | ShareValidationError::BadExtranonceSize(code) => code,
        ShareValidationError::InvalidCoinbase => "invalid-coinbase",
        ShareValidationError::NoChainTip => "no-chain-tip",
        ShareValidationError::SeenSharesBudgetExhausted => "seen-shares-budget-exhausted",
    }
}
