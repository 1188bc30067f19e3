//! The memory this process may still take, for the memory checks of a stored or streamed run
//! ([`crate::job::Budget`]): the least of three bounds, each where it is set.
//!
//! - **The machine**: `MemAvailable` of `/proc/meminfo`.
//! - **The container**: its control group's memory limit less what the group uses, not counting
//!   the page cache the kernel can drop (`inactive_file`), as container tools count it. Inside a
//!   container `/proc/meminfo` shows the host's memory, so without this bound a run could plan for
//!   memory its container will never give it, and be killed. cgroup v2 (`memory.max`,
//!   `memory.current`, `memory.stat`) and v1 (`memory.limit_in_bytes`, `memory.usage_in_bytes`,
//!   `total_inactive_file`) are both read, at the process's own group.
//! - **The address-space limit** (`ulimit -v`, `RLIMIT_AS`): the soft limit of
//!   `/proc/self/limits` less the address space the process has mapped (`VmSize` of
//!   `/proc/self/status`) and less [`ARENA_RESERVE`] for each worker thread a run starts (one
//!   per core, the default; at most half of what is left). Past it an allocation fails.
//!
//! The readers are pure functions of the files' texts, tested on sample texts; [`available`]
//! reads the files. Where a file is missing or unreadable its bound is simply not known.

use std::path::{Path, PathBuf};

/// Which bound is the least.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Bound {
    /// The machine's available memory.
    Machine,
    /// The container's (control group's) memory limit.
    Container,
    /// The address-space limit (`ulimit -v`).
    AddressSpace,
}

impl Bound {
    /// How a message names the bound.
    pub fn describe(self) -> &'static str {
        match self {
            Bound::Machine => "this machine's available memory",
            Bound::Container => "the memory left under this container's limit",
            Bound::AddressSpace => "the address space left under this process's limit (ulimit -v)",
        }
    }
}

/// The memory this process may still take, and which bound set it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Available {
    pub bytes: u64,
    pub bound: Bound,
}

/// The least of the bounds this process can read; `None` when it can read none.
pub fn available() -> Option<Available> {
    let read = |p: &Path| std::fs::read_to_string(p).ok();
    let machine = read(Path::new("/proc/meminfo")).and_then(|t| machine(&t));
    let container = read(Path::new("/proc/self/cgroup")).and_then(|groups| {
        cgroup_files(&groups).into_iter().find_map(|files| {
            let limit = read(&files.limit)?;
            let usage = read(&files.usage)?;
            let stat = read(&files.stat).unwrap_or_default();
            Some(container(&limit, &usage, &stat, files.inactive_key))
        })
    });
    let address_space = match (
        read(Path::new("/proc/self/limits")),
        read(Path::new("/proc/self/status")),
    ) {
        (Some(limits), Some(status)) => address_space(&limits, &status),
        _ => None,
    };
    let cores = std::thread::available_parallelism().map_or(1, usize::from);
    let address_space = address_space.map(|bytes| less_arenas(bytes, cores));
    least([
        machine.map(|bytes| (bytes, Bound::Machine)),
        container.flatten().map(|bytes| (bytes, Bound::Container)),
        address_space.map(|bytes| (bytes, Bound::AddressSpace)),
    ])
}

/// The smallest of the known bounds (the first of equals).
fn least(bounds: [Option<(u64, Bound)>; 3]) -> Option<Available> {
    bounds
        .into_iter()
        .flatten()
        .min_by_key(|(bytes, _)| *bytes)
        .map(|(bytes, bound)| Available { bytes, bound })
}

/// `MemAvailable` (kB) of `/proc/meminfo`, in bytes.
fn machine(meminfo: &str) -> Option<u64> {
    kib_field(meminfo, "MemAvailable:")
}

/// The value of the `key` line of a `/proc` file in kB (`MemAvailable:  123 kB`), in bytes.
fn kib_field(text: &str, key: &str) -> Option<u64> {
    let line = text.lines().find(|l| l.starts_with(key))?;
    let kib: u64 = line[key.len()..].split_whitespace().next()?.parse().ok()?;
    Some(kib.saturating_mul(1024))
}

/// A control group's memory files.
#[derive(Debug, Clone, PartialEq, Eq)]
struct CgroupFiles {
    limit: PathBuf,
    usage: PathBuf,
    stat: PathBuf,
    /// The key of the inactive page cache in `stat`.
    inactive_key: &'static str,
}

/// The memory files of the process's control groups, from `/proc/self/cgroup`: the v2 group
/// (`0::/path`) and the v1 memory group (`N:memory:/path`), each at its own path and, for a
/// container whose group namespace hides the path, at the root.
fn cgroup_files(groups: &str) -> Vec<CgroupFiles> {
    let mut out = Vec::new();
    for line in groups.lines() {
        let mut parts = line.splitn(3, ':');
        let (Some(id), Some(controllers), Some(path)) = (parts.next(), parts.next(), parts.next()) else {
            continue;
        };
        let path = path.trim_start_matches('/');
        let (root, limit, usage, inactive_key) = if id == "0" && controllers.is_empty() {
            ("/sys/fs/cgroup", "memory.max", "memory.current", "inactive_file")
        } else if controllers.split(',').any(|c| c == "memory") {
            (
                "/sys/fs/cgroup/memory",
                "memory.limit_in_bytes",
                "memory.usage_in_bytes",
                "total_inactive_file",
            )
        } else {
            continue;
        };
        let mut dirs = vec![Path::new(root).join(path)];
        if !path.is_empty() {
            dirs.push(PathBuf::from(root));
        }
        out.extend(dirs.into_iter().map(|dir| CgroupFiles {
            limit: dir.join(limit),
            usage: dir.join(usage),
            stat: dir.join("memory.stat"),
            inactive_key,
        }));
    }
    out
}

/// Limits at or above this are "no limit" (cgroup v1 writes 2^63 less a page).
const NO_LIMIT: u64 = 1 << 62;

/// The memory left under a control group's limit, `limit - (usage - inactive page cache)`;
/// `None` when the group has no limit (`max`, or a huge number).
fn container(limit: &str, usage: &str, stat: &str, inactive_key: &str) -> Option<u64> {
    let limit: u64 = limit.trim().parse().ok().filter(|&l| l < NO_LIMIT)?;
    let usage: u64 = usage.trim().parse().ok()?;
    let inactive = stat
        .lines()
        .find_map(|l| {
            l.strip_prefix(inactive_key)?
                .strip_prefix(' ')?
                .trim()
                .parse()
                .ok()
        })
        .unwrap_or(0u64);
    Some(limit.saturating_sub(usage.saturating_sub(inactive)))
}

/// The address space left under the soft `Max address space` limit of `/proc/self/limits`,
/// less `VmSize` of `/proc/self/status`; `None` when unlimited.
fn address_space(limits: &str, status: &str) -> Option<u64> {
    let line = limits.lines().find(|l| l.starts_with("Max address space"))?;
    let soft: u64 = line["Max address space".len()..]
        .split_whitespace()
        .next()?
        .parse()
        .ok()?;
    let used = kib_field(status, "VmSize:")?;
    Some(soft.saturating_sub(used))
}

/// The address space glibc's allocator maps for each thread that allocates, an arena of its
/// own (`HEAP_MAX_SIZE` on 64-bit systems, up to 8 arenas a core): mostly never touched, so not
/// resident memory, but address space all the same. Measured: a streamed run of 6 million
/// flagship paths on 2 threads maps 487 MiB at its peak for 162 MiB resident.
pub const ARENA_RESERVE: u64 = 64 << 20;

/// The address space left, `bytes`, less [`ARENA_RESERVE`] for each of `threads` worker threads
/// yet to start, but at most half of it: on a machine of many cores an arena that finds no room
/// is simply not made (glibc then maps that thread's allocations one by one), so the reserve
/// must not take all the room.
fn less_arenas(bytes: u64, threads: usize) -> u64 {
    bytes - ARENA_RESERVE.saturating_mul(threads as u64).min(bytes / 2)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_machine_bound_is_mem_available() {
        let meminfo = "MemTotal:       24000000 kB\nMemFree:         1000 kB\nMemAvailable:   20000000 kB\n";
        assert_eq!(machine(meminfo), Some(20_000_000 * 1024));
        assert_eq!(machine("MemTotal: 5 kB\n"), None);
    }

    #[test]
    fn a_container_bound_is_its_limit_less_what_it_cannot_drop() {
        let stat = "anon 100\nfile 900\ninactive_file 600\nactive_file 300\n";
        // 2 GiB limit, 1 GiB used of which 600 bytes inactive page cache.
        assert_eq!(
            container("2147483648\n", "1073741824\n", stat, "inactive_file"),
            Some(2147483648 - (1073741824 - 600))
        );
        // v1: the key is total_inactive_file; inactive_file must not be taken for it.
        let v1 = "inactive_file 5\ntotal_inactive_file 7\n";
        assert_eq!(container("100", "50", v1, "total_inactive_file"), Some(57));
        // No limit.
        assert_eq!(container("max\n", "123\n", "", "inactive_file"), None);
        assert_eq!(
            container("9223372036854771712", "123", "", "total_inactive_file"),
            None
        );
        // Over the limit: nothing left.
        assert_eq!(container("100", "150", "", "inactive_file"), Some(0));
    }

    #[test]
    fn cgroup_files_are_found_for_v1_and_v2() {
        let v1 = "4:memory:/job/7\n3:cpu,cpuacct:/\n0::/\n";
        let files = cgroup_files(v1);
        let limits: Vec<_> = files.iter().map(|f| f.limit.display().to_string()).collect();
        assert_eq!(
            limits,
            [
                "/sys/fs/cgroup/memory/job/7/memory.limit_in_bytes",
                "/sys/fs/cgroup/memory/memory.limit_in_bytes",
                "/sys/fs/cgroup/memory.max",
            ]
        );
        assert_eq!(files[0].inactive_key, "total_inactive_file");
        assert_eq!(files[2].inactive_key, "inactive_file");
        let v2 = cgroup_files("0::/user.slice/a.scope\n");
        assert_eq!(
            v2[0].usage,
            Path::new("/sys/fs/cgroup/user.slice/a.scope/memory.current")
        );
        assert_eq!(v2[1].usage, Path::new("/sys/fs/cgroup/memory.current"));
    }

    #[test]
    fn the_address_space_bound_is_the_soft_limit_less_what_is_mapped() {
        let status = "Name:\tipabs\nVmPeak:\t  9000 kB\nVmSize:\t  4000 kB\n";
        let limited = "Limit                     Soft Limit           Hard Limit           Units     \n\
                       Max address space         1073741824           unlimited            bytes     \n";
        assert_eq!(address_space(limited, status), Some(1073741824 - 4000 * 1024));
        let unlimited = "Max address space         unlimited            unlimited            bytes     \n";
        assert_eq!(address_space(unlimited, status), None);
    }

    #[test]
    fn each_worker_thread_is_left_its_arena() {
        assert_eq!(less_arenas(1 << 30, 2), (1 << 30) - (128 << 20));
        // Never more than half: 64 cores under 2 GiB keep 1 GiB.
        assert_eq!(less_arenas(2 << 30, 64), 1 << 30);
        assert_eq!(less_arenas(100 << 20, 2), 50 << 20);
        assert_eq!(less_arenas(0, 2), 0);
    }

    #[test]
    fn the_least_bound_wins() {
        let a = least([
            Some((30, Bound::Machine)),
            Some((20, Bound::Container)),
            Some((25, Bound::AddressSpace)),
        ]);
        assert_eq!(
            a,
            Some(Available {
                bytes: 20,
                bound: Bound::Container
            })
        );
        assert_eq!(least([None, None, None]), None);
        assert_eq!(
            least([Some((5, Bound::Machine)), None, Some((5, Bound::AddressSpace))]).map(|a| a.bound),
            Some(Bound::Machine)
        );
    }
}
