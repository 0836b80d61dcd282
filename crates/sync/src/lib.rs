//! State shared across wingress's threads, in the one way every crate and
//! the daemon use it:
//!
//! - [`Live`]: a value that a reload replaces while other threads keep
//!   reading it, with [`LiveReader`]s whose read is one atomic load.
//! - [`lock`], [`read`], [`write()`]: take a `Mutex` or `RwLock` even when a
//!   thread panicked while holding it.
//!
//! The crate depends on nothing, so the lowest library crates can use it.

#![forbid(unsafe_code)]

mod live;
mod lock;

pub use live::{Live, LiveReader};
pub use lock::{lock, read, write};
