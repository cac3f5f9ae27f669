//! Downstream difficulty: the difficulty each miner works at. By default the pool's; with
//! `--downstream-difficulty D` a fixed one, with `--vardiff N` one that each miner's own
//! share rate sets (about N shares a minute). Never above the pool's: a miner held above
//! the pool's difficulty would send fewer shares than the pool credits, and lose money.

use std::collections::VecDeque;
use std::time::{Duration, Instant};

use crate::chain::{Algorithm, Target};

/// How miners' difficulty is chosen.
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum DownstreamDifficulty {
    /// The pool's difficulty, relayed (every valid share is forwarded).
    Upstream,
    /// A fixed difficulty (capped at the pool's).
    Fixed(f64),
    /// Aim each miner at this many shares a minute (capped at the pool's difficulty).
    Vardiff {
        /// Shares a minute wanted from each miner.
        shares_per_minute: f64,
    },
}

/// The lowest difficulty vardiff goes to (a CPU miner on a test network).
pub const VARDIFF_MIN: f64 = 1.0 / 65536.0;
/// How long vardiff watches a miner's share rate before retargeting.
pub const VARDIFF_WINDOW: Duration = Duration::from_secs(30);
/// Shares that end a window early when they come at least four times too fast.
const EARLY_SHARES: u32 = 16;
/// The largest step down (a silent miner) and up (a flood) in one retarget.
const MAX_STEP_DOWN: f64 = 4.0;
const MAX_STEP_UP: f64 = 16.0;
/// A rate within this factor of the aim leaves the difficulty as it is.
const DEAD_BAND: f64 = 1.5;

/// One miner's variable difficulty.
#[derive(Clone, Debug)]
pub struct Vardiff {
    shares_per_minute: f64,
    difficulty: f64,
    window_start: Instant,
    shares: u32,
}

impl Vardiff {
    /// Aiming at `shares_per_minute`, starting at `difficulty`, at `now`.
    pub fn new(shares_per_minute: f64, difficulty: f64, now: Instant) -> Vardiff {
        Vardiff { shares_per_minute, difficulty, window_start: now, shares: 0 }
    }

    /// The difficulty in force.
    pub fn difficulty(&self) -> f64 {
        self.difficulty
    }

    /// When the current window ends (the latest a silent miner is looked at again).
    pub fn window_ends(&self) -> Instant {
        self.window_start + VARDIFF_WINDOW
    }

    /// Sets the difficulty (the pool's went below it), and starts a new window.
    pub fn reset(&mut self, difficulty: f64, now: Instant) {
        self.difficulty = difficulty;
        self.window_start = now;
        self.shares = 0;
    }

    /// An accepted share at `now` whose hash has difficulty `share_difficulty`; the new
    /// difficulty when it is time to change it. Only a share that meets the difficulty in
    /// force counts: after a raise, firmware that applies it at its next job still sends
    /// shares at the old one, and counting them would raise it again and again.
    pub fn on_share(&mut self, now: Instant, share_difficulty: f64, max: f64) -> Option<f64> {
        if share_difficulty >= self.difficulty {
            self.shares = self.shares.saturating_add(1);
        }
        self.retarget(now, max)
    }

    /// The new difficulty if the window is over (call it now and then: a miner that
    /// stopped finding shares gets an easier difficulty).
    pub fn retarget(&mut self, now: Instant, max: f64) -> Option<f64> {
        let elapsed = now.saturating_duration_since(self.window_start);
        let wanted = self.shares_per_minute * elapsed.as_secs_f64() / 60.0;
        let flood = self.shares >= EARLY_SHARES && f64::from(self.shares) >= 4.0 * wanted;
        if elapsed < VARDIFF_WINDOW && !flood {
            return None;
        }
        let rate = f64::from(self.shares) / elapsed.as_secs_f64().max(1e-3) * 60.0;
        let factor = (rate / self.shares_per_minute).clamp(1.0 / MAX_STEP_DOWN, MAX_STEP_UP);
        self.window_start = now;
        self.shares = 0;
        if (1.0 / DEAD_BAND..=DEAD_BAND).contains(&factor) {
            return None;
        }
        // The floor stops a step down, never shortens a step up from below it (a miner
        // that suggested less); never above the pool's, even under the floor.
        let floor = VARDIFF_MIN.min(self.difficulty);
        let next = nice_difficulty((self.difficulty * factor).max(floor)).min(max);
        if next == self.difficulty {
            return None;
        }
        self.difficulty = next;
        Some(next)
    }
}

/// One miner's difficulty under a [`DownstreamDifficulty`] setting, given the pool's.
#[derive(Clone, Debug)]
pub struct MinerDifficulty {
    setting: DownstreamDifficulty,
    vardiff: Option<Vardiff>,
    /// `mining.suggest_difficulty`: where vardiff starts.
    suggested: Option<f64>,
    /// Started before the pool's difficulty was known: the pool's first one starts over.
    provisional: bool,
    /// Where vardiff starts without a suggestion (`None`: at the pool's difficulty).
    vardiff_start: Option<f64>,
}

impl MinerDifficulty {
    /// A miner under `setting`.
    pub fn new(setting: DownstreamDifficulty) -> MinerDifficulty {
        MinerDifficulty {
            setting,
            vardiff: None,
            suggested: None,
            provisional: false,
            vardiff_start: None,
        }
    }

    /// Vardiff starts at `start` (capped at the pool's) for a miner that suggests nothing;
    /// `None`: at the pool's difficulty.
    pub fn with_vardiff_start(mut self, start: Option<f64>) -> MinerDifficulty {
        self.vardiff_start = start.filter(|d| d.is_finite() && *d > 0.0);
        self
    }

    /// Whether the miner works at the pool's difficulty (every valid share forwarded, the
    /// pool's answer relayed).
    pub fn is_pools(&self) -> bool {
        self.setting == DownstreamDifficulty::Upstream
    }

    /// The miner's `mining.suggest_difficulty` (ignored unless finite and positive; raised
    /// to [`VARDIFF_MIN`]). Under vardiff it is where the miner starts, or, once started,
    /// where it starts over: the new difficulty (capped at the pool's, `pool`), if it
    /// changed.
    pub fn suggest(&mut self, difficulty: f64, pool: f64, now: Instant) -> Option<f64> {
        if !difficulty.is_finite() || difficulty <= 0.0 {
            return None;
        }
        self.suggested = Some(difficulty.max(VARDIFF_MIN));
        let v = self.vardiff.as_mut()?;
        let start = nice_difficulty(difficulty.max(VARDIFF_MIN).min(pool));
        let changed = start != v.difficulty();
        v.reset(start, now);
        changed.then_some(start)
    }

    /// The difficulty of a new session while the pool's is `pool` (vardiff starts over,
    /// at the miner's suggestion if it made one).
    pub fn start(&mut self, pool: f64, now: Instant) -> f64 {
        match self.setting {
            DownstreamDifficulty::Upstream => pool,
            DownstreamDifficulty::Fixed(d) => d.min(pool),
            DownstreamDifficulty::Vardiff { shares_per_minute } => {
                let wanted = self.suggested.or(self.vardiff_start).unwrap_or(pool);
                let start = nice_difficulty(wanted.min(pool));
                self.vardiff = Some(Vardiff::new(shares_per_minute, start, now));
                start
            }
        }
    }

    /// The difficulty of a session that starts before the pool has set one (difficulty 1
    /// until then): the pool's first difficulty starts it over, as [`MinerDifficulty::start`].
    pub fn start_provisional(&mut self, now: Instant) -> f64 {
        self.provisional = true;
        self.start(1.0, now)
    }

    /// The pool's difficulty changed to `pool`: the miner's.
    pub fn on_pool(&mut self, pool: f64, now: Instant) -> f64 {
        if std::mem::take(&mut self.provisional) {
            return self.start(pool, now);
        }
        match (self.setting, &mut self.vardiff) {
            (DownstreamDifficulty::Upstream, _) => pool,
            (DownstreamDifficulty::Fixed(d), _) => d.min(pool),
            (DownstreamDifficulty::Vardiff { .. }, Some(v)) => {
                if v.difficulty() > pool {
                    v.reset(pool, now);
                }
                v.difficulty()
            }
            (DownstreamDifficulty::Vardiff { .. }, None) => self.start(pool, now),
        }
    }

    /// Vardiff: an accepted share (`share`: at that instant, with its hash's difficulty)
    /// or a look at a quiet miner (`None`); the new difficulty when its rate calls for one,
    /// never above `pool`.
    pub fn retarget(&mut self, share: Option<(Instant, f64)>, pool: f64) -> Option<f64> {
        let v = self.vardiff.as_mut()?;
        match share {
            Some((now, share_difficulty)) => v.on_share(now, share_difficulty, pool),
            None => v.retarget(Instant::now(), pool),
        }
    }

    /// When vardiff must next look at a quiet miner, if it runs.
    pub fn next_look(&self) -> Option<Instant> {
        self.vardiff.as_ref().map(Vardiff::window_ends)
    }
}

/// Pool jobs whose share target is remembered (for forwarding at a lower downstream
/// difficulty).
const JOB_TARGETS_KEPT: usize = 256;

/// The pool's share target for each of its recent jobs: a share found at a lower
/// downstream difficulty goes to the pool only if it meets its job's.
#[derive(Clone, Debug)]
pub struct PoolTargets {
    diff1: Target,
    /// The target in force when each job was notified, newest last.
    jobs: VecDeque<(String, Target)>,
    /// The target now (`None` until the pool sets a difficulty: difficulty 1).
    now: Option<Target>,
}

impl PoolTargets {
    /// No job yet, difficulty 1 of `algorithm`.
    pub fn new(algorithm: Algorithm) -> PoolTargets {
        PoolTargets { diff1: algorithm.diff1_target(), jobs: VecDeque::new(), now: None }
    }

    /// Whether the pool has set a difficulty.
    pub fn is_set(&self) -> bool {
        self.now.is_some()
    }

    /// The pool's `mining.set_difficulty`, as a target.
    pub fn set(&mut self, target: Target) {
        self.now = Some(target);
    }

    /// The pool's `mining.notify` of `job_id`.
    pub fn notified(&mut self, job_id: String) {
        if self.jobs.len() >= JOB_TARGETS_KEPT {
            self.jobs.pop_front();
        }
        let target = self.now.unwrap_or(self.diff1);
        self.jobs.push_back((job_id, target));
    }

    /// The pool's share target for a job: the easier of the one at its notify and now,
    /// as the share check itself takes it.
    pub fn for_job(&self, job_id: &str) -> Target {
        let now = self.now.unwrap_or(self.diff1);
        match self.jobs.iter().rev().find(|(id, _)| id == job_id) {
            Some((_, at_notify)) => now.max(*at_notify),
            None => now,
        }
    }
}

/// A difficulty as firmware takes it: at least 1 rounded down to an integer (some read
/// `mining.set_difficulty` as one), below 1 to three significant digits, rounded down
/// (easier, so no share the aim asked for is refused).
pub fn nice_difficulty(d: f64) -> f64 {
    if d >= 1.0 {
        return d.floor();
    }
    let scale = 10f64.powi(2 - d.log10().floor() as i32);
    let rounded = (d * scale).floor() / scale;
    if rounded > 0.0 { rounded } else { d }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_miner_at_the_aimed_rate_keeps_its_difficulty() {
        let t0 = Instant::now();
        let mut v = Vardiff::new(20.0, 1000.0, t0);
        // 10 shares in 30 s = 20 a minute.
        let changes: Vec<_> = (1..=10)
            .filter_map(|i| v.on_share(t0 + Duration::from_secs(3 * i), f64::INFINITY, 1e9))
            .collect();
        assert_eq!(changes, Vec::<f64>::new());
        assert_eq!(v.difficulty(), 1000.0);
    }

    #[test]
    fn a_fast_miner_is_raised_early_and_a_silent_one_lowered() {
        let t0 = Instant::now();
        let mut v = Vardiff::new(20.0, 1000.0, t0);
        // 16 shares in 2 s (480 a minute, 24× the aim): raised by the step limit, 16×.
        let mut raised = None;
        for i in 1..=16 {
            raised = v.on_share(t0 + Duration::from_millis(125 * i), f64::INFINITY, 1e9).or(raised);
        }
        assert_eq!(raised, Some(16_000.0));
        // Then nothing for a window: a quarter.
        let t1 = t0 + Duration::from_secs(2) + VARDIFF_WINDOW;
        assert_eq!(v.retarget(t1, 1e9), Some(4000.0));
    }

    #[test]
    fn vardiff_never_goes_above_the_pools_difficulty() {
        let t0 = Instant::now();
        let mut v = Vardiff::new(1.0, 100.0, t0);
        for i in 1..=16 {
            v.on_share(t0 + Duration::from_millis(10 * i), f64::INFINITY, 512.0);
        }
        assert_eq!(v.difficulty(), 512.0);
        // A pool below the vardiff floor still caps it.
        let mut v = Vardiff::new(1.0, 1e-6, t0);
        for i in 1..=16 {
            v.on_share(t0 + Duration::from_millis(10 * i), f64::INFINITY, 2e-6);
        }
        assert_eq!(v.difficulty(), 2e-6);
    }

    #[test]
    fn a_miner_below_the_floor_is_raised_by_one_step_not_to_the_floor() {
        let t0 = Instant::now();
        let mut v = Vardiff::new(1.0, 1e-7, t0);
        for i in 1..=16 {
            v.on_share(t0 + Duration::from_millis(10 * i), f64::INFINITY, 1.0);
        }
        assert_eq!(v.difficulty(), 1.6e-6);
    }

    #[test]
    fn a_provisional_start_gives_way_to_the_pools_first_difficulty() {
        let t0 = Instant::now();
        let vardiff = DownstreamDifficulty::Vardiff { shares_per_minute: 20.0 };
        let mut m = MinerDifficulty::new(vardiff);
        assert_eq!(m.suggest(4096.0, 1.0, t0), None, "not started: remembered");
        assert_eq!(m.start_provisional(t0), 1.0, "capped at the unknown pool's 1");
        // The pool says 65536: vardiff starts over at the suggestion, not from 1.
        assert_eq!(m.on_pool(65_536.0, t0), 4096.0);
        // Later pool changes only lower it.
        assert_eq!(m.on_pool(131_072.0, t0), 4096.0);
        assert_eq!(m.on_pool(1024.0, t0), 1024.0);
    }

    #[test]
    fn difficulties_are_rounded_down_for_firmware() {
        assert_eq!(nice_difficulty(16_384.9), 16_384.0);
        assert_eq!(nice_difficulty(0.012_345), 0.0123);
        assert_eq!(nice_difficulty(1.0 / 65536.0), 0.000_015_2);
    }

    #[test]
    fn vardiff_starts_where_it_is_told_capped_and_a_suggestion_comes_first() {
        let t0 = Instant::now();
        let vardiff = DownstreamDifficulty::Vardiff { shares_per_minute: 20.0 };
        let mut m = MinerDifficulty::new(vardiff).with_vardiff_start(Some(1024.0));
        assert_eq!(m.start(1e12, t0), 1024.0);
        assert_eq!(m.start(512.0, t0), 512.0); // never above the pool's
        let mut m = MinerDifficulty::new(vardiff).with_vardiff_start(Some(1024.0));
        m.suggest(64.0, 1e12, t0);
        assert_eq!(m.start(1e12, t0), 64.0);
        let mut m = MinerDifficulty::new(vardiff).with_vardiff_start(None);
        assert_eq!(m.start(4096.0, t0), 4096.0);
    }

    #[test]
    fn shares_under_the_difficulty_in_force_do_not_count_for_vardiff() {
        // Raised to 16 000; firmware that keeps the old 1 000 until its next job sends
        // shares that meet only 1 000: they do not raise it again.
        let t0 = Instant::now();
        let mut v = Vardiff::new(20.0, 16_000.0, t0);
        for i in 1..=200 {
            let at = t0 + Duration::from_millis(10 * i);
            assert_eq!(v.on_share(at, 1_500.0, 1e12), None);
        }
        // Shares at the new difficulty, as fast: a flood, raised.
        let raised = (1..=16)
            .filter_map(|i| v.on_share(t0 + Duration::from_millis(2000 + 10 * i), 16_000.0, 1e12))
            .last();
        assert_eq!(raised, Some(256_000.0));
    }
}
