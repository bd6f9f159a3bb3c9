//! The process's memory allocator (mimalloc) and the one setting it runs with: how soon freed
//! memory goes back to the operating system. The only place in the workspace allowed `unsafe`
//! (two calls into mimalloc's C API, to set the delay and to read it back; `unsafe_code` is
//! denied everywhere else).

use std::ffi::c_long;

/// Imports allocate millions of small strings; mimalloc keeps that cheap (glibc's malloc
/// was over half of a province-scale import's profile).
#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

/// Milliseconds a batch command's mimalloc keeps freed memory before returning it to the
/// operating system (mimalloc 2's default).
///
/// mimalloc 3 keeps it 1,000 ms. An import frees the workbook's text while it builds rows, and
/// the reading threads' pages are freed by the checking one, so with that default a province
/// re-import peaked at 247–290 MB of RSS, about 100 MB of it freed memory not yet returned
/// (docs/benchmarks.md, "The allocator's purge delay, built in").
pub const PURGE_DELAY_MS: c_long = 10;

/// `mi_option_purge_delay` in mimalloc.h's `mi_option_e` (the crate names only some options).
/// The unit test reads mimalloc's default (1,000 ms) through it, so a wrong index fails there.
const MI_OPTION_PURGE_DELAY: libmimalloc_sys::mi_option_t = 15;

/// The environment variable with which an operator sets the delay instead (mimalloc reads it).
pub const PURGE_DELAY_ENV: &str = "MIMALLOC_PURGE_DELAY";

/// What a command does with memory, which decides the purge delay it runs with.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Workload {
    /// A command that runs once (an import, an export, a check): its peak is what counts, and
    /// it frees most of what it held between its steps. Runs with [`PURGE_DELAY_MS`].
    Batch,
    /// The server: requests allocate and free all the time, and returning memory after each
    /// one costs more than it saves (a 50-household page on SQLite, one connection: 0.90× the
    /// requests a second with 10 ms). Runs with mimalloc's default.
    Server,
}

/// mimalloc 3's own purge delay, which the server keeps.
pub const DEFAULT_PURGE_DELAY_MS: c_long = 1000;

/// Sets mimalloc's purge delay for `workload`, unless the operator set `MIMALLOC_PURGE_DELAY`
/// (mimalloc has already read it then).
///
/// Call it with [`Workload::Batch`] first in `main`, before anything is freed, and again with
/// [`Workload::Server`] once the command is known to be the server: mimalloc schedules a purge
/// only when none is pending, so memory freed under the long delay (parsing the command line
/// did) held every later purge back for 10 s and a batch command kept its 250+ MB.
pub fn configure(workload: Workload) {
    if std::env::var_os(PURGE_DELAY_ENV).is_some() {
        return;
    }
    let ms = match workload {
        Workload::Batch => PURGE_DELAY_MS,
        Workload::Server => DEFAULT_PURGE_DELAY_MS,
    };
    #[allow(unsafe_code)]
    // SAFETY: `mi_option_set` stores a number in mimalloc's table of options (a valid option
    // id, any value); mimalloc reads the delay each time it schedules a purge.
    unsafe {
        libmimalloc_sys::mi_option_set(MI_OPTION_PURGE_DELAY, ms);
    }
}

/// The purge delay mimalloc is using, in milliseconds.
pub fn purge_delay_ms() -> c_long {
    #[allow(unsafe_code)]
    // SAFETY: `mi_option_get` reads a number from mimalloc's table of options (a valid id).
    unsafe {
        libmimalloc_sys::mi_option_get(MI_OPTION_PURGE_DELAY)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_batch_command_returns_memory_sooner_unless_the_operator_chose_a_delay() {
        let before = purge_delay_ms();
        configure(Workload::Batch);
        let batch = purge_delay_ms();
        configure(Workload::Server);
        match std::env::var(PURGE_DELAY_ENV) {
            // this fails if `configure` sets nothing, or the wrong option (mimalloc's default
            // is 1,000 ms), or keeps the short delay for the server
            Err(_) => assert_eq!(
                (before, batch, purge_delay_ms()),
                (
                    DEFAULT_PURGE_DELAY_MS,
                    PURGE_DELAY_MS,
                    DEFAULT_PURGE_DELAY_MS
                )
            ),
            Ok(v) => assert_eq!(
                (batch.to_string(), purge_delay_ms().to_string()),
                (v.trim().to_string(), v.trim().to_string())
            ),
        }
    }
}
