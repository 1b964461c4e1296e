//! people: MirageOS's original storage example as an oasis unikernel.
//!
//! A `Person { name, age }` record type on the `storage` block device.
//! `--add=NAME:AGE` saves a person (repeatable); `--older-than=N` prints the
//! people older than N, one per line as `NAME AGE`, youngest first. Data
//! saved in one boot is found in the next. `--fill=N` is the crash-test
//! writer: it commits N numbered pairs of people, one transaction per pair,
//! and prints `committed I` once pair I is durable.
#![no_std]
#![no_main]

extern crate alloc;

use alloc::format;
use alloc::string::{String, ToString};
use oasis::rt::args::FromArg;
use oasis_store::{Record, Store};

/// A person, keyed by name, indexed by age.
#[derive(Record, Debug, Clone, PartialEq)]
struct Person {
    #[key]
    name: String,
    #[index]
    age: u32,
}

/// A person as given on the command line: `NAME:AGE`.
#[derive(Debug, Clone)]
struct NewPerson(Person);

impl FromArg for NewPerson {
    const VALUE_NAME: &'static str = "NAME:AGE";
    fn from_arg(s: &str) -> Result<Self, String> {
        let (name, age) = s
            .rsplit_once(':')
            .ok_or_else(|| "expected NAME:AGE, e.g. alice:31".to_string())?;
        if name.is_empty() || name.contains(char::is_whitespace) {
            return Err("expected a name without spaces before the ':'".into());
        }
        let age = age
            .parse()
            .map_err(|_| format!("expected an age from 0 to {} after the ':'", u32::MAX))?;
        Ok(NewPerson(Person {
            name: name.into(),
            age,
        }))
    }
}

oasis::boot_arg! {
    /// People to save.
    static ADD: NewPerson = Arg::new("add", "save a person, NAME:AGE (repeatable)").repeat();
}
oasis::boot_arg! {
    /// Age to print the people older than.
    static OLDER_THAN: u32 = Arg::new("older-than", "print the people older than this age, one per line as NAME AGE");
}
oasis::boot_arg! {
    /// Crash-test writer: pairs to commit.
    static FILL: u64 = Arg::new("fill", "commit this many numbered pairs of people, printing `committed I` after each");
}

fn print(line: &str) {
    let console = oasis::rt::platform::console();
    console.write(line.as_bytes());
    console.write(b"\n");
}

#[oasis::main(block = "storage")]
async fn main(mut env: oasis::Env) -> oasis::Result {
    let disk = env.block("storage")?;
    let db = Store::builder().record::<Person>().open(disk)?;
    let add = ADD.values();
    if !add.is_empty() {
        db.write(|tx| {
            for NewPerson(p) in &add {
                tx.save(p)?;
            }
            Ok(())
        })?;
    }
    if let Some(n) = FILL.value() {
        for i in 0..n {
            db.write(|tx| {
                tx.save(&Person {
                    name: format!("p{i:08}"),
                    age: i as u32,
                })?;
                tx.save(&Person {
                    name: format!("q{i:08}"),
                    age: i as u32,
                })
            })?;
            print(&format!("committed {i}"));
        }
    }
    if let Some(age) = OLDER_THAN.value() {
        for p in db.query::<Person>().age().gt(age).age().asc().fetch()? {
            print(&format!("{} {}", p.name, p.age));
        }
    }
    Ok(())
}
