//! Hashrate from shares, with an exact confidence interval, and the test bench's verdict.
//!
//! A miner hashing at H hashes per second finds shares at difficulty d as a Poisson
//! process of rate H / (d · hashes per difficulty-1 share). Seeing k shares in t seconds,
//! the exact (Garwood) 95% interval for the expected count is
//! `[χ²(0.025; 2k) / 2, χ²(0.975; 2k + 2) / 2]`; for integer k those quantiles are where the
//! Poisson distribution's tails reach 2.5%, which is how they are computed here (no normal
//! approximation: a bench sees a few dozen shares, not thousands). The hashrate interval
//! is the count interval over the exposure `E = Σ tⱼ / (dⱼ · hashes per difficulty-1
//! share)`, summed over the spells at each difficulty (with one difficulty, `t / (d · h₁)`):
//! exact when the difficulty changes in steps, as under vardiff.

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

/// The exact (Clopper–Pearson) two-sided interval for a proportion after `x` successes in
/// `n` trials, at confidence `1 − alpha`, from the binomial tails.
pub fn binomial_interval(x: u64, n: u64, alpha: f64) -> (f64, f64) {
    let tail = alpha / 2.0;
    if n == 0 {
        return (0.0, 1.0);
    }
    let solve = |f: &dyn Fn(f64) -> f64, rising: bool| {
        let (mut lo, mut hi) = (0.0_f64, 1.0_f64);
        for _ in 0..100 {
            let mid = 0.5 * (lo + hi);
            if (f(mid) < tail) == rising {
                lo = mid;
            } else {
                hi = mid;
            }
        }
        0.5 * (lo + hi)
    };
    // Lower: P[X ≥ x] = tail (rises with p); upper: P[X ≤ x] = tail (falls with p).
    let lower = if x == 0 { 0.0 } else { solve(&|p| 1.0 - binomial_cdf(x - 1, n, p), true) };
    let upper = if x >= n { 1.0 } else { solve(&|p| binomial_cdf(x, n, p), false) };
    (lower, upper)
}

/// P[X ≤ x] for X ~ Binomial(n, p), summed in log space relative to the largest term.
pub fn binomial_cdf(x: u64, n: u64, p: f64) -> f64 {
    if p <= 0.0 {
        return 1.0;
    }
    if p >= 1.0 {
        return if x >= n { 1.0 } else { 0.0 };
    }
    let (ln_p, ln_q) = (p.ln(), (1.0 - p).ln());
    // ln C(n, i) built up term by term.
    let mut ln_choose = 0.0;
    let mut log_terms = Vec::with_capacity(x.min(n) as usize + 1);
    for i in 0..=x.min(n) {
        if i > 0 {
            ln_choose += ((n - i + 1) as f64).ln() - (i as f64).ln();
        }
        log_terms.push(ln_choose + i as f64 * ln_p + (n - i) as f64 * ln_q);
    }
    let peak = log_terms.iter().copied().fold(f64::NEG_INFINITY, f64::max);
    let sum: f64 = log_terms.iter().map(|t| (t - peak).exp()).sum();
    (peak + sum.ln()).exp().min(1.0)
}

/// Confidence of the hashrate interval.
pub const CONFIDENCE: f64 = 0.95;
/// An interval wider than this (upper over lower) is not enough to judge a machine: about
/// 100 shares, 5 minutes at 20 shares a minute.
pub const DECISIVE_WIDTH: f64 = 1.5;
/// Shares hashed before the hardware-error ratio alone can fail a machine.
pub const MIN_SHARES_FOR_HW_ERRORS: u64 = 20;

/// The time a machine was watched, weighted by the difficulty it worked at: the shares
/// expected per hash per second of hashrate.
#[derive(Clone, Copy, Debug, Default, PartialEq)]
pub struct Exposure {
    /// Seconds watched.
    pub seconds: f64,
    /// `Σ tⱼ / (dⱼ · hashes per difficulty-1 share)`.
    pub per_hashrate: f64,
}

impl Exposure {
    /// `seconds` more at share difficulty `difficulty`.
    pub fn add(&mut self, seconds: f64, difficulty: f64, hashes_per_diff1: f64) {
        if seconds > 0.0 && difficulty > 0.0 && hashes_per_diff1 > 0.0 {
            self.seconds += seconds;
            self.per_hashrate += seconds / (difficulty * hashes_per_diff1);
        }
    }
}

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
    /// From `shares` accepted shares whose difficulties sum to `difficulty_sum`, over
    /// `exposure`, with `hashes_per_diff1` hashes per difficulty-1 share of the algorithm.
    /// The point estimate is accepted difficulty over time; the interval, the count's over
    /// the exposure (with no share yet, an upper bound only: a dead machine fails).
    pub fn new(
        shares: u64,
        difficulty_sum: f64,
        exposure: Exposure,
        hashes_per_diff1: f64,
    ) -> Estimate {
        let seconds = exposure.seconds.max(1e-9);
        let hashrate = difficulty_sum * hashes_per_diff1 / seconds;
        let (lo, hi) = poisson_interval(shares, 1.0 - CONFIDENCE);
        let per = exposure.per_hashrate;
        let ci95 = if per > 0.0 { (lo / per, hi / per) } else { (0.0, f64::INFINITY) };
        Estimate { shares, seconds, hashrate, ci95 }
    }

    /// From `shares` counted over `exposure`: the point estimate is the count over the
    /// exposure (the maximum-likelihood rate, whatever the difficulties were).
    pub fn from_exposure(shares: u64, exposure: Exposure) -> Estimate {
        let per = exposure.per_hashrate;
        let (lo, hi) = poisson_interval(shares, 1.0 - CONFIDENCE);
        let (hashrate, ci95) = if per > 0.0 {
            (shares as f64 / per, (lo / per, hi / per))
        } else {
            (0.0, (0.0, f64::INFINITY))
        };
        Estimate { shares, seconds: exposure.seconds, hashrate, ci95 }
    }

    /// With one difficulty throughout: `shares` at `difficulty` over `seconds`.
    pub fn at_difficulty(
        shares: u64,
        difficulty: f64,
        seconds: f64,
        hashes_per_diff1: f64,
    ) -> Estimate {
        let mut exposure = Exposure::default();
        exposure.add(seconds, difficulty, hashes_per_diff1);
        Estimate::new(shares, shares as f64 * difficulty, exposure, hashes_per_diff1)
    }

    /// Whether the interval is narrow enough to judge by.
    pub fn is_decisive(&self) -> bool {
        self.shares > 0 && self.ci95.1 <= DECISIVE_WIDTH * self.ci95.0
    }

    /// Shares still needed before the interval is decisive.
    pub fn shares_to_decide(&self) -> u64 {
        decisive_shares().saturating_sub(self.shares)
    }
}

/// The fewest shares whose exact interval is decisive (upper end at most
/// [`DECISIVE_WIDTH`] times the lower): computed once.
pub fn decisive_shares() -> u64 {
    static SHARES: std::sync::OnceLock<u64> = std::sync::OnceLock::new();
    *SHARES.get_or_init(|| {
        (1..100_000)
            .find(|&k| {
                let (lo, hi) = poisson_interval(k, 1.0 - CONFIDENCE);
                hi <= DECISIVE_WIDTH * lo
            })
            .unwrap_or(100_000)
    })
}

/// "about N more minutes" for `more` events at `per_second` a second, if the rate is known.
fn more_minutes(more: u64, per_second: f64) -> String {
    if per_second.is_finite() && per_second > 0.0 {
        format!(", about {:.1} more minutes", more as f64 / per_second / 60.0)
    } else {
        String::new()
    }
}

/// How long a machine may take to send its first share after it connects before the
/// bench holds the silence against it (a board restarting its chains takes a minute or two).
pub const WARM_UP: std::time::Duration = std::time::Duration::from_secs(180);

/// One connection of a machine: the difficulty its shares are counted at.
#[derive(Clone, Debug)]
struct Line {
    id: u64,
    /// The difficulty shares are counted at: the one in force, or during a step down the
    /// old, harder one until the machine shows it has moved.
    difficulty: f64,
    /// A step down sent but not yet seen in the machine's shares.
    lower: Option<f64>,
}

/// One machine's shares and exposure as they come, for its [`Estimate`].
///
/// Exposure accrues while the machine has a connection with a difficulty, at the highest
/// difficulty among its connections, and only shares that meet that difficulty are
/// counted: every connection sends every share that meets it, so the counted shares are a
/// Poisson process of rate (total hashrate) / (difficulty · h₁) whatever the connections'
/// own difficulties. That keeps the count exact when vardiff moves:
///
/// - a raise counts at the new difficulty at once (shares found on the easier earlier
///   jobs are accepted but not counted);
/// - a step down keeps counting at the old difficulty until a share shows the machine has
///   moved (one that meets the new difficulty but not the old), since firmware may apply
///   it only at its next job. That share is not counted: the switch is decided by it.
///
/// Warm-up: after the machine (re)connects, the exposure until its first share that
/// counts is set aside and that share is not counted (a Poisson process after an arrival
/// is the same process, so nothing is biased); a board restarting its chains costs the
/// machine nothing. At most [`WARM_UP`] is set aside per warm-up (a reconnection does not
/// start a new allowance before the last one ended with a share): the time past it counts,
/// and so does the share that ends it, so a machine that stays silent fails.
#[derive(Clone, Debug)]
pub struct ShareClock {
    hashes_per_diff1: f64,
    lines: Vec<Line>,
    /// Since when exposure has accrued and not yet been added (the clock is running).
    running_since: Option<std::time::Instant>,
    /// Whether the first share since the machine last (re)connected has come.
    warm: bool,
    /// Whether any share has ever counted or started the clock.
    started: bool,
    shares: u64,
    exposure: Exposure,
    /// Exposure set aside since the last (re)connection, before its first share (at most
    /// [`WARM_UP`]).
    warming: Exposure,
    /// The current warm-up has run past [`WARM_UP`]: its time counts from there on.
    overdue: bool,
    last_difficulty: Option<f64>,
}

/// Connections of one worker name whose difficulties are kept, at most (the shares of
/// more are not counted: a bench does not run a farm on one name).
const MAX_LINES: usize = 64;

impl ShareClock {
    /// A clock for an algorithm with `hashes_per_diff1` hashes per difficulty-1 share.
    pub fn new(hashes_per_diff1: f64) -> ShareClock {
        ShareClock {
            hashes_per_diff1,
            lines: Vec::new(),
            running_since: None,
            warm: false,
            started: false,
            shares: 0,
            exposure: Exposure::default(),
            warming: Exposure::default(),
            overdue: false,
            last_difficulty: None,
        }
    }

    /// The difficulty shares are counted at now: the highest of the connections'; with
    /// none open, the last one set.
    pub fn difficulty(&self) -> Option<f64> {
        self.counting_difficulty().or(self.last_difficulty)
    }

    fn counting_difficulty(&self) -> Option<f64> {
        self.lines.iter().map(|l| l.difficulty).reduce(f64::max)
    }

    /// Exposure up to `now` added; the clock keeps running if it has a connection.
    fn accrue(&mut self, now: std::time::Instant) {
        if let (Some(since), Some(d)) = (self.running_since, self.counting_difficulty()) {
            let mut seconds = now.saturating_duration_since(since).as_secs_f64();
            if !self.warm {
                // Set aside up to what is left of the warm-up allowance; the rest counts.
                let left = (WARM_UP.as_secs_f64() - self.warming.seconds).max(0.0);
                let aside = seconds.min(left);
                self.warming.add(aside, d, self.hashes_per_diff1);
                seconds -= aside;
                self.overdue |= seconds > 0.0;
            }
            self.exposure.add(seconds, d, self.hashes_per_diff1);
        }
        self.running_since = (!self.lines.is_empty()).then_some(now);
    }

    /// Connection `id` of the machine works at share difficulty `difficulty` from `now`
    /// on (its first call opens the connection for the clock).
    pub fn set_difficulty(&mut self, id: u64, difficulty: f64, now: std::time::Instant) {
        if !(difficulty.is_finite() && difficulty > 0.0) {
            return;
        }
        self.accrue(now);
        self.last_difficulty = Some(difficulty);
        if self.lines.is_empty() {
            // (Re)connected: its warm-up is set aside until its first share (what is left of
            // the allowance if an earlier warm-up never ended: reconnecting buys no time).
            self.warm = false;
        }
        let room = self.lines.len() < MAX_LINES;
        match self.lines.iter_mut().find(|l| l.id == id) {
            Some(line) if difficulty >= line.difficulty => {
                line.difficulty = difficulty;
                line.lower = None;
            }
            Some(line) => line.lower = Some(difficulty),
            None if room => self.lines.push(Line { id, difficulty, lower: None }),
            None => {}
        }
        self.running_since = Some(now);
    }

    /// Connection `id` closed.
    pub fn closed(&mut self, id: u64, now: std::time::Instant) {
        self.accrue(now);
        self.lines.retain(|l| l.id != id);
        self.running_since = (!self.lines.is_empty()).then_some(now);
    }

    /// An accepted share of connection `id` whose hash has difficulty `share_difficulty`,
    /// at `now`.
    pub fn share(&mut self, id: u64, share_difficulty: f64, now: std::time::Instant) {
        let Some(at) = self.lines.iter().position(|l| l.id == id) else { return };
        let line = &self.lines[at];
        if let Some(lower) = line.lower
            && share_difficulty < line.difficulty
            && share_difficulty >= lower
        {
            // The machine works at the lower difficulty now: the old one held until here.
            self.accrue(now);
            self.lines[at].difficulty = lower;
            self.lines[at].lower = None;
            return;
        }
        let Some(d) = self.counting_difficulty() else { return };
        if share_difficulty < d {
            return;
        }
        if self.warm {
            self.shares += 1;
        } else {
            // The first share since (re)connecting ends the warm-up. Past the allowance its
            // silence already counts, and so does this share, which falls in that time.
            self.accrue(now);
            if std::mem::take(&mut self.overdue) {
                self.shares += 1;
            }
            self.warm = true;
            self.started = true;
            self.warming = Exposure::default();
        }
    }

    /// The estimate at `now`.
    pub fn estimate(&self, now: std::time::Instant) -> Estimate {
        let mut clock = self.clone();
        clock.accrue(now);
        Estimate::from_exposure(clock.shares, clock.exposure)
    }

    /// Whether the machine is still in its first warm-up: never a share, and connected
    /// for less than [`WARM_UP`].
    pub fn warming_up(&self, now: std::time::Instant) -> bool {
        let mut clock = self.clone();
        clock.accrue(now);
        !clock.started && !clock.overdue
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
    {
        // Errors count as failed trials: fail only when even the low end of the exact
        // (Clopper–Pearson) 95% interval of the ratio is over the limit.
        let errors = (ratio * hashed as f64).round() as u64;
        let (low, _) = binomial_interval(errors, hashed, 1.0 - CONFIDENCE);
        if low > max_hw_error {
            let why = format!(
                "hardware errors {:.2}% of {hashed} shares (at least {:.2}% at 95%), over the {:.2}% limit",
                ratio * 100.0,
                low * 100.0,
                max_hw_error * 100.0
            );
            return (Verdict::Fail, why);
        }
    }
    let (lo, hi) = estimate.ci95;
    if let Some(expected) = expected
        && expected > hi
    {
        let why =
            format!("expected {} above the 95% interval [{}, {}]", si(expected), si(lo), si(hi));
        return (Verdict::Fail, why);
    }
    // Hashed shares a second so far (the hardware-error ratio's pace).
    let hashed_per_second = hashed as f64 / estimate.seconds;
    if let Some(ratio) = hw_error_ratio
        && ratio > max_hw_error
    {
        // Over the limit, but not yet beyond doubt: how many shares at this ratio would
        // put the low end of its interval over the limit.
        let errors_at = |n: u64| (ratio * n as f64).round() as u64;
        let needed = (hashed.max(1)..hashed.max(1).saturating_mul(1000))
            .step_by(hashed.max(20) as usize / 20)
            .find(|&n| binomial_interval(errors_at(n), n, 1.0 - CONFIDENCE).0 > max_hw_error);
        let more = match needed {
            Some(n) => format!(
                ": about {} more shares{}",
                n - hashed,
                more_minutes(n - hashed, hashed_per_second)
            ),
            None => String::new(),
        };
        let why = format!(
            "hardware errors {:.2}% of {hashed} shares, over the {:.2}% limit but not yet beyond doubt{more}",
            ratio * 100.0,
            max_hw_error * 100.0
        );
        return (Verdict::Inconclusive, why);
    }
    if !estimate.is_decisive() || hashed < MIN_SHARES_FOR_HW_ERRORS {
        let more = estimate.shares_to_decide().max(MIN_SHARES_FOR_HW_ERRORS.saturating_sub(hashed));
        let why = if estimate.shares == 0 {
            "no share counted yet".to_string()
        } else {
            let per_second = estimate.shares as f64 / estimate.seconds;
            format!("{more} more shares needed{}", more_minutes(more, per_second))
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
        // Far in the tail: e^-700 (a normal f64), to the last bits.
        assert!((poisson_cdf(0, 700.0) / (-700.0f64).exp() - 1.0).abs() < 1e-9);
        // Large counts: about a half at the mean (within the skew, 1/(3·sqrt(m))).
        assert!((poisson_cdf(10_000, 10_000.0) - 0.5).abs() < 0.01);
    }

    #[test]
    fn the_interval_covers_the_true_rate_in_95_percent_of_simulated_runs() {
        // A machine at 500 MH/s, shares at difficulty 512 (scrypt-like 2^16 hashes per
        // difficulty 1): arrivals simulated as exponential gaps from a seeded generator.
        // A small count (about 14 shares a run), where a normal approximation would not do.
        let (rate, difficulty, hpd1, seconds) = (500e6, 16384.0, 65536.0, 30.0);
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
                .or_insert_with(|| Estimate::at_difficulty(k, difficulty, seconds, hpd1).ci95);
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
        let e = Estimate::at_difficulty(400, 1024.0, 600.0, hpd1);
        assert!(e.is_decisive());
        assert_eq!(judge(&e, Some(45e6), Some(0.001), 400, 0.01).0, Verdict::Pass);
        assert_eq!(judge(&e, Some(30e6), Some(0.001), 400, 0.01).0, Verdict::Pass);
        assert_eq!(judge(&e, Some(60e6), Some(0.001), 400, 0.01).0, Verdict::Fail);
        assert_eq!(judge(&e, Some(45e6), Some(0.05), 400, 0.01).0, Verdict::Fail);
        // 5 shares: too few, and it says how many more.
        let few = Estimate::at_difficulty(5, 1024.0, 15.0, hpd1);
        let (verdict, why) = judge(&few, Some(22e6), Some(0.0), 5, 0.01);
        assert_eq!(verdict, Verdict::Inconclusive, "{why}");
        assert!(why.contains("more shares"), "{why}");
        assert!(few.shares_to_decide() > 50);
        // A machine that sends nothing for ten minutes fails: at 45 MH/s it would have sent
        // about 400 shares; seeing none, the rate is below 3.689 shares' worth.
        let dead = Estimate::at_difficulty(0, 1024.0, 600.0, hpd1);
        assert_eq!(judge(&dead, Some(45e6), None, 0, 0.01).0, Verdict::Fail);
        // One error in 20 is not yet proof of more than 1%; 30 in 400 is.
        let (verdict, why) = judge(&e, Some(45e6), Some(1.0 / 20.0), 20, 0.01);
        assert_eq!(verdict, Verdict::Inconclusive);
        assert!(why.contains("more shares") && why.contains("more minutes"), "{why}");
        assert_eq!(judge(&e, Some(45e6), Some(30.0 / 400.0), 400, 0.01).0, Verdict::Fail);
        // Exactly the shares that `decisive_shares` names make an interval decisive.
        let k = decisive_shares();
        assert!((90..=110).contains(&k), "{k}");
        let (lo, hi) = poisson_interval(k, 0.05);
        let (lo1, hi1) = poisson_interval(k - 1, 0.05);
        assert!(hi <= DECISIVE_WIDTH * lo && hi1 > DECISIVE_WIDTH * lo1);
        assert_eq!(few.shares_to_decide(), k - 5);
    }

    #[test]
    fn the_proportion_interval_matches_exact_limits_worked_by_hand() {
        // x = 0: the upper limit solves (1 - p)^n = 0.025.
        let (lo, hi) = binomial_interval(0, 20, 0.05);
        assert_eq!(lo, 0.0);
        assert!((hi - (1.0 - 0.025f64.powf(1.0 / 20.0))).abs() < 1e-12);
        // x = n: the lower limit solves p^n = 0.025.
        let (lo, hi) = binomial_interval(20, 20, 0.05);
        assert!((lo - 0.025f64.powf(1.0 / 20.0)).abs() < 1e-12);
        assert_eq!(hi, 1.0);
        // x = 1 of 2: P[X ≥ 1] = 1 - (1-p)^2 = 0.025 and P[X ≤ 1] = 1 - p^2 = 0.025.
        let (lo, hi) = binomial_interval(1, 2, 0.05);
        assert!((lo - (1.0 - 0.975f64.sqrt())).abs() < 1e-12);
        assert!((hi - 0.975f64.sqrt()).abs() < 1e-12);
    }

    #[test]
    fn exposure_weighs_each_difficulty_by_its_time() {
        // 60 s at difficulty 1 then 60 s at 4: 60/h + 15/h shares per H/s of hashrate.
        let mut exposure = Exposure::default();
        exposure.add(60.0, 1.0, 2.0);
        exposure.add(60.0, 4.0, 2.0);
        assert_eq!(exposure.seconds, 120.0);
        assert!((exposure.per_hashrate - (30.0 + 7.5)).abs() < 1e-12);
        let e = Estimate::new(10, 25.0, exposure, 2.0);
        let (lo, hi) = poisson_interval(10, 0.05);
        assert!((e.ci95.0 - lo / 37.5).abs() < 1e-9 && (e.ci95.1 - hi / 37.5).abs() < 1e-9);
    }

    #[test]
    fn the_share_clock_follows_warm_up_raises_step_downs_reconnects_and_two_connections() {
        use std::time::{Duration, Instant};
        let t0 = Instant::now();
        let at = |s: u64| t0 + Duration::from_secs(s);
        let mut clock = ShareClock::new(2.0);
        // Connected at 0 at difficulty 1; no share for 10 s: warming up, nothing held yet.
        clock.set_difficulty(1, 1.0, at(0));
        assert!(clock.warming_up(at(10)));
        let e = clock.estimate(at(10));
        assert_eq!((e.shares, e.seconds, e.ci95.1), (0, 0.0, f64::INFINITY));
        // The first share ends the warm-up and does not count.
        clock.share(1, 1.5, at(10));
        assert!(!clock.warming_up(at(10)));
        assert_eq!(clock.estimate(at(10)).seconds, 0.0);
        // 20 s at 1: three shares, one under the difficulty (not counted); raised to 4 at
        // 30: a share of an easier, earlier job is not counted, one at 4 is.
        for s in [12, 15, 29] {
            clock.share(1, 1.0, at(s));
        }
        clock.share(1, 0.5, at(20));
        clock.set_difficulty(1, 4.0, at(30));
        clock.share(1, 2.0, at(31));
        clock.share(1, 4.0, at(50));
        let e = clock.estimate(at(70));
        // Exposure: 20/(1·2) + 40/(4·2) = 15 per H/s; 4 shares.
        assert_eq!((e.shares, e.seconds), (4, 60.0));
        assert!((e.hashrate - 4.0 / 15.0).abs() < 1e-12);
        // Down to 1 at 70: still counted at 4 until a share shows the machine moved (at 80,
        // not counted), then at 1.
        clock.set_difficulty(1, 1.0, at(70));
        assert_eq!(clock.difficulty(), Some(4.0));
        clock.share(1, 4.5, at(75));
        clock.share(1, 2.0, at(80));
        assert_eq!(clock.difficulty(), Some(1.0));
        clock.share(1, 1.5, at(90));
        let e = clock.estimate(at(100));
        assert_eq!(e.shares, 6);
        assert!((e.hashrate - 6.0 / (15.0 + 10.0 / 8.0 + 20.0 / 2.0)).abs() < 1e-12);
        // Gone from 100 to 200; back, its warm-up set aside until its first share at 210.
        clock.closed(1, at(100));
        clock.set_difficulty(2, 1.0, at(200));
        clock.share(2, 3.0, at(210));
        let e = clock.estimate(at(220));
        assert_eq!((e.shares, e.seconds), (6, 100.0));
        // A second connection at 8: shares count at the higher difficulty.
        clock.set_difficulty(3, 8.0, at(220));
        clock.share(2, 1.5, at(221));
        clock.share(2, 9.0, at(222));
        clock.share(3, 8.0, at(223));
        let e = clock.estimate(at(230));
        assert_eq!(e.shares, 8);
        assert!((e.hashrate - 8.0 / (26.25 + 5.0 + 10.0 / 16.0)).abs() < 1e-12);
    }

    #[test]
    fn a_silent_machine_is_held_to_its_silence_after_the_warm_up() {
        use std::time::{Duration, Instant};
        let t0 = Instant::now();
        let mut clock = ShareClock::new(1.0);
        clock.set_difficulty(1, 1.0, t0);
        let late = t0 + WARM_UP + Duration::from_secs(60);
        assert!(clock.warming_up(t0 + WARM_UP - Duration::from_secs(1)));
        assert!(!clock.warming_up(late));
        // The minute past the allowance counts: no share in it.
        let e = clock.estimate(late);
        assert_eq!((e.shares, e.seconds), (0, 60.0));
        assert!(e.ci95.1.is_finite());
        // The share that ends it falls in that minute, and counts.
        clock.share(1, 1.0, late);
        let e = clock.estimate(late);
        assert_eq!((e.shares, e.seconds), (1, 60.0));
        // Reconnecting buys no new allowance before a warm-up ended with a share.
        let mut clock = ShareClock::new(1.0);
        clock.set_difficulty(1, 1.0, t0);
        clock.closed(1, t0 + Duration::from_secs(170));
        clock.set_difficulty(2, 1.0, t0 + Duration::from_secs(200));
        let e = clock.estimate(t0 + Duration::from_secs(230));
        assert_eq!(e.seconds, 20.0, "170 s + 30 s: 20 s past the allowance");
    }

    /// Seeded SplitMix64 in (0, 1).
    fn uniform(state: &mut u64) -> f64 {
        *state = state.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = *state;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^= z >> 31;
        ((z >> 11) as f64 + 0.5) / (1u64 << 53) as f64
    }

    #[test]
    fn the_estimate_stays_unbiased_when_firmware_applies_a_new_difficulty_late() {
        // A machine of hashrate 1 (h₁ = 1) hashing for 400 s. The bench sets difficulty 4,
        // then 1 at 100 (firmware moves at its next job, 130), then 2 at 200 (firmware
        // moves at 230; meanwhile its shares at 1 are accepted). Hashes meeting
        // difficulty 1/8 come at rate 8 a second, each with share difficulty (1/8) / U.
        let (runs, mut sum, mut covered) = (2000, 0.0, 0);
        for run in 0..runs {
            let mut state = 0x5eed_0000 + run as u64;
            let mut clock = ShareClock::new(1.0);
            let t0 = std::time::Instant::now();
            let at = |s: f64| t0 + std::time::Duration::from_secs_f64(s);
            clock.set_difficulty(1, 4.0, at(0.0));
            let bench = [(100.0, 1.0), (200.0, 2.0)];
            let firmware = |t: f64| match t {
                t if t < 130.0 => 4.0,
                t if t < 230.0 => 1.0,
                _ => 2.0,
            };
            let (mut t, mut next_change) = (0.0, 0);
            loop {
                t += -uniform(&mut state).ln() / 8.0;
                while next_change < bench.len() && bench[next_change].0 <= t {
                    let (when, d) = bench[next_change];
                    clock.set_difficulty(1, d, at(when));
                    next_change += 1;
                }
                if t >= 400.0 {
                    break;
                }
                let share_difficulty = 0.125 / uniform(&mut state);
                if share_difficulty >= firmware(t) {
                    clock.share(1, share_difficulty, at(t));
                }
            }
            let e = clock.estimate(at(400.0));
            sum += e.hashrate;
            covered += usize::from(e.ci95.0 <= 1.0 && 1.0 <= e.ci95.1);
        }
        let mean = sum / runs as f64;
        // About 190 shares a run: the mean of 2000 runs is within 1% of the truth.
        assert!((mean - 1.0).abs() < 0.01, "mean estimate {mean}");
        assert!(covered >= 1880, "covered {covered} of {runs}");
    }
}
