//! Inputs of any size: a field too long or not hex gives a short error, and refusing it
//! allocates nothing proportional to it. Bytes are counted per thread by a global
//! allocator, so tests running at once do not disturb each other's counts.

use std::alloc::{GlobalAlloc, Layout, System};
use std::cell::Cell;

use serde_json::{Value, json};
use sharecheck::stratum::messages::set_difficulty_from_params;
use sharecheck::stratum::wire::{MAX_EXTRANONCE_BYTES, parse_u32_be};
use sharecheck::stratum::{Notify, SetExtranonce, Submit, SubscribeResult};
use sharecheck::{Algorithm, Error};

struct CountingBytes;

thread_local! {
    static BYTES_ALLOCATED: Cell<usize> = const { Cell::new(0) };
}

fn count(bytes: usize) {
    // `try_with`: the counter may be gone while a thread shuts down.
    let _ = BYTES_ALLOCATED.try_with(|b| b.set(b.get() + bytes));
}

// SAFETY: defers to the system allocator; only counts the bytes asked for.
unsafe impl GlobalAlloc for CountingBytes {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        count(layout.size());
        // SAFETY: same contract as the caller's.
        unsafe { System.alloc(layout) }
    }
    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        // SAFETY: same contract as the caller's.
        unsafe { System.dealloc(ptr, layout) }
    }
    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        count(new_size);
        // SAFETY: same contract as the caller's.
        unsafe { System.realloc(ptr, layout, new_size) }
    }
}

#[global_allocator]
static GLOBAL: CountingBytes = CountingBytes;

/// What `f` returns and the bytes this thread allocated while it ran.
fn bytes_allocated_during<T>(f: impl FnOnce() -> T) -> (T, usize) {
    let before = BYTES_ALLOCATED.with(Cell::get);
    let result = f();
    (result, BYTES_ALLOCATED.with(Cell::get) - before)
}

/// Bytes a refusal may allocate whatever the input's size (the error and its message).
const SMALL: usize = 1024;
/// Characters an error message may have whatever the input's size.
const SHORT: usize = 160;

const TEN_MB: usize = 10_000_000;

/// The error of `f`, checked to be short and cheap to make.
fn short_error<T: std::fmt::Debug>(case: &str, f: impl FnOnce() -> Result<T, Error>) -> Error {
    let (result, bytes) = bytes_allocated_during(f);
    let error = result.expect_err(case);
    let message = error.to_string();
    assert!(message.len() <= SHORT, "{case}: a {}-byte message: {:?}", message.len(), {
        message.chars().take(200).collect::<String>()
    });
    assert!(bytes <= SMALL, "{case}: {bytes} bytes allocated to refuse the input");
    error
}

#[test]
fn ten_megabyte_bad_fields_give_short_errors() {
    let not_hex = "z".repeat(TEN_MB);
    let e = short_error("u32 word", || parse_u32_be("ntime", &not_hex));
    assert!(matches!(e, Error::Malformed { what: "ntime", .. }), "{e:?}");
    assert!(e.to_string().contains("(10000000 chars)"), "{e}");
    // Only the first characters are shown, escaped as Rust strings are.
    let quotes = "\"".repeat(TEN_MB);
    let e = short_error("u32 word, quotes", || parse_u32_be("nbits", &quotes));
    assert!(e.to_string().contains(r#"got "\"\"\""#), "{e}");

    let submit = json!(["worker", "job", not_hex, "64b3f3ec", "ed460d91"]);
    let e = short_error("submit extranonce2", || Submit::from_params(&submit));
    assert!(matches!(e, Error::InvalidHex { what: "extranonce2", .. }), "{e:?}");
    let submit = json!(["worker", "job", "00000000", "64b3f3ec", "ed460d91", not_hex]);
    let e = short_error("submit version bits", || Submit::from_params(&submit));
    assert!(matches!(e, Error::InvalidHex { what: "version bits", .. }), "{e:?}");

    let mut notify: Vec<Value> = vec![
        json!("1"),
        json!("171592f223740e92d223f6e68bff25279af7ac4f2246451e0000000200000000"),
        json!("00"),
        json!("00"),
        json!([]),
        json!(not_hex),
        json!("192495f8"),
        json!("64b3f3ec"),
        json!(true),
    ];
    let params = Value::Array(notify.clone());
    short_error("notify version", || Notify::from_params(&params));
    notify[5] = json!("20000000");
    notify[1] = json!(not_hex);
    let params = Value::Array(notify);
    short_error("notify prevhash", || Notify::from_params(&params));

    let params = json!([not_hex]);
    short_error("difficulty", || set_difficulty_from_params(&params));
    let params = json!([vec![1; 100_000]]);
    short_error("difficulty given as an array", || set_difficulty_from_params(&params));

    // An algorithm name comes from the command line: the error keeps the name it was
    // given (src/chain), but its message stays short.
    let e = not_hex.parse::<Algorithm>().unwrap_err();
    assert!(matches!(e, Error::UnknownAlgorithm(_)), "{e:?}");
    assert!(e.to_string().len() <= SHORT, "{}", e.to_string().len());
    assert!(e.to_string().contains("(10000000 chars)"), "{e}");
}

#[test]
fn short_bad_fields_are_shown_whole() {
    let e = parse_u32_be("ntime", "64b3f3e").unwrap_err();
    assert_eq!(e.to_string(), r#"malformed ntime: expected 8 hex digits, got "64b3f3e""#);
    let e = Submit::from_params(&json!(["w", "j", "zz", "64b3f3ec", "ed460d91"])).unwrap_err();
    assert_eq!(e.to_string(), r#"extranonce2 is not valid hex: "zz""#);
    // 16 characters are shown whole; the 17th makes it an excerpt with the length.
    let e = parse_u32_be("ntime", "0123456789abcdef").unwrap_err();
    assert!(e.to_string().ends_with(r#"got "0123456789abcdef""#), "{e}");
    let e = parse_u32_be("ntime", "0123456789abcdefg").unwrap_err();
    assert!(e.to_string().ends_with(r#"got "0123456789abcdef…" (17 chars)"#), "{e}");
}

#[test]
fn extranonce1_longer_than_the_limit_is_refused_before_decoding() {
    let at_limit = "ab".repeat(MAX_EXTRANONCE_BYTES);
    let s = SubscribeResult::from_result(&json!([[], at_limit, 4])).unwrap();
    assert_eq!(s.extranonce1.len(), MAX_EXTRANONCE_BYTES);
    let s = SetExtranonce::from_params(&json!([at_limit, 4])).unwrap();
    assert_eq!(s.extranonce1.len(), MAX_EXTRANONCE_BYTES);

    // One byte over, and 5 MB over (the subscribe result that was once accepted); hex or
    // not, the length is refused first, without decoding.
    for too_long in
        ["ab".repeat(MAX_EXTRANONCE_BYTES + 1), "ab".repeat(2_500_000), "z".repeat(TEN_MB)]
    {
        let n = too_long.len();
        let result = json!([[["mining.notify", "1"]], too_long, 4]);
        let e = short_error("subscribe result", || SubscribeResult::from_result(&result));
        assert!(
            matches!(e, Error::Malformed { what: "mining.subscribe result", .. }),
            "{n}: {e:?}"
        );
        assert!(e.to_string().contains("extranonce1"), "{e}");
        let params = json!([too_long, 4]);
        let e = short_error("set_extranonce", || SetExtranonce::from_params(&params));
        assert!(matches!(e, Error::Malformed { what: "mining.set_extranonce", .. }), "{n}: {e:?}");
    }
}
