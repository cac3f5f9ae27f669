//! Hashrate from shares, with an exact confidence interval, and the test bench's verdict.
//!
//! A miner hashing at H hashes per second finds shares at difficulty d as a Poisson
//! process of rate H / (d · hashes per difficulty-1 share). Seeing k shares in t seconds,
//! the exact (Garwood) 95% interval for the expected count is
//! `[χ²(0.025; 2k) / 2, χ²(0.975; 2k + 2) / 2]`; for integer k those quantiles are where the
//! Poisson distribution's tails reach 2.5%, which is how they are computed here (no normal
//! approximation: a bench sees a few dozen shares, not thousands). The hashrate interval
//! is the count interval times the hashes per share over t. Shares at different
//! difficulties (vardiff) count at their mean difficulty.

/// The bench's judgement of one machine.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Verdict {
    /// The expected hashrate is within (or below) what the shares allow, and the
    /// hardware-error ratio is under the limit.
    Pass,
    /// The expected hashrate is above the interval, or too many hardware errors.
    Fail,
    /// Not enough shares yet to tell.
    Inconclusive,
}

impl Verdict {
    /// The name in reports: `pass`, `fail`, `inconclusive`.
    pub fn as_str(self) -> &'static str {
        match self {
            Verdict::Pass => "pass",
            Verdict::Fail => "fail",
            Verdict::Inconclusive => "inconclusive",
        }
    }
}

/// The exact two-sided interval for a Poisson mean after observing `k` events, at
/// confidence `1 − alpha` (each tail `alpha / 2`).
pub fn poisson_interval(k: u64, alpha: f64) -> (f64, f64) {
    let tail = alpha / 2.0;
    // Lower: the mean at which seeing k or more has probability `tail` (0 for k = 0).
    let lower =
        if k == 0 { 0.0 } else { solve_monotonic(|m| 1.0 - poisson_cdf(k - 1, m), tail, true) };
    // Upper: the mean at which seeing k or fewer has probability `tail`.
    let upper = solve_monotonic(|m| poisson_cdf(k, m), tail, false);
    (lower, upper)
}

/// P[X ≤ k] for X ~ Poisson(mean), summed in log space relative to the largest term
/// (stable for large k and mean).
pub fn poisson_cdf(k: u64, mean: f64) -> f64 {
    if mean <= 0.0 {
        return 1.0;
    }
    // ln of the i-th term, e^-m m^i / i!, built up term by term.
    let ln_mean = mean.ln();
    let mut log_terms = Vec::with_capacity(k as usize + 1);
    let mut log_term = -mean;
    for i in 0..=k {
        if i > 0 {
            log_term += ln_mean - (i as f64).ln();
        }
        log_terms.push(log_term);
    }
    let peak = log_terms.iter().copied().fold(f64::NEG_INFINITY, f64::max);
    let sum: f64 = log_terms.iter().map(|t| (t - peak).exp()).sum();
    (peak + sum.ln()).exp().min(1.0)
}

/// The mean m at which `f(m) = target`, for `f` monotonic in m (`increasing`: rising
/// from 0; else falling from 1), by bisection to relative precision 1e-12.
fn solve_monotonic(f: impl Fn(f64) -> f64, target: f64, increasing: bool) -> f64 {
    let below = |m: f64| if increasing { f(m) < target } else { f(m) > target };
    let (mut lo, mut hi) = (0.0_f64, 1.0_f64);
    while below(hi) {
        hi *= 2.0;
    }
    for _ in 0..200 {
        let mid = 0.5 * (lo + hi);
        if below(mid) {
            lo = mid;
        } else {
            hi = mid;
        }
        if hi - lo <= 1e-12 * hi {
            break;
        }
    }
    0.5 * (lo + hi)
}

/// Confidence of the hashrate interval.
pub const CONFIDENCE: f64 = 0.95;
/// An interval wider than this (upper over lower) is not enough to judge a machine: about
/// 100 shares, 5 minutes at 20 shares a minute.
pub const DECISIVE_WIDTH: f64 = 1.5;
/// Shares hashed before the hardware-error ratio alone can fail a machine.
pub const MIN_SHARES_FOR_HW_ERRORS: u64 = 20;

/// A hashrate estimate from the shares of one machine.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Estimate {
    /// Accepted shares.
    pub shares: u64,
    /// Seconds observed.
    pub seconds: f64,
    /// Hashes per second, the point estimate (accepted difficulty over time).
    pub hashrate: f64,
    /// The exact 95% interval of the hashrate.
    pub ci95: (f64, f64),
}

impl Estimate {
    /// From `shares` accepted shares whose difficulties sum to `difficulty_sum`, seen over
    /// `seconds`, with `hashes_per_diff1` hashes per difficulty-1 share of the algorithm.
    pub fn new(shares: u64, difficulty_sum: f64, seconds: f64, hashes_per_diff1: f64) -> Estimate {
        let seconds = seconds.max(1e-9);
        let hashrate = difficulty_sum * hashes_per_diff1 / seconds;
        // Each share counts at the mean difficulty (exact when the difficulty is fixed).
        let hashes_per_share =
            if shares > 0 { difficulty_sum / shares as f64 * hashes_per_diff1 } else { 0.0 };
        let (lo, hi) = poisson_interval(shares, 1.0 - CONFIDENCE);
        Estimate {
            shares,
            seconds,
            hashrate,
            ci95: (lo * hashes_per_share / seconds, hi * hashes_per_share / seconds),
        }
    }

    /// Whether the interval is narrow enough to judge by.
    pub fn is_decisive(&self) -> bool {
        self.shares > 0 && self.ci95.1 <= DECISIVE_WIDTH * self.ci95.0
    }

    /// Shares still needed before the interval is decisive.
    pub fn shares_to_decide(&self) -> u64 {
        (self.shares..)
            .take(100_000)
            .find(|&k| {
                let (lo, hi) = poisson_interval(k, 1.0 - CONFIDENCE);
                k > 0 && hi <= DECISIVE_WIDTH * lo
            })
            .map_or(0, |k| k - self.shares)
    }
}

/// Pass, fail or inconclusive, and why (for the report): `expected` is the hashrate the
/// machine should have (H/s), `hw_error_ratio` its hardware-error ratio over `hashed`
/// shares, `max_hw_error` the limit.
pub fn judge(
    estimate: &Estimate,
    expected: Option<f64>,
    hw_error_ratio: Option<f64>,
    hashed: u64,
    max_hw_error: f64,
) -> (Verdict, String) {
    if let Some(ratio) = hw_error_ratio
        && hashed >= MIN_SHARES_FOR_HW_ERRORS
        && ratio > max_hw_error
    {
        let why = format!(
            "hardware errors {:.2}% of {hashed} shares, over the {:.2}% limit",
            ratio * 100.0,
            max_hw_error * 100.0
        );
        return (Verdict::Fail, why);
    }
    let (lo, hi) = estimate.ci95;
    if let Some(expected) = expected
        && estimate.shares > 0
        && expected > hi
    {
        let why =
            format!("expected {} above the 95% interval [{}, {}]", si(expected), si(lo), si(hi));
        return (Verdict::Fail, why);
    }
    if !estimate.is_decisive() || hashed < MIN_SHARES_FOR_HW_ERRORS {
        let more = estimate.shares_to_decide().max(MIN_SHARES_FOR_HW_ERRORS.saturating_sub(hashed));
        let rate = estimate.shares as f64 / estimate.seconds; // shares per second so far
        let why = if rate > 0.0 {
            format!(
                "{more} more shares needed, about {:.1} more minutes",
                more as f64 / rate / 60.0
            )
        } else {
            "no share yet".to_string()
        };
        return (Verdict::Inconclusive, why);
    }
    let why = match expected {
        Some(expected) => format!(
            "expected {} within or below the 95% interval [{}, {}]",
            si(expected),
            si(lo),
            si(hi)
        ),
        None => format!("95% interval [{}, {}], hardware errors within the limit", si(lo), si(hi)),
    };
    (Verdict::Pass, why)
}

/// A hashrate with an SI prefix: `504.0 MH/s`.
pub fn si(rate: f64) -> String {
    const PREFIXES: [&str; 7] = ["", "k", "M", "G", "T", "P", "E"];
    let mut value = rate;
    let mut prefix = 0;
    while value.abs() >= 1000.0 && prefix < PREFIXES.len() - 1 {
        value /= 1000.0;
        prefix += 1;
    }
    format!("{value:.1} {}H/s", PREFIXES[prefix])
}

/// A hashrate as an operator writes it: a number with an optional SI prefix (`k`, `M`,
/// `G`, `T`, `P`, `E`) and an optional `H/s` or `H`: `504M`, `95T`, `1.5 GH/s`, `2e9`.
pub fn parse_rate(text: &str) -> Result<f64, String> {
    let t = text.trim();
    let t = t
        .strip_suffix("H/s")
        .or_else(|| t.strip_suffix("h/s"))
        .or_else(|| t.strip_suffix('H'))
        .unwrap_or(t)
        .trim_end();
    let (number, scale) = match t.chars().last() {
        Some('k' | 'K') => (&t[..t.len() - 1], 1e3),
        Some('M') => (&t[..t.len() - 1], 1e6),
        Some('G') => (&t[..t.len() - 1], 1e9),
        Some('T') => (&t[..t.len() - 1], 1e12),
        Some('P') => (&t[..t.len() - 1], 1e15),
        Some('E') => (&t[..t.len() - 1], 1e18),
        _ => (t, 1.0),
    };
    match number.trim().parse::<f64>() {
        Ok(v) if v.is_finite() && v > 0.0 => Ok(v * scale),
        _ => Err(format!("not a hashrate: {text:?} (examples: 504M, 95T, 1.5 GH/s)")),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Exact (Garwood) 95% limits for a Poisson count, as published in the standard
    /// tables (e.g. Documenta Geigy; Ulm, Am. J. Epidemiol. 1990), 4 significant digits.
    const GARWOOD_95: [(u64, f64, f64); 7] = [
        (0, 0.0, 3.689),
        (1, 0.02532, 5.572),
        (2, 0.2422, 7.225),
        (3, 0.6187, 8.767),
        (5, 1.623, 11.67),
        (10, 4.795, 18.39),
        (20, 12.22, 30.89),
    ];

    #[test]
    fn the_interval_matches_the_published_exact_limits() {
        for (k, lo, hi) in GARWOOD_95 {
            let (l, h) = poisson_interval(k, 0.05);
            assert!((l - lo).abs() <= 5e-4 * lo.max(1.0), "k={k}: lower {l} vs {lo}");
            assert!((h - hi).abs() <= 5e-4 * hi, "k={k}: upper {h} vs {hi}");
        }
    }

    #[test]
    fn the_cdf_is_exact_where_it_can_be_summed_by_hand() {
        // P[X ≤ 2] for mean 1: e^-1 (1 + 1 + 1/2).
        assert!((poisson_cdf(2, 1.0) - 2.5 * (-1.0f64).exp()).abs() < 1e-15);
        // Far in the tail and at large counts it stays a probability.
        assert!(poisson_cdf(0, 800.0) >= 0.0);
        assert!((poisson_cdf(10_000, 10_000.0) - 0.5).abs() < 0.01);
    }

    #[test]
    fn the_interval_covers_the_true_rate_in_95_percent_of_simulated_runs() {
        // A machine at 500 MH/s, shares at difficulty 512 (scrypt-like 2^16 hashes per
        // difficulty 1): arrivals simulated as exponential gaps from a seeded generator.
        let (rate, difficulty, hpd1, seconds) = (500e6, 512.0, 65536.0, 300.0);
        let share_rate = rate / (difficulty * hpd1);
        let mut state = 0x9e37_79b9_7f4a_7c15_u64;
        let mut uniform = || {
            state ^= state << 13;
            state ^= state >> 7;
            state ^= state << 17;
            (state >> 11) as f64 / (1u64 << 53) as f64
        };
        let runs = 2000;
        let mut covered = 0;
        let mut intervals = std::collections::HashMap::new();
        for _ in 0..runs {
            let (mut t, mut k) = (0.0, 0u64);
            loop {
                t += -(1.0 - uniform()).ln() / share_rate;
                if t > seconds {
                    break;
                }
                k += 1;
            }
            // The interval depends on k alone: computed once per count.
            let (lo, hi) = *intervals
                .entry(k)
                .or_insert_with(|| Estimate::new(k, k as f64 * difficulty, seconds, hpd1).ci95);
            covered += usize::from(lo <= rate && rate <= hi);
        }
        // Exact intervals are conservative: at least 95% (allowing for the simulation's own
        // spread, about 0.5% over 2000 runs).
        assert!(covered as f64 / runs as f64 >= 0.94, "{covered} of {runs}");
    }

    #[test]
    fn rates_are_read_with_si_prefixes() {
        assert_eq!(parse_rate("504M"), Ok(504e6));
        assert_eq!(parse_rate("95T"), Ok(95e12));
        assert_eq!(parse_rate("1.5 GH/s"), Ok(1.5e9));
        assert_eq!(parse_rate("2e9"), Ok(2e9));
        assert!(parse_rate("fast").is_err());
        assert!(parse_rate("-5M").is_err());
        assert_eq!(si(504e6), "504.0 MH/s");
    }

    #[test]
    fn verdicts() {
        let hpd1 = 65536.0; // scrypt: 2^32/65535 ≈ 65537; a round number suffices here
        // 400 shares at difficulty 1024 over 600 s: about 44.7 MH/s.
        let e = Estimate::new(400, 400.0 * 1024.0, 600.0, hpd1);
        assert!(e.is_decisive());
        assert_eq!(judge(&e, Some(45e6), Some(0.001), 400, 0.01).0, Verdict::Pass);
        assert_eq!(judge(&e, Some(30e6), Some(0.001), 400, 0.01).0, Verdict::Pass);
        assert_eq!(judge(&e, Some(60e6), Some(0.001), 400, 0.01).0, Verdict::Fail);
        assert_eq!(judge(&e, Some(45e6), Some(0.05), 400, 0.01).0, Verdict::Fail);
        // 5 shares: too few, and it says how many more.
        let few = Estimate::new(5, 5.0 * 1024.0, 15.0, hpd1);
        let (verdict, why) = judge(&few, Some(22e6), Some(0.0), 5, 0.01);
        assert_eq!(verdict, Verdict::Inconclusive, "{why}");
        assert!(why.contains("more shares"), "{why}");
        assert!(few.shares_to_decide() > 50);
    }
}
