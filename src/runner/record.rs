//! The recording of a run's paths: which block a worker simulates next, where each path's
//! outputs go, and the joining of the blocks' stored paths into the run's columns in block
//! order.
//!
//! Workers take blocks in increasing order ([`Assembly::claim`]) and record each into a
//! [`BlockRecord`]: the stored (non-baseline) paths' columns and indices, counts and, under
//! importance sampling, weights. A finished block waits in the [`Assembly`] until every block
//! before it is appended to the [`RunRecord`]; whichever worker finds it next in line appends
//! it, one worker at a time, while the others go on simulating. So
//!
//! - each stored value is written once into the run's columns, in path order. The columns are
//!   given their room once, when the first block is appended, from that block's share of stored
//!   paths with a margin ([`Room`]), never past the run's memory estimate; they grow again only
//!   in the rare run that exceeds it, and are trimmed at the end (in place);
//! - block records are emptied and reused: once they have grown to a block's size, a block
//!   allocates nothing;
//! - the per-period coverage sample (and its weights) is allocated once, at its final size, and
//!   each block writes its own rows of it in place ([`SampleRows`]).
//!
//! Since a block's values depend only on the block, and the blocks are appended in block order,
//! the result is the same bit for bit whatever the number of threads and whichever worker
//! simulates or appends which block.

use std::sync::{Mutex, MutexGuard, PoisonError};

use super::{COVERAGE_FLOOR, Layout, Weights};
use crate::path::Scratch;
use crate::stats::weighted::WeightSums;

/// One block's results, as a worker records them.
pub(super) struct BlockRecord {
    block: u64,
    /// Path indices of the block's stored (non-baseline) paths, ascending.
    stored: Vec<u64>,
    /// One vector per column of the layout, over the block's stored paths.
    columns: Vec<Vec<f64>>,
    baseline_count: u64,
    /// Per period: stored paths whose coverage was below [`COVERAGE_FLOOR`].
    coverage_below_one: Vec<u64>,
    weights: Option<BlockWeights>,
}

/// A block's likelihood-ratio weights (see [`Weights`]).
#[derive(Default)]
struct BlockWeights {
    /// The weight of each stored path.
    stored: Vec<f64>,
    /// The weights of the block's baseline paths.
    baseline: WeightSums,
    /// Per period: the weights of the stored paths whose coverage was below the floor.
    coverage_below_one: Vec<WeightSums>,
    /// Every path's weight.
    all: WeightSums,
}

/// The number of columns and periods of a run, and whether it is weighted: what a
/// [`BlockRecord`] holds.
#[derive(Debug, Clone, Copy)]
pub(super) struct Shape {
    pub columns: usize,
    pub periods: usize,
    pub weighted: bool,
}

impl BlockRecord {
    fn new(shape: Shape) -> Self {
        BlockRecord {
            block: 0,
            stored: Vec::new(),
            columns: vec![Vec::new(); shape.columns],
            baseline_count: 0,
            coverage_below_one: vec![0; shape.periods],
            weights: shape.weighted.then(|| BlockWeights {
                coverage_below_one: vec![WeightSums::default(); shape.periods],
                ..BlockWeights::default()
            }),
        }
    }

    /// Empties the record for block `block`, keeping its buffers.
    pub fn start(&mut self, block: u64) {
        self.block = block;
        self.stored.clear();
        self.columns.iter_mut().for_each(Vec::clear);
        self.baseline_count = 0;
        self.coverage_below_one.fill(0);
        if let Some(w) = &mut self.weights {
            w.stored.clear();
            w.baseline = WeightSums::default();
            w.coverage_below_one.fill(WeightSums::default());
            w.all = WeightSums::default();
        }
    }

    /// Paths of the block recorded so far.
    fn paths(&self) -> u64 {
        self.stored.len() as u64 + self.baseline_count
    }

    /// Records path `index`, just simulated into `s`, of weight `weight` under importance
    /// sampling: a baseline path is only counted (its outcome is the baseline's), another is
    /// stored.
    pub fn add(&mut self, layout: &Layout, index: u64, s: &Scratch, baseline: bool, weight: Option<f64>) {
        if let (Some(w), Some(x)) = (&mut self.weights, weight) {
            w.all.add(x);
            if baseline {
                w.baseline.add(x);
            } else {
                w.stored.push(x);
                for (sums, c) in w.coverage_below_one.iter_mut().zip(&s.outcome.coverage) {
                    if *c < COVERAGE_FLOOR {
                        sums.add(x);
                    }
                }
            }
        }
        if baseline {
            self.baseline_count += 1;
            return;
        }
        self.stored.push(index);
        layout.push(&s.outcome, &mut self.columns);
        for (n, c) in self.coverage_below_one.iter_mut().zip(&s.outcome.coverage) {
            if *c < COVERAGE_FLOOR {
                *n += 1;
            }
        }
    }
}

/// The room the run's columns are given: enough rows for nearly every run, reserved once, so
/// that the columns are not copied as they grow. The capacity changes no value.
#[derive(Debug, Clone, Copy)]
pub(super) struct Room {
    /// Paths of the run's blocks.
    pub paths: u64,
    /// The most rows to reserve ahead: the stored paths of the run's memory estimate
    /// ([`super::memory_needed`]), so that a reservation never takes more address space than
    /// the memory check allowed.
    pub most: usize,
}

/// `z` of the margin of [`Room::rows`]: the reservation is exceeded when the stored share of the
/// rest of the run is 4 standard errors above the first block's (about 3 runs in 100,000).
const ROOM_Z: f64 = 4.0;

impl Room {
    /// The rows to reserve once the first block, of `n` paths of which `k` stored, is in:
    /// `k + ceil(u (paths - n))`, at most [`Room::most`], with `u` the Wilson upper bound of the
    /// stored share at `z` = [`ROOM_Z`],
    /// `u = (k + z^2/2 + z sqrt(k (n - k) / n + z^2/4)) / (n + z^2)`
    /// (the paths are independent, so the first block's stored count is binomial).
    fn rows(&self, k: u64, n: u64) -> usize {
        let (kf, nf, z) = (k as f64, n.max(1) as f64, ROOM_Z);
        let upper = (kf + z * z / 2.0 + z * (kf * (nf - kf) / nf + z * z / 4.0).sqrt()) / (nf + z * z);
        let rest = self.paths.saturating_sub(n) as f64;
        let rows = (k as f64 + (upper.min(1.0) * rest).ceil()) as usize;
        rows.min(self.most).max(k as usize)
    }

    /// The capacity for `need` rows when `capacity` is not enough: the rest of the estimate's
    /// room when it holds them (doubling at most), else an eighth more than `need` (never
    /// doubling past the estimate).
    fn regrown(&self, need: usize, capacity: usize) -> usize {
        if need <= self.most {
            need.max(self.most.min(capacity.saturating_mul(2)))
        } else {
            need.saturating_add(need / 8)
        }
    }
}

/// Reserves room in `v` for `capacity` elements in all.
fn reserve_to<T>(v: &mut Vec<T>, capacity: usize) {
    v.reserve_exact(capacity.saturating_sub(v.len()));
}

/// The blocks appended so far, in block order (see [`super::Simulation`] for the fields).
pub(super) struct RunRecord {
    /// The room of the columns, until they are given it by the first block.
    room: Room,
    /// Paths appended so far.
    appended: u64,
    pub stored: Vec<u64>,
    pub columns: Vec<Vec<f64>>,
    pub baseline_count: u64,
    /// Per period: stored paths whose coverage was below the floor (the baseline paths are
    /// added by the caller).
    pub coverage_below_one: Vec<u64>,
    /// The weights, but for `coverage_sample` (written in place, see [`SampleRows`]) and the
    /// baseline paths' share of `coverage_below_one` (added by the caller).
    pub weights: Option<Weights>,
}

impl RunRecord {
    fn new(shape: Shape, room: Room) -> Self {
        RunRecord {
            room,
            appended: 0,
            stored: Vec::new(),
            columns: vec![Vec::new(); shape.columns],
            baseline_count: 0,
            coverage_below_one: vec![0; shape.periods],
            weights: shape.weighted.then(|| Weights {
                coverage_below_one: vec![WeightSums::default(); shape.periods],
                ..Weights::default()
            }),
        }
    }

    /// Makes room for block `b`'s stored rows: the run's room when `b` is the first block
    /// ([`Room::rows`]), more when it is exceeded ([`Room::regrown`]).
    fn make_room(&mut self, b: &BlockRecord) {
        let (len, capacity) = (self.stored.len(), self.stored.capacity());
        let need = len + b.stored.len();
        let rows = if self.appended == 0 {
            self.room.rows(b.stored.len() as u64, b.paths()).max(need)
        } else if need > capacity {
            self.room.regrown(need, capacity)
        } else {
            return;
        };
        reserve_to(&mut self.stored, rows);
        self.columns.iter_mut().for_each(|c| reserve_to(c, rows));
        if let Some(w) = &mut self.weights {
            reserve_to(&mut w.stored, rows);
        }
    }

    /// Appends block `b`, the next in block order. Weight sums are merged in block order.
    fn append(&mut self, b: &BlockRecord) {
        self.make_room(b);
        self.appended += b.paths();
        self.stored.extend_from_slice(&b.stored);
        for (column, part) in self.columns.iter_mut().zip(&b.columns) {
            column.extend_from_slice(part);
        }
        self.baseline_count += b.baseline_count;
        for (n, m) in self.coverage_below_one.iter_mut().zip(&b.coverage_below_one) {
            *n += m;
        }
        if let (Some(w), Some(bw)) = (&mut self.weights, &b.weights) {
            w.stored.extend_from_slice(&bw.stored);
            w.baseline.push(bw.baseline);
            for (x, y) in w.coverage_below_one.iter_mut().zip(&bw.coverage_below_one) {
                *x = x.merged(y);
            }
            w.all = w.all.merged(&bw.all);
        }
    }

    /// Gives back the columns' spare room (a large column shrinks in place).
    fn trimmed(mut self) -> Self {
        self.stored.shrink_to_fit();
        self.columns.iter_mut().for_each(Vec::shrink_to_fit);
        if let Some(w) = &mut self.weights {
            w.stored.shrink_to_fit();
        }
        self
    }
}

/// Rows of the run's coverage sample: per period, a slice of paths' coverage, and under
/// importance sampling the same paths' weights. The whole sample's, split into each sampled
/// block's as the blocks are claimed.
#[derive(Default)]
pub(super) struct SampleRows<'a> {
    /// Paths (rows) covered.
    len: usize,
    coverage: Vec<&'a mut [f64]>,
    weights: Option<&'a mut [f64]>,
}

impl<'a> SampleRows<'a> {
    /// The rows of `coverage` (one vector per period, all of the same length) and `weights`.
    pub fn of(coverage: &'a mut [Vec<f64>], weights: Option<&'a mut [f64]>) -> Self {
        let len = coverage
            .first()
            .map(Vec::len)
            .or(weights.as_ref().map(|w| w.len()))
            .unwrap_or(0);
        SampleRows {
            len,
            coverage: coverage.iter_mut().map(Vec::as_mut_slice).collect(),
            weights,
        }
    }

    /// Moves the first `n` rows (fewer if there are fewer) into `head`, whose buffers are
    /// reused.
    fn split_off_into(&mut self, n: usize, head: &mut SampleRows<'a>) {
        let n = n.min(self.len);
        self.len -= n;
        head.len = n;
        head.coverage.clear();
        for rest in &mut self.coverage {
            let (first, tail) = std::mem::take(rest).split_at_mut(n);
            head.coverage.push(first);
            *rest = tail;
        }
        head.weights = self.weights.take().map(|rest| {
            let (first, tail) = rest.split_at_mut(n);
            self.weights = Some(tail);
            first
        });
    }

    /// Writes row `row`: its per-period `coverage` and its `weight` (under importance
    /// sampling); nothing past the rows held.
    pub fn write(&mut self, row: usize, coverage: &[f64], weight: Option<f64>) {
        if row >= self.len {
            return;
        }
        for (period, c) in self.coverage.iter_mut().zip(coverage) {
            period[row] = *c;
        }
        if let (Some(w), Some(x)) = (&mut self.weights, weight) {
            w[row] = x;
        }
    }
}

/// What the workers of a run share: the next block to claim, the finished blocks waiting for
/// their turn, and the run so far.
pub(super) struct Assembly<'a> {
    state: Mutex<State<'a>>,
    shape: Shape,
}

struct State<'a> {
    /// The next block to hand out, and the end of the run's blocks.
    next_claim: u64,
    end: u64,
    /// The coverage sample's rows not yet handed out (those of the blocks from `next_claim`).
    sample: SampleRows<'a>,
    /// Finished blocks not yet appended.
    waiting: Vec<BlockRecord>,
    /// The next block to append.
    next_append: u64,
    /// The run so far; `None` while a worker appends to it.
    run: Option<RunRecord>,
    /// Emptied block records, for reuse.
    spare: Vec<BlockRecord>,
}

impl<'a> Assembly<'a> {
    /// The assembly of blocks `blocks` of a run of `shape`, whose coverage sample is `sample`
    /// (rows of the first blocks, from `blocks.start`) and whose columns get `room`.
    pub fn new(blocks: std::ops::Range<u64>, shape: Shape, room: Room, sample: SampleRows<'a>) -> Self {
        Assembly {
            state: Mutex::new(State {
                next_claim: blocks.start,
                end: blocks.end,
                sample,
                waiting: Vec::new(),
                next_append: blocks.start,
                run: Some(RunRecord::new(shape, room)),
                spare: Vec::new(),
            }),
            shape,
        }
    }

    fn lock(&self) -> MutexGuard<'_, State<'a>> {
        self.state.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// An empty record for a worker's first block.
    pub fn record(&self) -> BlockRecord {
        BlockRecord::new(self.shape)
    }

    /// The next block, of `len(block)` paths, with its rows of the coverage sample in `rows`
    /// (none past the sample); `None` when every block is handed out.
    pub fn claim(&self, len: impl Fn(u64) -> usize, rows: &mut SampleRows<'a>) -> Option<u64> {
        let mut s = self.lock();
        if s.next_claim >= s.end {
            return None;
        }
        let block = s.next_claim;
        s.next_claim += 1;
        s.sample.split_off_into(len(block), rows);
        Some(block)
    }

    /// Hands in a finished block and, unless another worker is appending, appends every block
    /// whose turn has come; returns an emptied record for the worker's next block.
    pub fn finish(&self, done: BlockRecord) -> BlockRecord {
        let mut s = self.lock();
        s.waiting.push(done);
        // Whoever holds `run` appends until no block is next in line, looking again after each
        // block: a block handed in meanwhile is appended by it, never left waiting.
        while let Some(mut run) = s.run.take() {
            let next = s.next_append;
            let Some(i) = s.waiting.iter().position(|b| b.block == next) else {
                s.run = Some(run);
                break;
            };
            let block = s.waiting.swap_remove(i);
            drop(s);
            run.append(&block);
            s = self.lock();
            s.run = Some(run);
            s.next_append += 1;
            s.spare.push(block);
        }
        s.spare.pop().unwrap_or_else(|| BlockRecord::new(self.shape))
    }

    /// The whole run, once every block is finished.
    pub fn into_run(self) -> RunRecord {
        let s = self.state.into_inner().unwrap_or_else(PoisonError::into_inner);
        debug_assert!(s.waiting.is_empty() && s.next_append == s.end);
        s.run
            .expect("no block is being appended once every worker has returned")
            .trimmed()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const N: usize = super::super::BLOCK_PATHS as usize;

    /// A record of `block` storing paths `paths` (column 0: the index, column 1: its double),
    /// with `baseline` baseline paths of weight 1 and each stored path of weight 2 and below 1
    /// in period 0.
    fn record(a: &Assembly, block: u64, paths: &[u64], baseline: u64) -> BlockRecord {
        let mut r = a.record();
        r.start(block);
        for &i in paths {
            r.stored.push(i);
            r.columns[0].push(i as f64);
            r.columns[1].push(2.0 * i as f64);
            r.coverage_below_one[0] += 1;
            let w = r.weights.as_mut().expect("weighted");
            w.stored.push(2.0);
            w.coverage_below_one[0].add(2.0);
            w.all.add(2.0);
        }
        r.baseline_count = baseline;
        let w = r.weights.as_mut().expect("weighted");
        for _ in 0..baseline {
            w.baseline.add(1.0);
            w.all.add(1.0);
        }
        r
    }

    /// Room for `most` rows at most in a run of three blocks.
    fn room(most: usize) -> Room {
        Room {
            paths: 3 * N as u64,
            most,
        }
    }

    #[test]
    fn blocks_finished_out_of_order_are_appended_in_block_order() {
        // Whatever the room: one row (exceeded by every block), or plenty.
        for most in [1, 1 << 20] {
            appended_in_block_order(room(most));
        }
    }

    fn appended_in_block_order(room: Room) {
        let shape = Shape {
            columns: 2,
            periods: 1,
            weighted: true,
        };
        let a = Assembly::new(5..8, shape, room, SampleRows::default());
        let mut rows = SampleRows::default();
        let claimed: Vec<u64> = std::iter::from_fn(|| a.claim(|_| N, &mut rows)).collect();
        assert_eq!(claimed, [5, 6, 7]);
        // Block 7 first, then 5 (appends 5 only), then 6 (appends 6 and the waiting 7).
        let first = [5 * N as u64 + 3, 5 * N as u64 + 9];
        let second = [6 * N as u64];
        let third = [7 * N as u64 + 1, 7 * N as u64 + 2, 7 * N as u64 + 4];
        let (r7, r5, r6) = (
            record(&a, 7, &third, 1),
            record(&a, 5, &first, 2),
            record(&a, 6, &second, 3),
        );
        a.finish(r7);
        assert_eq!(a.lock().next_append, 5);
        a.finish(r5);
        assert_eq!(a.lock().next_append, 6);
        a.finish(r6);
        let run = a.into_run();
        let stored: Vec<u64> = first.iter().chain(&second).chain(&third).copied().collect();
        assert_eq!(run.stored, stored);
        assert_eq!(
            run.columns[0],
            stored.iter().map(|&i| i as f64).collect::<Vec<_>>()
        );
        assert_eq!(
            run.columns[1],
            stored.iter().map(|&i| 2.0 * i as f64).collect::<Vec<_>>()
        );
        assert_eq!((run.baseline_count, run.coverage_below_one[0]), (6, 6));
        let w = run.weights.expect("weighted");
        assert_eq!(w.stored, [2.0; 6]);
        let counts: Vec<u64> = w.baseline.iter().map(|s| s.count).collect();
        assert_eq!(counts, [2, 3, 1]);
        assert_eq!((w.all.count, w.all.sum, w.all.sum_sq), (12, 18.0, 30.0));
        assert_eq!(w.coverage_below_one[0].sum, 12.0);
    }

    #[test]
    fn reused_records_start_empty() {
        let shape = Shape {
            columns: 2,
            periods: 1,
            weighted: true,
        };
        let a = Assembly::new(0..2, shape, room(10), SampleRows::default());
        let spare = a.finish(record(&a, 0, &[1, 2], 4));
        // The emptied record of block 0 comes back for the next block.
        let mut next = spare;
        next.start(1);
        assert!(next.stored.is_empty() && next.columns.iter().all(Vec::is_empty));
        assert_eq!((next.baseline_count, next.coverage_below_one[0]), (0, 0));
        let w = next.weights.as_ref().expect("weighted");
        assert!(w.stored.is_empty() && w.all.count == 0 && w.baseline.count == 0);
        a.finish(next);
        assert_eq!(a.into_run().stored, [1, 2]);
    }

    #[test]
    fn the_room_covers_the_rest_of_the_run_at_four_standard_errors() {
        let n = N as u64;
        let paths = 1000 * n;
        let room = Room {
            paths,
            most: usize::MAX,
        };
        for k in [0, 1, 40, 1390, n / 2, n - 1, n] {
            let rows = room.rows(k, n) as f64;
            // The rest's stored share estimated from the block, 4 standard errors up (Wald,
            // the Wilson bound's large-sample form): within 1% of the reservation.
            let p = k as f64 / n as f64;
            let wald = k as f64 + (p + 4.0 * (p * (1.0 - p) / n as f64).sqrt()) * (paths - n) as f64;
            assert!(
                rows >= wald * 0.99 && rows <= paths as f64,
                "k = {k}: {rows} vs {wald}"
            );
            if k > 100 {
                assert!(rows <= wald * 1.01, "k = {k}: {rows} vs {wald}");
            }
        }
        // With no stored path in the block, room for a share of about z^2 / n (16 / 4112).
        let none = room.rows(0, n) as f64 / (paths - n) as f64;
        assert!((none - 16.0 / (n + 16) as f64).abs() < 1e-6, "{none}");
        // A one-block run: exactly its rows. Never more than the estimate's.
        assert_eq!(Room { paths: n, most: 9 }.rows(5, n), 5);
        assert_eq!(Room { paths, most: 300 }.rows(100, n), 300);
        assert_eq!(Room { paths, most: 30 }.rows(100, n), 100);
    }

    #[test]
    fn exceeded_room_grows_to_the_estimate_then_by_an_eighth() {
        let room = Room { paths: 0, most: 1000 };
        assert_eq!(room.regrown(300, 200), 400);
        assert_eq!(room.regrown(700, 600), 1000);
        assert_eq!(room.regrown(900, 100), 900);
        assert_eq!(room.regrown(1600, 1000), 1800);
    }

    #[test]
    fn each_block_writes_its_own_rows_of_the_sample() {
        // Two periods over one whole block and 100 paths of the next; the third block has none.
        let mut coverage = vec![vec![0.0; N + 100]; 2];
        let mut weights = vec![0.0; N + 100];
        let shape = Shape {
            columns: 1,
            periods: 2,
            weighted: true,
        };
        {
            let a = Assembly::new(
                0..3,
                shape,
                room(10),
                SampleRows::of(&mut coverage, Some(&mut weights)),
            );
            let mut rows = SampleRows::default();
            for (block, len) in [(0, N), (1, 100), (2, 0)] {
                assert_eq!(a.claim(|_| N, &mut rows), Some(block));
                assert_eq!(rows.len, len);
                for row in [0, 5, 99, 100, N - 1] {
                    let x = (block as usize * 10_000 + row) as f64;
                    rows.write(row, &[x, -x], Some(x + 0.5));
                }
            }
            assert_eq!(a.claim(|_| N, &mut rows), None);
        }
        for (i, ((c0, c1), w)) in coverage[0].iter().zip(&coverage[1]).zip(&weights).enumerate() {
            let (block, row) = (i / N, i % N);
            let x = (block * 10_000 + row) as f64;
            let expected = if [0, 5, 99, 100, N - 1].contains(&row) {
                (x, -x, x + 0.5)
            } else {
                (0.0, 0.0, 0.0)
            };
            assert_eq!((*c0, *c1, *w), expected, "path {i}");
        }
    }
}
