//! The dense and GEMM exports on the native target: that a call forwards to the core unchanged
//! (the same bits as a direct call), optional arrays, and the checks, statuses and messages of
//! the boundary, with nothing written on failure. Numerical correctness is the core's tests';
//! the .wasm builds are checked from JavaScript.

use crate::dense::{tn_dense, tn_dense_backward};
use crate::gemm::tn_gemm;
use crate::tests::last_message;
use thinnet_core::boundary::{ABSENT, BLOCK_WORDS, RECORD_WORDS};
use thinnet_core::{
    dense_backward, dense_forward, Activation, DenseDropouts, DenseShape, DropConnect, DropoutSpec, ErrorCode, Exec,
    Grads, MaskSpec, Mode, Saved,
};

const ROWS: usize = 5;
const INPUTS: usize = 7;
const UNITS: usize = 9;
const SHAPE: DenseShape = DenseShape { rows: ROWS, inputs: INPUTS, units: UNITS };

fn data(n: usize, seed: u32) -> Vec<f32> {
    let mut s = seed.wrapping_mul(0x9e37_79b9) | 1;
    (0..n)
        .map(|_| {
            s ^= s << 13;
            s ^= s >> 17;
            s ^= s << 5;
            (s >> 8) as f32 / (1 << 24) as f32 * 4.0 - 2.0
        })
        .collect()
}

fn spec(p: f64, seed: u64, stream: u64, offset: u64, mode: Mode) -> DropoutSpec {
    DropoutSpec { mask: MaskSpec { p, seed, stream, offset }, mode }
}

fn all_dropouts() -> DenseDropouts {
    DenseDropouts {
        input: Some(spec(0.2, u64::MAX - 3, 1, (1 << 33) + 3, Mode::Inverted)),
        output: Some(spec(0.5, 42, 2, 7, Mode::Classic)),
        drop_connect: Some(DropConnect::Sample(spec(0.3, 9, 3, 0, Mode::Inverted))),
        ..DenseDropouts::default()
    }
}

/// The spec block as JavaScript writes it.
fn block(d: &DenseDropouts) -> [u64; BLOCK_WORDS] {
    fn record(kind: u64, s: Option<&DropoutSpec>, p: f64) -> [u64; RECORD_WORDS] {
        match s {
            None => [kind, p.to_bits(), 0, 0, 0],
            Some(s) => {
                let mode = if s.mode == Mode::Classic { 1u64 << 32 } else { 0 };
                [kind | mode, s.mask.p.to_bits(), s.mask.seed, s.mask.stream, s.mask.offset]
            }
        }
    }
    let records = [
        d.input.as_ref().map_or([0; RECORD_WORDS], |s| record(1, Some(s), 0.0)),
        d.output.as_ref().map_or([0; RECORD_WORDS], |s| record(1, Some(s), 0.0)),
        match d.drop_connect {
            None => [0; RECORD_WORDS],
            Some(DropConnect::Sample(ref s)) => record(1, Some(s), 0.0),
            Some(DropConnect::Mean { p }) => record(2, None, p),
        },
    ];
    let mut b = [0u64; BLOCK_WORDS];
    for (i, r) in records.iter().enumerate() {
        b[i * RECORD_WORDS..(i + 1) * RECORD_WORDS].copy_from_slice(r);
    }
    b
}

/// A buffer for tn_dense's arguments: (address, length) of a slice, or absent.
fn arg(v: Option<&[f32]>) -> (*const f32, usize) {
    v.map_or((std::ptr::null(), ABSENT), |v| (v.as_ptr(), v.len()))
}

fn arg_mut(v: Option<&mut [f32]>) -> (*mut f32, usize) {
    v.map_or((std::ptr::null_mut(), ABSENT), |v| (v.as_mut_ptr(), v.len()))
}

struct Forward<'a> {
    x: &'a [f32],
    w: &'a [f32],
    b: Option<&'a [f32]>,
    shape: DenseShape,
    /// The activation name's bytes (not &str: the tests pass invalid UTF-8 too).
    act: &'a [u8],
    alpha: f32,
    block: [u64; BLOCK_WORDS],
}

impl Forward<'_> {
    fn call(&self, y: &mut [f32], pre: Option<&mut [f32]>) -> i32 {
        let (pre, pre_len) = arg_mut(pre);
        self.call_raw((y.as_mut_ptr(), y.len()), (pre, pre_len))
    }

    /// With y and pre as raw (address, length): the overlap tests pass overlapping ones, which
    /// two `&mut` slices must never be.
    fn call_raw(&self, y: (*mut f32, usize), pre: (*mut f32, usize)) -> i32 {
        let (b, b_len) = arg(self.b);
        // SAFETY: live buffers with their own lengths (or absent), a live name and block.
        unsafe {
            tn_dense(
                self.x.as_ptr(),
                self.x.len(),
                self.w.as_ptr(),
                self.w.len(),
                b,
                b_len,
                y.0,
                y.1,
                pre.0,
                pre.1,
                self.shape.rows,
                self.shape.inputs,
                self.shape.units,
                self.act.as_ptr(),
                self.act.len(),
                self.alpha,
                self.block.as_ptr(),
            )
        }
    }

    /// With an explicit spec block address.
    fn call_block(&self, y: &mut [f32], block: *const u64) -> i32 {
        // SAFETY: live buffers with their own lengths (or absent); `block` is checked by the
        // export before it is read.
        unsafe {
            tn_dense(
                self.x.as_ptr(),
                self.x.len(),
                self.w.as_ptr(),
                self.w.len(),
                std::ptr::null(),
                ABSENT,
                y.as_mut_ptr(),
                y.len(),
                std::ptr::null_mut(),
                ABSENT,
                self.shape.rows,
                self.shape.inputs,
                self.shape.units,
                self.act.as_ptr(),
                self.act.len(),
                self.alpha,
                block,
            )
        }
    }
}

fn forward<'a>(x: &'a [f32], w: &'a [f32], b: Option<&'a [f32]>, act: &'a str, d: &DenseDropouts) -> Forward<'a> {
    Forward { x, w, b, shape: SHAPE, act: act.as_bytes(), alpha: 0.1, block: block(d) }
}

const ACTIVATIONS: [&str; 6] = ["linear", "relu", "leakyRelu", "gelu", "tanh", "sigmoid"];

#[test]
fn dense_forwards_to_the_core() {
    let (x, w, b) = (data(ROWS * INPUTS, 1), data(INPUTS * UNITS, 2), data(UNITS, 3));
    let mean = DenseDropouts { drop_connect: Some(DropConnect::Mean { p: 0.25 }), ..all_dropouts() };
    for d in [DenseDropouts::default(), all_dropouts(), mean].iter() {
        for name in ACTIVATIONS.iter() {
            let act = Activation::parse(name, 0.1).unwrap();
            let (mut want_y, mut want_pre) = (vec![0.0; ROWS * UNITS], vec![0.0; ROWS * UNITS]);
            dense_forward(&x, &w, Some(&b), &mut want_y, Some(&mut want_pre), SHAPE, act, d, Exec::default()).unwrap();
            let (mut y, mut pre) = (vec![f32::NAN; ROWS * UNITS], vec![f32::NAN; ROWS * UNITS]);
            assert_eq!(forward(&x, &w, Some(&b), name, d).call(&mut y, Some(&mut pre)), 0, "{}", last_message());
            assert_eq!(bits(&y), bits(&want_y), "{} {:?}", name, d);
            assert_eq!(bits(&pre), bits(&want_pre), "{} {:?}", name, d);

            // No bias, no pre.
            dense_forward(&x, &w, None, &mut want_y, None, SHAPE, act, d, Exec::default()).unwrap();
            assert_eq!(forward(&x, &w, None, name, d).call(&mut y, None), 0);
            assert_eq!(bits(&y), bits(&want_y));
        }
    }
}

fn bits(v: &[f32]) -> Vec<u32> {
    v.iter().map(|f| f.to_bits()).collect()
}

type Raw = (*const f32, usize);
type OptMut<'a> = Option<&'a mut [f32]>;
type RawMut = (*mut f32, usize);

/// tn_dense_backward over slices.
fn backward(
    x: &[f32],
    w: &[f32],
    dy: &[f32],
    saved: (Option<&[f32]>, Option<&[f32]>),
    grads: (OptMut<'_>, OptMut<'_>, OptMut<'_>),
    act: &str,
    d: &DenseDropouts,
) -> i32 {
    let inputs = [(x.as_ptr(), x.len()), (w.as_ptr(), w.len()), (dy.as_ptr(), dy.len()), arg(saved.0), arg(saved.1)];
    backward_raw(ROWS, inputs, [arg_mut(grads.0), arg_mut(grads.1), arg_mut(grads.2)], act, d)
}

/// tn_dense_backward over raw (address, length) pairs: [x, w, dy, y, pre] and [dx, dw, db].
fn backward_raw(rows: usize, inputs: [Raw; 5], grads: [RawMut; 3], act: &str, d: &DenseDropouts) -> i32 {
    let [x, w, dy, y, pre] = inputs;
    let [dx, dw, db] = grads;
    let block = block(d);
    // SAFETY: live buffers with their lengths (or absent), a live name and block; overlapping
    // outputs are rejected by the export before any access.
    unsafe {
        tn_dense_backward(
            x.0,
            x.1,
            w.0,
            w.1,
            dy.0,
            dy.1,
            y.0,
            y.1,
            pre.0,
            pre.1,
            dx.0,
            dx.1,
            dw.0,
            dw.1,
            db.0,
            db.1,
            std::ptr::null_mut(),
            ABSENT,
            rows,
            INPUTS,
            UNITS,
            act.as_ptr(),
            act.len(),
            0.1,
            block.as_ptr(),
        )
    }
}

#[test]
fn dense_backward_forwards_to_the_core() {
    let (x, w, b, dy) = (data(ROWS * INPUTS, 4), data(INPUTS * UNITS, 5), data(UNITS, 6), data(ROWS * UNITS, 7));
    let d = all_dropouts();
    for name in ACTIVATIONS.iter() {
        let act = Activation::parse(name, 0.1).unwrap();
        let (mut y, mut pre) = (vec![0.0; ROWS * UNITS], vec![0.0; ROWS * UNITS]);
        dense_forward(&x, &w, Some(&b), &mut y, Some(&mut pre), SHAPE, act, &d, Exec::default()).unwrap();
        // gelu needs pre; the others are given y alone, so that the y path is the one compared.
        let saved = if *name == "gelu" { Saved { y: None, pre: Some(&pre) } } else { Saved { y: Some(&y), pre: None } };
        let (mut dx, mut dw, mut db) = (vec![0.0; ROWS * INPUTS], vec![0.0; INPUTS * UNITS], vec![0.0; UNITS]);
        let grads = Grads { dx: Some(&mut dx), dw: Some(&mut dw), db: Some(&mut db) };
        dense_backward(&x, &w, &dy, saved, grads, SHAPE, act, &d, Exec::default()).unwrap();

        let (mut gx, mut gw, mut gb) = (vec![f32::NAN; dx.len()], vec![f32::NAN; dw.len()], vec![f32::NAN; db.len()]);
        let status =
            backward(&x, &w, &dy, (saved.y, saved.pre), (Some(&mut gx), Some(&mut gw), Some(&mut gb)), name, &d);
        assert_eq!(status, 0, "{}", last_message());
        assert_eq!((bits(&gx), bits(&gw), bits(&gb)), (bits(&dx), bits(&dw), bits(&db)), "{}", name);

        // Only db: the others absent are skipped, db is the same.
        let mut only_db = vec![f32::NAN; UNITS];
        assert_eq!(backward(&x, &w, &dy, (saved.y, saved.pre), (None, None, Some(&mut only_db)), name, &d), 0);
        assert_eq!(bits(&only_db), bits(&db));
    }
}

#[test]
fn empty_arrays_are_present_and_absent_ones_are_not() {
    // rows = 0: every array but w and b is empty, at a null address.
    let (w, b) = (data(INPUTS * UNITS, 1), data(UNITS, 2));
    let mut call = Forward {
        x: &[],
        w: &w,
        b: Some(&b),
        shape: DenseShape { rows: 0, ..SHAPE },
        act: b"relu",
        alpha: 0.0,
        block: block(&all_dropouts()),
    };
    assert_eq!(call.call(&mut [], None), 0, "{}", last_message());
    call.shape = DenseShape { rows: 0, inputs: 0, units: 0 };
    call.w = &[];
    call.b = Some(&[]);
    assert_eq!(call.call(&mut [], Some(&mut [])), 0, "{}", last_message());
    // A present b of the wrong length is an error, not "no bias".
    call.shape = SHAPE;
    let (x, mut y) = (data(ROWS * INPUTS, 3), vec![5.0; ROWS * UNITS]);
    call.x = &x;
    call.w = &w;
    call.b = Some(&[]);
    assert_eq!(call.call(&mut y, None), ErrorCode::ShapeMismatch.status());
    assert_eq!(last_message(), "b must have units = 9 elements, received 0");
    assert!(y.iter().all(|&v| v == 5.0));

    // Backward with rows = 0: relu needs y or pre, and an empty y at address 0 is there; dw and
    // db are sums over no rows, zeros.
    let empty: Raw = (std::ptr::null(), 0);
    let absent: Raw = (std::ptr::null(), ABSENT);
    let (mut dw, mut db) = (vec![f32::NAN; INPUTS * UNITS], vec![f32::NAN; UNITS]);
    let grads = [(std::ptr::null_mut(), 0), (dw.as_mut_ptr(), dw.len()), (db.as_mut_ptr(), db.len())];
    let inputs = [empty, (w.as_ptr(), w.len()), empty, empty, absent];
    assert_eq!(backward_raw(0, inputs, grads, "relu", &all_dropouts()), 0, "{}", last_message());
    assert!(dw.iter().chain(db.iter()).all(|&v| v.to_bits() == 0), "{:?} {:?}", dw, db);
    // Without y it is an error.
    let inputs = [empty, (w.as_ptr(), w.len()), empty, absent, absent];
    assert_eq!(backward_raw(0, inputs, grads, "relu", &all_dropouts()), ErrorCode::InvalidArg.status());
    assert!(last_message().starts_with("activation 'relu' needs y or pre"), "{}", last_message());
}

/// Runs a failing forward call and returns (status, message), checking y and pre untouched.
fn forward_fails(call: &Forward<'_>, y: &mut [f32], pre: Option<&mut [f32]>) -> (i32, String) {
    let (y_before, pre_before) = (bits(y), pre.as_ref().map(|p| bits(p)));
    let had_pre = pre.is_some();
    let mut pre = pre;
    let status = call.call(y, pre.as_deref_mut());
    assert_ne!(status, 0, "expected an error");
    assert_eq!(bits(y), y_before, "y written on error");
    if had_pre {
        assert_eq!(pre.map(|p| bits(p)), pre_before, "pre written on error");
    }
    (status, last_message())
}

#[test]
fn bad_forward_arguments_are_named_and_write_nothing() {
    let (x, w, b) = (data(ROWS * INPUTS, 1), data(INPUTS * UNITS, 2), data(UNITS, 3));
    let (mut y, pre) = (vec![3.0f32; ROWS * UNITS], vec![4.0f32; ROWS * UNITS]);
    let (invalid, shape) = (ErrorCode::InvalidArg.status(), ErrorCode::ShapeMismatch.status());
    let d = all_dropouts();

    let call = forward(&x, &w[1..], Some(&b), "relu", &d);
    assert_eq!(
        forward_fails(&call, &mut y, None),
        (shape, "w must have inputs * units = 7 * 9 = 63 elements, received 62".to_string())
    );

    let call = forward(&x, &w, Some(&b), "softmax", &d);
    let (status, message) = forward_fails(&call, &mut y, None);
    assert_eq!(status, invalid);
    assert!(
        message.starts_with("activation must be one of 'linear'") && message.ends_with("received 'softmax'"),
        "{}",
        message
    );

    let call = Forward { act: &[0xff, 0xfe], ..forward(&x, &w, None, "", &d) };
    assert_eq!(
        forward_fails(&call, &mut y, None),
        (invalid, "activation must be a UTF-8 name, received 2 bytes that are not UTF-8".to_string())
    );

    let call = Forward { alpha: -1.0, ..forward(&x, &w, None, "leakyRelu", &d) };
    assert!(forward_fails(&call, &mut y, None).1.contains("alpha"));

    let mut bad_p = block(&d);
    bad_p[1] = f64::NAN.to_bits();
    let call = Forward { block: bad_p, ..forward(&x, &w, None, "relu", &d) };
    assert_eq!(
        forward_fails(&call, &mut y, None),
        (invalid, "inputDropout.p must be a number in [0, 1], received NaN".to_string())
    );

    let far = DenseDropouts { output: Some(spec(0.5, 1, 1, u64::MAX - 3, Mode::Inverted)), ..d };
    let (status, message) = forward_fails(&forward(&x, &w, None, "relu", &far), &mut y, None);
    assert_eq!(status, invalid);
    assert!(message.starts_with("outputDropout: offset + n"), "{}", message);

    // pre sharing y's memory (one element apart), then y over x.
    let call = forward(&x, &w, None, "relu", &d);
    let mut shared = vec![0.0f32; ROWS * UNITS + 1];
    let before = bits(&shared);
    let ptr = shared.as_mut_ptr();
    // SAFETY: pointer arithmetic inside the live buffer (one element in).
    let status = call.call_raw((ptr, ROWS * UNITS), (unsafe { ptr.add(1) }, ROWS * UNITS));
    assert_eq!(status, invalid);
    assert!(last_message().starts_with("pre must not overlap y, received pre at bytes ["), "{}", last_message());
    assert_eq!(bits(&shared), before);

    let mut xy = data(ROWS * UNITS.max(INPUTS), 8);
    let before = bits(&xy);
    let ptr = xy.as_mut_ptr();
    // SAFETY: x is a shared view of the live buffer; y is passed raw, and the export must reject
    // the overlap before touching either.
    let xs = unsafe { std::slice::from_raw_parts(ptr as *const f32, ROWS * INPUTS) };
    let status = forward(xs, &w, Some(&b), "relu", &d).call_raw((ptr, ROWS * UNITS), (std::ptr::null_mut(), ABSENT));
    assert_eq!(status, invalid);
    assert!(last_message().starts_with("y must not overlap x"), "{}", last_message());
    assert_eq!(bits(&xy), before);

    // A misaligned spec block, and a null one.
    let mut words = [0u64; BLOCK_WORDS + 1];
    words[..BLOCK_WORDS].copy_from_slice(&block(&d));
    let misaligned = (words.as_ptr() as usize + 4) as *const u64;
    assert_eq!(call.call_block(&mut y, misaligned), invalid);
    assert!(
        last_message().starts_with("dropouts (the spec block) must be 15 elements of 8 bytes"),
        "{}",
        last_message()
    );
    assert_eq!(call.call_block(&mut y, std::ptr::null()), invalid);
    assert!(last_message().starts_with("dropouts (the spec block) must be"), "{}", last_message());
    // The same block aligned is fine.
    assert_eq!(call.call_block(&mut y, words.as_ptr()), 0);
    y.iter_mut().for_each(|v| *v = 3.0);

    assert!(y.iter().all(|&v| v == 3.0) && pre.iter().all(|&v| v == 4.0));
}

#[test]
fn bad_backward_arguments_are_named_and_write_nothing() {
    let (x, w, dy) = (data(ROWS * INPUTS, 1), data(INPUTS * UNITS, 2), data(ROWS * UNITS, 3));
    let (mut dx, mut dw, mut db) = (vec![1.0f32; ROWS * INPUTS], vec![2.0f32; INPUTS * UNITS], vec![3.0f32; UNITS]);
    let d = all_dropouts();
    let untouched = |dx: &[f32], dw: &[f32], db: &[f32]| {
        assert!(dx.iter().all(|&v| v == 1.0) && dw.iter().all(|&v| v == 2.0) && db.iter().all(|&v| v == 3.0));
    };

    let status = backward(&x, &w, &dy, (Some(&dy), None), (Some(&mut dx), Some(&mut dw), Some(&mut db)), "gelu", &d);
    assert_eq!(status, ErrorCode::InvalidArg.status());
    assert!(last_message().starts_with("activation 'gelu' needs pre"), "{}", last_message());
    untouched(&dx, &dw, &db);

    let status = backward(&x, &w, &dy[1..], (Some(&dy), None), (Some(&mut dx), None, None), "relu", &d);
    assert_eq!(status, ErrorCode::ShapeMismatch.status());
    assert_eq!(last_message(), "dy must have rows * units = 5 * 9 = 45 elements, received 44");
    untouched(&dx, &dw, &db);

    // dx written over dy (in place is not supported: the shapes differ in general).
    let mut buf = data(ROWS * UNITS.max(INPUTS), 4);
    let before = bits(&buf);
    let ptr = buf.as_mut_ptr();
    let absent: Raw = (std::ptr::null(), ABSENT);
    let none: RawMut = (std::ptr::null_mut(), ABSENT);
    let status = backward_raw(
        ROWS,
        [(x.as_ptr(), x.len()), (w.as_ptr(), w.len()), (ptr as *const f32, ROWS * UNITS), absent, absent],
        [(ptr, ROWS * INPUTS), none, none],
        "linear",
        &d,
    );
    assert_eq!(status, ErrorCode::InvalidArg.status());
    assert!(last_message().starts_with("dx must not overlap dy"), "{}", last_message());
    assert_eq!(bits(&buf), before);

    // db inside dw.
    let ptr = dw.as_mut_ptr();
    // SAFETY: pointer arithmetic inside dw (3 elements in, UNITS more still inside).
    let inside = unsafe { ptr.add(3) };
    let status = backward_raw(
        ROWS,
        [(x.as_ptr(), x.len()), (w.as_ptr(), w.len()), (dy.as_ptr(), dy.len()), absent, absent],
        [none, (ptr, INPUTS * UNITS), (inside, UNITS)],
        "linear",
        &d,
    );
    assert_eq!(status, ErrorCode::InvalidArg.status());
    assert!(last_message().starts_with("db must not overlap dw"), "{}", last_message());
    untouched(&dx, &dw, &db);
}

fn gemm_call(a: &[f32], b: &[f32], c: &mut [f32], m: usize, k: usize, n: usize) -> i32 {
    // SAFETY: live buffers with their own lengths.
    unsafe { tn_gemm(a.as_ptr(), a.len(), b.as_ptr(), b.len(), c.as_mut_ptr(), c.len(), m, k, n) }
}

#[test]
fn gemm_forwards_to_the_core_and_checks_lengths() {
    let (m, k, n) = (13, 17, 19);
    let (a, b) = (data(m * k, 1), data(k * n, 2));
    let mut want = vec![0.0; m * n];
    thinnet_core::gemm(
        thinnet_core::MatRef::row_major(&a, m, k),
        thinnet_core::MatRef::row_major(&b, k, n),
        0.0,
        thinnet_core::MatMut::row_major(&mut want, m, n),
        Exec::default(),
    )
    .unwrap();
    let mut c = vec![f32::NAN; m * n];
    assert_eq!(gemm_call(&a, &b, &mut c, m, k, n), 0, "{}", last_message());
    assert_eq!(bits(&c), bits(&want));
    // k = 0: C is zeros.
    assert_eq!(gemm_call(&[], &[], &mut c, m, 0, n), 0);
    assert!(c.iter().all(|&v| v.to_bits() == 0));

    let mut c = vec![7.0; m * n];
    assert_eq!(gemm_call(&a, &b[1..], &mut c, m, k, n), ErrorCode::ShapeMismatch.status());
    assert_eq!(last_message(), "b must have k * n = 17 * 19 = 323 elements, received 322");
    assert_eq!(gemm_call(&a, &b, &mut c, usize::MAX, 2, n), ErrorCode::InvalidArg.status());
    assert!(last_message().contains("m * k"), "{}", last_message());
    assert!(c.iter().all(|&v| v == 7.0));

    let mut ab = data(m * k + k * n, 3);
    let before = bits(&ab);
    let ptr = ab.as_mut_ptr();
    // SAFETY: c over a: rejected before any access.
    let status = unsafe { tn_gemm(ptr, m * k, b.as_ptr(), b.len(), ptr.add(4), m * n, m, k, n) };
    assert_eq!(status, ErrorCode::InvalidArg.status());
    assert!(last_message().starts_with("c must not overlap a"), "{}", last_message());
    assert_eq!(bits(&ab), before);
}
