//! Boot arguments: `--key=value` strings passed by the VMM (or argv on
//! hosted), parsed and checked once at boot.
//!
//! Every library declares the keys it reads with [`boot_arg!`](crate::boot_arg); the
//! declarations are gathered at link time, so `--help` lists every key the
//! image understands and an unknown or malformed key is an error at boot,
//! before the application runs.
//!
//! ```ignore
//! oasis_rt::boot_arg! {
//!     /// Port to serve on.
//!     pub static PORT: u16 = Arg::new("port", "UDP and TCP port to serve on").default("53");
//! }
//! let port: u16 = PORT.value().unwrap();
//! ```

use alloc::format;
use alloc::string::{String, ToString};
use alloc::vec::Vec;
use core::fmt;
use core::marker::PhantomData;

#[doc(hidden)]
pub use linkme;

/// Every key declared by every library linked into this image.
#[linkme::distributed_slice]
pub static ARGS: [&'static ArgSpec];

/// What a boot-argument key is: its name, help, and how to check a value.
#[derive(Debug)]
pub struct ArgSpec {
    /// The key, without the leading `--`.
    pub key: &'static str,
    /// What the value looks like in help text, e.g. `PORT` or `ADDR/PREFIX`.
    pub value_name: &'static str,
    /// One line of help.
    pub help: &'static str,
    /// The value used when the key is not given.
    pub default: Option<&'static str>,
    /// Whether the key may be given more than once.
    pub repeat: bool,
    /// Whether `--key` alone is allowed (it means `--key=true`).
    pub flag: bool,
    /// Checks a value, naming what was expected when it is wrong.
    pub check: fn(&str) -> Result<(), String>,
}

impl PartialEq for ArgSpec {
    fn eq(&self, other: &Self) -> bool {
        self.key == other.key
    }
}

impl Eq for ArgSpec {}

/// A typed boot-argument key. Declare one with [`boot_arg!`](crate::boot_arg).
pub struct Arg<T> {
    spec: ArgSpec,
    _type: PhantomData<fn() -> T>,
}

/// A type a boot-argument value can be parsed into.
pub trait FromArg: Sized {
    /// What a value looks like, for help text (`NUMBER`, `STRING`, …).
    const VALUE_NAME: &'static str;
    /// Parses one value; the error says what was expected.
    fn from_arg(s: &str) -> Result<Self, String>;
}

macro_rules! from_arg_int {
    ($($t:ty),*) => {$(
        impl FromArg for $t {
            const VALUE_NAME: &'static str = "NUMBER";
            fn from_arg(s: &str) -> Result<Self, String> {
                s.parse().map_err(|_| {
                    format!("expected an integer from {} to {}", <$t>::MIN, <$t>::MAX)
                })
            }
        }
    )*};
}
from_arg_int!(u8, u16, u32, u64, usize, i32, i64);

impl FromArg for bool {
    const VALUE_NAME: &'static str = "BOOL";
    fn from_arg(s: &str) -> Result<Self, String> {
        match s {
            "true" | "yes" | "1" | "on" => Ok(true),
            "false" | "no" | "0" | "off" => Ok(false),
            _ => Err("expected true or false".into()),
        }
    }
}

impl FromArg for String {
    const VALUE_NAME: &'static str = "STRING";
    fn from_arg(s: &str) -> Result<Self, String> {
        Ok(s.to_string())
    }
}

fn check_as<T: FromArg>(s: &str) -> Result<(), String> {
    T::from_arg(s).map(|_| ())
}

impl<T: FromArg> Arg<T> {
    /// A key named `key` with one line of `help`.
    pub const fn new(key: &'static str, help: &'static str) -> Self {
        Arg {
            spec: ArgSpec {
                key,
                value_name: T::VALUE_NAME,
                help,
                default: None,
                repeat: false,
                flag: false,
                check: check_as::<T>,
            },
            _type: PhantomData,
        }
    }

    /// Uses `value` when the key is not given.
    pub const fn default(mut self, value: &'static str) -> Self {
        self.spec.default = Some(value);
        self
    }

    /// Allows the key to be given several times (see [`Arg::values`]).
    pub const fn repeat(mut self) -> Self {
        self.spec.repeat = true;
        self
    }

    /// Names the value in help text (`ADDR/PREFIX`, `FILE`, …).
    pub const fn value_name(mut self, name: &'static str) -> Self {
        self.spec.value_name = name;
        self
    }

    /// The key's description.
    pub const fn spec(&'static self) -> &'static ArgSpec {
        &self.spec
    }

    /// The value in `args`, or the default; `None` if neither exists.
    pub fn value_in(&self, args: &Args) -> Option<T> {
        let raw = args
            .raw(self.spec.key)
            .last()
            .copied()
            .or(self.spec.default)?;
        // Checked at parse time, so this cannot fail for parsed arguments.
        T::from_arg(raw).ok()
    }

    /// Every value given in `args` (the default if none was given).
    pub fn values_in(&self, args: &Args) -> Vec<T> {
        let mut raw = args.raw(self.spec.key);
        if raw.is_empty()
            && let Some(d) = self.spec.default
        {
            raw.push(d);
        }
        raw.into_iter()
            .filter_map(|s| T::from_arg(s).ok())
            .collect()
    }

    /// The value given at boot, or the default.
    pub fn value(&self) -> Option<T> {
        self.value_in(boot_args())
    }

    /// Every value given at boot.
    pub fn values(&self) -> Vec<T> {
        self.values_in(boot_args())
    }

    /// Whether the key was given at boot.
    pub fn is_set(&self) -> bool {
        !boot_args().raw(self.spec.key).is_empty()
    }
}

impl Arg<bool> {
    /// A key that may be given alone (`--dhcp`), meaning true.
    pub const fn flag(key: &'static str, help: &'static str) -> Self {
        let mut arg = Self::new(key, help);
        arg.spec.flag = true;
        arg.spec.default = Some("false");
        arg
    }

    /// Whether the flag is on.
    pub fn on(&self) -> bool {
        self.value().unwrap_or(false)
    }
}

/// Declares a boot-argument key and registers it for `--help` and checking.
#[macro_export]
macro_rules! boot_arg {
    ($(#[$meta:meta])* $vis:vis static $name:ident : $t:ty = $init:expr;) => {
        $(#[$meta])*
        $vis static $name: $crate::args::Arg<$t> = {
            #[allow(unused_imports)]
            use $crate::args::Arg;
            $init
        };
        const _: () = {
            #[$crate::args::linkme::distributed_slice($crate::args::ARGS)]
            #[linkme(crate = $crate::args::linkme)]
            static SPEC: &$crate::args::ArgSpec = $name.spec();
        };
    };
}

/// Why the boot arguments were refused. Each message names the key.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ArgError {
    /// `--help` was given: print [`help`] and stop.
    Help,
    /// An argument that is not `--key` or `--key=value`.
    NotAKey(String),
    /// A key no library declares.
    Unknown(String),
    /// A non-flag key given without `=value`.
    MissingValue(&'static ArgSpec),
    /// A value the key's type does not accept.
    Invalid(&'static ArgSpec, String, String),
    /// A key that may appear once, given twice.
    Repeated(&'static ArgSpec),
}

impl fmt::Display for ArgError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ArgError::Help => f.write_str("help requested"),
            ArgError::NotAKey(a) => {
                write!(f, "boot argument `{a}`: expected --key=value (see --help)")
            }
            ArgError::Unknown(k) => write!(f, "boot argument --{k}: unknown key (see --help)"),
            ArgError::MissingValue(s) => write!(
                f,
                "boot argument --{}: missing value (expected --{}={})",
                s.key, s.key, s.value_name
            ),
            ArgError::Invalid(s, v, why) => {
                write!(
                    f,
                    "boot argument --{}={v}: invalid {}: {why}",
                    s.key, s.value_name
                )
            }
            ArgError::Repeated(s) => {
                write!(f, "boot argument --{}: given more than once", s.key)
            }
        }
    }
}

impl core::error::Error for ArgError {}

/// Parsed and checked boot arguments.
#[derive(Debug, Default)]
pub struct Args {
    given: Vec<(&'static str, String)>,
}

impl Args {
    /// Parses `raw` against the keys declared in this image.
    pub fn parse<S: AsRef<str>>(raw: &[S]) -> Result<Args, ArgError> {
        Self::parse_with(raw, &ARGS)
    }

    /// Parses `raw` against an explicit list of keys.
    pub fn parse_with<S: AsRef<str>>(
        raw: &[S],
        specs: &[&'static ArgSpec],
    ) -> Result<Args, ArgError> {
        let mut given: Vec<(&'static str, String)> = Vec::new();
        for arg in raw {
            let arg = arg.as_ref();
            if arg == "--help" || arg == "-h" {
                return Err(ArgError::Help);
            }
            let Some(body) = arg.strip_prefix("--").filter(|b| !b.is_empty()) else {
                return Err(ArgError::NotAKey(arg.to_string()));
            };
            let (key, value) = match body.split_once('=') {
                Some((k, v)) => (k, Some(v)),
                None => (body, None),
            };
            let spec = *specs
                .iter()
                .find(|s| s.key == key)
                .ok_or_else(|| ArgError::Unknown(key.to_string()))?;
            let value = match value {
                Some(v) => v,
                None if spec.flag => "true",
                None => return Err(ArgError::MissingValue(spec)),
            };
            (spec.check)(value).map_err(|why| ArgError::Invalid(spec, value.to_string(), why))?;
            if !spec.repeat && given.iter().any(|(k, _)| *k == spec.key) {
                return Err(ArgError::Repeated(spec));
            }
            given.push((spec.key, value.to_string()));
        }
        Ok(Args { given })
    }

    /// The raw values given for `key`, in order.
    pub fn raw(&self, key: &str) -> Vec<&str> {
        self.given
            .iter()
            .filter(|(k, _)| *k == key)
            .map(|(_, v)| v.as_str())
            .collect()
    }
}

static BOOT_ARGS: spin::Once<Args> = spin::Once::new();

/// Parses the boot arguments and makes them the image's arguments.
/// Called once by the platform at boot.
pub fn init<S: AsRef<str>>(raw: &[S]) -> Result<&'static Args, ArgError> {
    let args = Args::parse(raw)?;
    Ok(BOOT_ARGS.call_once(|| args))
}

/// The image's boot arguments (empty before [`init`]).
pub fn boot_args() -> &'static Args {
    static EMPTY: Args = Args { given: Vec::new() };
    BOOT_ARGS.get().unwrap_or(&EMPTY)
}

/// The `--help` text: every declared key, sorted.
pub fn help() -> String {
    help_for(&ARGS)
}

/// The help text for an explicit list of keys.
pub fn help_for(specs: &[&'static ArgSpec]) -> String {
    let mut specs: Vec<&ArgSpec> = specs.to_vec();
    specs.sort_by_key(|s| s.key);
    let mut out = String::from("boot arguments (--key=value):\n");
    let shown: Vec<String> = specs
        .iter()
        .map(|s| {
            let mut k = format!("--{}", s.key);
            if s.flag {
                k.push_str(&format!("[={}]", s.value_name));
            } else {
                k.push_str(&format!("={}", s.value_name));
            }
            if s.repeat {
                k.push_str(" ...");
            }
            k
        })
        .collect();
    let width = shown.iter().map(|s| s.len()).max().unwrap_or(0);
    for (s, k) in specs.iter().zip(&shown) {
        out.push_str(&format!("  {k:width$}  {}", s.help));
        if let Some(d) = s.default.filter(|_| !s.flag) {
            out.push_str(&format!(" (default {d})"));
        }
        out.push('\n');
    }
    if specs.is_empty() {
        out.push_str("  (none)\n");
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    static PORT: Arg<u16> = Arg::new("port", "port to serve on").default("53");
    static ZONE: Arg<String> = Arg::new("zone-file", "zone file to load")
        .repeat()
        .value_name("FILE");
    static DHCP: Arg<bool> = Arg::flag("dhcp", "use DHCP");
    static SPECS: [&ArgSpec; 3] = [PORT.spec(), ZONE.spec(), DHCP.spec()];

    fn parse(raw: &[&str]) -> Result<Args, ArgError> {
        Args::parse_with(raw, &SPECS)
    }

    #[test]
    fn typed_values_defaults_and_repeats() {
        let a = parse(&["--port=5353", "--zone-file=a", "--zone-file=b", "--dhcp"]).unwrap();
        assert_eq!(PORT.value_in(&a), Some(5353));
        assert_eq!(ZONE.values_in(&a), ["a", "b"]);
        assert_eq!(DHCP.value_in(&a), Some(true));
        let empty = parse(&[]).unwrap();
        assert_eq!(PORT.value_in(&empty), Some(53));
        assert_eq!(ZONE.value_in(&empty), None);
        assert_eq!(DHCP.value_in(&empty), Some(false));
        let off = parse(&["--dhcp=false"]).unwrap();
        assert_eq!(DHCP.value_in(&off), Some(false));
    }

    #[test]
    fn every_error_names_the_key() {
        let cases: [(&[&str], &str); 6] = [
            (
                &["--port=abc"],
                "--port=abc: invalid NUMBER: expected an integer from 0 to 65535",
            ),
            (&["--port=70000"], "--port=70000"),
            (&["--bogus=1"], "--bogus: unknown key"),
            (
                &["--port"],
                "--port: missing value (expected --port=NUMBER)",
            ),
            (&["--port=1", "--port=2"], "--port: given more than once"),
            (&["port=1"], "`port=1`: expected --key=value"),
        ];
        for (raw, want) in cases {
            let err = parse(raw).unwrap_err().to_string();
            assert!(err.contains(want), "{raw:?}: got {err:?}, want {want:?}");
        }
        assert!(
            parse(&["--dhcp=maybe"])
                .unwrap_err()
                .to_string()
                .contains("--dhcp=maybe")
        );
        assert_eq!(parse(&["--"]).unwrap_err(), ArgError::NotAKey("--".into()));
        assert_eq!(parse(&["--port=1", "--help"]).unwrap_err(), ArgError::Help);
    }

    #[test]
    fn help_lists_every_key_with_defaults() {
        let h = help_for(&SPECS);
        assert!(h.contains("--port=NUMBER"), "{h}");
        assert!(h.contains("(default 53)"), "{h}");
        assert!(h.contains("--zone-file=FILE ..."), "{h}");
        assert!(h.contains("--dhcp[=BOOL]"), "{h}");
        let dhcp = h.find("--dhcp").unwrap();
        let port = h.find("--port").unwrap();
        assert!(dhcp < port, "sorted: {h}");
    }
}
