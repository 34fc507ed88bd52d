#![no_main]
//! The parquet crate panics on some malformed files; `decode::parquet::decode` catches that with
//! `catch_unwind` and returns `DecodeError::Parquet`, which is the behaviour under test. But
//! libfuzzer-sys's `initialize` installs a panic hook that aborts the process on *every* panic,
//! before unwinding, so libFuzzer would report each caught panic as a crash. On the first input we
//! replace that hook with one that only records the panic (silent: caught panics are expected and
//! frequent; the backtrace is captured unresolved, so it costs little even with RUST_BACKTRACE=1).
//!
//! A panic that escapes `egresswatch::fuzzing::parquet` (an invariant break, or a panic outside
//! the guarded reader) is caught below, reported, and the process aborted here, so libFuzzer
//! records a crash. libfuzzer-sys 0.4.13's `test_input_wrap` does wrap the target in
//! `catch_unwind` and abort on `Err`, but the unwind never gets there: it crosses the
//! `extern "C" fn rust_fuzzer_test_input` the macro generates, where Rust aborts with
//! "panic in a function that cannot unwind" (silently, with the hook above). Aborting here is
//! explicit and keeps the message.
use std::backtrace::Backtrace;
use std::panic;
use std::sync::{Mutex, Once};

static HOOK: Once = Once::new();
static LAST_PANIC: Mutex<Option<(String, Backtrace)>> = Mutex::new(None);

libfuzzer_sys::fuzz_target!(|data: &[u8]| {
    HOOK.call_once(|| {
        panic::set_hook(Box::new(|info| {
            let bt = Backtrace::capture();
            if let Ok(mut last) = LAST_PANIC.lock() {
                *last = Some((info.to_string(), bt));
            }
        }));
    });
    let run = panic::AssertUnwindSafe(|| egresswatch::fuzzing::parquet(data));
    if panic::catch_unwind(run).is_err() {
        if let Ok(Some((msg, bt))) = LAST_PANIC.lock().map(|mut m| m.take()) {
            eprintln!("panic escaped egresswatch::fuzzing::parquet: {msg}\n{bt}");
        }
        std::process::abort();
    }
});
