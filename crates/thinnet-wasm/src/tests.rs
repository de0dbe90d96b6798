//! The exports on the native target: argument checks, statuses, messages, and that a call
//! forwards to the core unchanged. Bit-exactness of the wasm builds is checked from JavaScript
//! (the SIMD and scalar .wasm against each other and the TypeScript reference).

use super::*;
use thinnet_core::{mask_words, ConcreteSpec, ErrorCode, MaskSpec, Mode};

const P: f64 = 0.3;

pub(crate) fn last_message() -> String {
    let (ptr, len) = (tn_last_error_ptr(), tn_last_error_len());
    // SAFETY: the pair describes the live last-error string, not changed until the next failure.
    String::from_utf8(unsafe { std::slice::from_raw_parts(ptr, len) }.to_vec()).unwrap()
}

fn spec(classic: bool) -> DropoutSpec {
    DropoutSpec {
        mask: MaskSpec { p: P, seed: (7 << 32) | 5, stream: (1 << 32) | 3, offset: (2 << 32) + 1 },
        mode: if classic { Mode::Classic } else { Mode::Inverted },
    }
}

/// tn_dropout with the arguments of `spec(classic)`.
fn call(x: *const f32, out: *mut f32, n: usize, classic: u32) -> i32 {
    // SAFETY: the tests pass live Vec buffers (or null with n = 0, or deliberately bad
    // addresses that the export must reject before any access).
    unsafe { tn_dropout(x, out, n, P, 5, 7, 3, 1, 1, 2, classic) }
}

fn input(n: usize) -> Vec<f32> {
    (0..n).map(|i| i as f32 * 0.25 - 3.0).collect()
}

#[test]
fn dropout_forwards_to_the_core() {
    for &classic in [0u32, 1].iter() {
        let x = input(1000);
        let mut want = vec![0.0; 1000];
        thinnet_core::dropout(&x, &mut want, &spec(classic == 1)).unwrap();
        let mut out = vec![f32::NAN; 1000];
        assert_eq!(call(x.as_ptr(), out.as_mut_ptr(), 1000, classic), 0);
        assert_eq!(out, want);
        let mut in_place = x.clone();
        assert_eq!(call(in_place.as_ptr(), in_place.as_mut_ptr(), 1000, classic), 0);
        assert_eq!(in_place, want);
        let mut dx = vec![f32::NAN; 1000];
        // SAFETY: live buffers of 1000 elements.
        let status = unsafe { tn_dropout_backward(x.as_ptr(), dx.as_mut_ptr(), 1000, P, 5, 7, 3, 1, 1, 2, classic) };
        assert_eq!(status, 0);
        assert_eq!(dx, want);
    }
}

#[test]
fn mask_forwards_to_the_core() {
    let n = 1001;
    let mut want = vec![0u32; mask_words(n)];
    thinnet_core::dropout_mask(&mut want, n, &spec(false).mask).unwrap();
    let mut out = vec![0xdead_beef_u32; mask_words(n)];
    // SAFETY: a live buffer of mask_words(n) words.
    assert_eq!(unsafe { tn_dropout_mask(out.as_mut_ptr(), n, P, 5, 7, 3, 1, 1, 2) }, 0);
    assert_eq!(out, want);
}

#[test]
fn empty_calls_accept_null_and_still_check_p() {
    assert_eq!(call(std::ptr::null(), std::ptr::null_mut(), 0, 0), 0);
    // SAFETY: n = 0: nothing is accessed.
    let status = unsafe { tn_dropout(std::ptr::null(), std::ptr::null_mut(), 0, f64::NAN, 0, 0, 0, 0, 0, 0, 0) };
    assert_eq!(status, ErrorCode::InvalidArg.status());
    assert!(last_message().starts_with("p must be"), "{}", last_message());
}

#[test]
fn bad_arguments_give_a_status_and_a_message_and_write_nothing() {
    let x = input(64);
    let mut out = vec![9.0f32; 64];
    let invalid = ErrorCode::InvalidArg.status();

    assert_eq!(call(x.as_ptr(), out.as_mut_ptr(), 64, 2), invalid);
    assert!(last_message().contains("classic must be 0"), "{}", last_message());

    assert_eq!(call(std::ptr::null(), out.as_mut_ptr(), 64, 0), invalid);
    assert!(last_message().starts_with("x must be 64 elements"), "{}", last_message());

    let misaligned = (out.as_mut_ptr() as usize + 1) as *mut f32;
    assert_eq!(call(x.as_ptr(), misaligned, 8, 0), invalid);
    assert!(last_message().starts_with("out must be"), "{}", last_message());

    // Partial overlap: out starts one element into x.
    let mut buf = input(65);
    let before = buf.clone();
    assert_eq!(call(buf.as_ptr(), buf[1..].as_mut_ptr(), 64, 0), invalid);
    assert!(last_message().contains("not overlap"), "{}", last_message());
    assert_eq!(buf, before);

    // offset + n beyond 2^64.
    // SAFETY: live buffers of 64 elements; the core rejects the offset before any access.
    let status = unsafe { tn_dropout(x.as_ptr(), out.as_mut_ptr(), 64, P, 0, 0, 0, 0, u32::MAX, u32::MAX, 0) };
    assert_eq!(status, invalid);
    assert!(last_message().contains("offset"), "{}", last_message());

    assert!(out.iter().all(|&v| v == 9.0));
}

#[test]
fn alloc_is_aligned_zeroed_and_fails_softly() {
    for &bytes in [0usize, 1, 4, 100, 1 << 20].iter() {
        let ptr = tn_alloc(bytes);
        assert!(!ptr.is_null());
        assert_eq!(ptr as usize % 16, 0);
        // SAFETY: a live allocation of at least `bytes` bytes.
        assert!(unsafe { std::slice::from_raw_parts(ptr, bytes) }.iter().all(|&b| b == 0));
        // SAFETY: freed once, with the size it was allocated with.
        unsafe { tn_free(ptr, bytes) };
    }
    assert!(tn_alloc(usize::MAX - 8).is_null());
    // SAFETY: null is documented as ignored.
    unsafe { tn_free(std::ptr::null_mut(), 16) };
}

#[test]
fn isa_name_is_the_core_choice() {
    // SAFETY: a &'static str of the core's.
    let name = unsafe { std::slice::from_raw_parts(tn_isa_ptr(), tn_isa_len()) };
    assert_eq!(name, thinnet_core::active_isa().name().as_bytes());
}

/// tn_concrete with a record of `spec`; addresses of live buffers (or deliberately bad ones).
fn concrete(dy: usize, x: usize, out: usize, n: usize, spec: &ConcreteSpec, sums: usize, backward: u32) -> i32 {
    let mut record = Vec::new();
    for f in [spec.bias, spec.inv_t, spec.scale, 0.0] {
        record.extend_from_slice(&f.to_bits().to_le_bytes());
    }
    for w in [spec.seed, spec.stream, spec.offset] {
        record.extend_from_slice(&w.to_le_bytes());
    }
    // SAFETY: the tests pass live buffers, or addresses the export must reject before any access.
    unsafe { tn_concrete(dy, x, out, n, record.as_ptr() as usize, sums, backward) }
}

#[test]
fn concrete_forwards_to_the_core_and_writes_the_sums() {
    let spec = ConcreteSpec { bias: -2.25, inv_t: 10.0, scale: 1.25, seed: 9, stream: 1 << 33, offset: (1 << 32) - 3 };
    let n = 20_000;
    let (x, dy) = (input(n), input(n).iter().rev().copied().collect::<Vec<f32>>());
    let (mut want_y, mut want_dx) = (vec![0.0; n], vec![0.0; n]);
    thinnet_core::concrete_dropout(&x, &mut want_y, &spec).unwrap();
    let want_sums = thinnet_core::concrete_dropout_backward(&dy, &x, &mut want_dx, &spec).unwrap();
    let addr = |v: &mut Vec<f32>| v.as_mut_ptr() as usize;

    let mut y = vec![f32::NAN; n];
    assert_eq!(concrete(0, x.as_ptr() as usize, addr(&mut y), n, &spec, 0, 0), 0);
    assert_eq!(y, want_y);
    let mut in_place = x.clone();
    assert_eq!(concrete(0, addr(&mut in_place), addr(&mut in_place), n, &spec, 0, 0), 0);
    assert_eq!(in_place, want_y);

    let (mut dx, mut sums) = (vec![f32::NAN; n], vec![f64::NAN; 2]);
    let s = sums.as_mut_ptr() as usize;
    assert_eq!(concrete(dy.as_ptr() as usize, x.as_ptr() as usize, addr(&mut dx), n, &spec, s, 1), 0);
    assert_eq!((dx, sums.clone()), (want_dx.clone(), vec![want_sums.dy_y, want_sums.dy_y_s]));
    let mut grad = dy.clone();
    sums.fill(f64::NAN);
    assert_eq!(concrete(addr(&mut grad), x.as_ptr() as usize, addr(&mut grad), n, &spec, s, 1), 0);
    assert_eq!((grad, sums.clone()), (want_dx, vec![want_sums.dy_y, want_sums.dy_y_s]));

    // Refused with a status and a message naming the argument; nothing written.
    let invalid = ErrorCode::InvalidArg.status();
    let mut out = vec![9.0f32; n];
    sums.fill(0.5);
    assert_eq!(concrete(dy.as_ptr() as usize, x.as_ptr() as usize, addr(&mut out), n, &spec, s + 4, 1), invalid);
    assert!(last_message().starts_with("sums must be 2 elements of 8 bytes"), "{}", last_message());
    assert_eq!(concrete(dy.as_ptr() as usize, addr(&mut out), addr(&mut out), n, &spec, s, 1), invalid);
    assert!(last_message().starts_with("out must not overlap x"), "{}", last_message());
    let bad = ConcreteSpec { inv_t: 0.0, ..spec };
    assert_eq!(concrete(0, x.as_ptr() as usize, addr(&mut out), n, &bad, 0, 0), invalid);
    assert!(last_message().contains("invT"), "{}", last_message());
    assert!(out.iter().all(|&v| v == 9.0) && sums == [0.5, 0.5]);
}
