//! What the process needs from the operating system, below everything
//! else: the allocator, the few raw system calls, logging, the node's
//! address, and private key files. Imports nothing of the daemon.

pub mod alloc;
pub(crate) mod keyfile;
pub(crate) mod logging;
pub(crate) mod node;
pub(crate) mod sys;
