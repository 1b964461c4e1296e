//! Logging through the `log` facade to the platform console, one line per
//! record, stamped with wall-clock time (UTC, millisecond resolution).

use core::fmt::{self, Write};

use crate::args::FromArg;
use crate::platform;

crate::boot_arg! {
    /// The most verbose level logged.
    pub static LOG_LEVEL: Level = Arg::new("log-level", "most verbose level logged: error, warn, info, debug, trace, off")
        .default("info");
}

/// A log level as a boot argument.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Level(pub log::LevelFilter);

impl FromArg for Level {
    const VALUE_NAME: &'static str = "LEVEL";
    fn from_arg(s: &str) -> Result<Self, alloc::string::String> {
        s.parse()
            .map(Level)
            .map_err(|_| "expected one of off, error, warn, info, debug, trace".into())
    }
}

struct ConsoleLogger;

static LOGGER: ConsoleLogger = ConsoleLogger;

/// Installs the console logger at the level given by `--log-level`.
pub fn init() {
    let level = LOG_LEVEL.value().map_or(log::LevelFilter::Info, |l| l.0);
    // A second init (tests) keeps the first logger; that is fine.
    let _ = log::set_logger(&LOGGER);
    log::set_max_level(level);
}

/// A fixed line buffer: formatting a record never allocates. Overlong lines
/// are cut, ending in `…`.
struct Line {
    buf: [u8; 1024],
    len: usize,
    cut: bool,
}

impl Write for Line {
    fn write_str(&mut self, s: &str) -> fmt::Result {
        let room = self.buf.len() - 4 - self.len;
        let take = if s.len() <= room {
            s.len()
        } else {
            self.cut = true;
            (0..=room)
                .rev()
                .find(|&i| s.is_char_boundary(i))
                .unwrap_or(0)
        };
        self.buf[self.len..self.len + take].copy_from_slice(&s.as_bytes()[..take]);
        self.len += take;
        Ok(())
    }
}

impl log::Log for ConsoleLogger {
    fn enabled(&self, metadata: &log::Metadata) -> bool {
        metadata.level() <= log::max_level()
    }

    fn log(&self, record: &log::Record) {
        if !self.enabled(record.metadata()) {
            return;
        }
        let Some(services) = platform::services() else {
            return;
        };
        let mut line = Line {
            buf: [0; 1024],
            len: 0,
            cut: false,
        };
        let _ = write!(
            line,
            "{} {:5} {}: {}",
            Timestamp(services.clock.wall_ns()),
            record.level(),
            record.target(),
            record.args()
        );
        if line.cut {
            let _ = line.write_str("…");
        }
        line.buf[line.len] = b'\n';
        services.console.write(&line.buf[..line.len + 1]);
    }

    fn flush(&self) {}
}

/// Nanoseconds since the Unix epoch, shown as RFC 3339 UTC with milliseconds.
#[derive(Debug, Clone, Copy)]
pub struct Timestamp(pub u64);

impl fmt::Display for Timestamp {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let secs = self.0 / 1_000_000_000;
        let millis = (self.0 / 1_000_000) % 1000;
        let (y, m, d) = civil_from_days((secs / 86_400) as i64);
        let s = secs % 86_400;
        write!(
            f,
            "{y:04}-{m:02}-{d:02}T{:02}:{:02}:{:02}.{millis:03}Z",
            s / 3600,
            s / 60 % 60,
            s % 60
        )
    }
}

/// Days since 1970-01-01 to (year, month, day) in the proleptic Gregorian calendar.
fn civil_from_days(z: i64) -> (i64, u32, u32) {
    let z = z + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = (doy - (153 * mp + 2) / 5 + 1) as u32;
    let m = if mp < 10 { mp + 3 } else { mp - 9 } as u32;
    let y = yoe + era * 400 + i64::from(m <= 2);
    (y, m, d)
}

#[cfg(test)]
mod tests {
    use super::*;
    use alloc::string::ToString;

    #[test]
    fn timestamps_are_rfc3339_utc() {
        assert_eq!(Timestamp(0).to_string(), "1970-01-01T00:00:00.000Z");
        // 2026-11-27T05:30:01.123Z
        assert_eq!(
            Timestamp(1_795_757_401_123_000_000).to_string(),
            "2026-11-27T05:30:01.123Z"
        );
        // A leap day.
        assert_eq!(
            Timestamp(951_782_400_000_000_000).to_string(),
            "2000-02-29T00:00:00.000Z"
        );
    }

    #[test]
    fn long_lines_are_cut_on_a_char_boundary() {
        let mut line = Line {
            buf: [0; 1024],
            len: 0,
            cut: false,
        };
        for _ in 0..600 {
            let _ = line.write_str("é");
        }
        assert!(line.cut);
        assert!(core::str::from_utf8(&line.buf[..line.len]).is_ok());
    }
}
