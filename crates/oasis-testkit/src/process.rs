//! A process under test whose output goes to a log file, read while it
//! runs; killed (by its pid) and its log removed when dropped, also when
//! the test panics.

use std::fs::File;
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// Runs `cmd` to its end; it must succeed (the panic shows its stderr).
pub fn run(cmd: &mut Command) {
    let out = cmd.output().unwrap_or_else(|e| panic!("run {cmd:?}: {e}"));
    assert!(
        out.status.success(),
        "{cmd:?} failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
}

/// A started process and its log.
pub struct Logged {
    child: Child,
    log: PathBuf,
}

impl Logged {
    /// Starts `cmd` with stdout and stderr in `$TMPDIR/oasis-TAG-PID-N.log`,
    /// N counting the processes this test binary started: two tests of one
    /// binary that run the same app at once (tests run in parallel) each
    /// get their own log, and neither truncates the other's.
    pub fn start(mut cmd: Command, tag: &str) -> Logged {
        static STARTED: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(0);
        let n = STARTED.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        let log = std::env::temp_dir().join(format!("oasis-{tag}-{}-{n}.log", std::process::id()));
        let out = File::create(&log).expect("create the log");
        let err = out.try_clone().expect("clone the log handle");
        let child = cmd
            .stdout(Stdio::from(out))
            .stderr(Stdio::from(err))
            .stdin(Stdio::null())
            .spawn()
            .unwrap_or_else(|e| panic!("start {cmd:?}: {e}"));
        Logged { child, log }
    }

    /// Everything written so far.
    pub fn output(&self) -> String {
        std::fs::read_to_string(&self.log).unwrap_or_default()
    }

    /// Waits up to `limit` for a line containing `needle` and returns it;
    /// panics with the log if the process exits first or time runs out.
    pub fn wait_for(&mut self, needle: &str, limit: Duration) -> String {
        let start = Instant::now();
        loop {
            let out = self.output();
            if let Some(line) = out.lines().find(|l| l.contains(needle)) {
                return line.to_string();
            }
            if let Ok(Some(status)) = self.child.try_wait() {
                panic!("exited ({status}) before `{needle}`:\n{out}");
            }
            assert!(
                start.elapsed() < limit,
                "no `{needle}` within {limit:?}:\n{out}"
            );
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    /// The last line containing `needle`, if any.
    pub fn last_line(&self, needle: &str) -> Option<String> {
        self.output()
            .lines()
            .rev()
            .find(|l| l.contains(needle))
            .map(str::to_string)
    }

    /// The process's id (for a signal of the test's own choosing).
    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    /// CPU time the process has used so far (user + system), from
    /// /proc/PID/stat; `None` once it is gone.
    pub fn cpu_time(&self) -> Option<Duration> {
        cpu_time(self.child.id())
    }

    /// Whether the process still runs.
    pub fn alive(&mut self) -> bool {
        matches!(self.child.try_wait(), Ok(None))
    }

    /// [`Logged::stop`], waiting at most `limit` for the exit (then the
    /// process is killed when dropped, and this panics with the log).
    pub fn stop_within(mut self, signal: libc::c_int, limit: Duration) -> (Option<i32>, String) {
        // SAFETY: kill(2) on our own child's pid.
        unsafe { libc::kill(self.child.id() as libc::pid_t, signal) };
        let start = Instant::now();
        loop {
            if let Ok(Some(status)) = self.child.try_wait() {
                return (status.code(), self.output());
            }
            assert!(
                start.elapsed() < limit,
                "still running {limit:?} after signal {signal}:\n{}",
                self.output()
            );
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    /// Sends `signal` (to this process's pid only), waits for the exit and
    /// returns its status code (`None` if a signal ended it) and the log.
    pub fn stop(mut self, signal: libc::c_int) -> (Option<i32>, String) {
        // SAFETY: kill(2) on our own child's pid.
        unsafe { libc::kill(self.child.id() as libc::pid_t, signal) };
        let status = self.child.wait().expect("wait for the process");
        (status.code(), self.output())
    }
}

/// CPU time (user + system) process `pid` has used, from /proc/PID/stat.
pub fn cpu_time(pid: u32) -> Option<Duration> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    // The command name (field 2) may hold spaces: count from after its ')'.
    let rest = &stat[stat.rfind(')')? + 2..];
    let fields: Vec<&str> = rest.split(' ').collect();
    // utime and stime are fields 14 and 15 of the whole line, 12 and 13 here.
    let ticks: u64 = fields.get(11)?.parse::<u64>().ok()? + fields.get(12)?.parse::<u64>().ok()?;
    // SAFETY: sysconf has no preconditions.
    let hz = unsafe { libc::sysconf(libc::_SC_CLK_TCK) }.max(1) as u64;
    Some(Duration::from_nanos(ticks * 1_000_000_000 / hz))
}

impl Drop for Logged {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
        let _ = std::fs::remove_file(&self.log);
    }
}
