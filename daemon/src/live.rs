//! [`Live`]: a value a reload replaces while other threads keep reading it
//! (the HTTPS generation, the forwarding tables). One implementation serves
//! the whole workspace: `wingress_sync`'s.

pub(crate) use wingress_sync::{Live, LiveReader};
