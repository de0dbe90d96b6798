//! The fused dropout-dense exports, `tn_dense` and `tn_dense_backward`: check the arrays, the
//! activation name and the dropout spec block, then make one core call.
//!
//! Arrays travel as (address, length in elements); an optional one is absent when its length is
//! [`ABSENT`](thinnet_core::boundary::ABSENT), u32::MAX (its address is then ignored). Lengths are the arrays' own, not derived from the
//! shape here: the core compares them with rows, inputs and units and names the argument that
//! disagrees, exactly as on the native backend. The activation travels as its name in UTF-8
//! (the core parses it, so every backend accepts the same names with the same message), leaky
//! relu's alpha as an f32, the dropouts as a spec block (thinnet_core::boundary).
//!
//! Outputs must not overlap inputs or each other (`check_disjoint`); inputs may share memory.
//! On any error nothing has been written.

use thinnet_core::boundary::{self, parse_dropouts, DenseBackwardCall, DenseForwardCall, BLOCK_WORDS};
use thinnet_core::{Activation, DenseDropouts, DenseShape, Error};

use crate::last_error::guard;
use crate::memory::linear;

/// Reads and parses the activation name at `ptr` (`len` bytes of UTF-8) with leaky relu's `alpha`.
///
/// # Safety
/// The bytes, when inside linear memory, are JavaScript's and not written during the call.
unsafe fn activation(ptr: usize, len: usize, alpha: f32) -> Result<Activation, Error> {
    let region = linear().region::<u8>("activation", ptr, len)?;
    // SAFETY: checked region, the caller's and unchanging (contract); the borrow ends here.
    boundary::activation(unsafe { region.slice::<u8>() }, f64::from(alpha))
}

/// Reads and parses the spec block at `ptr` (120 bytes, 8-byte aligned).
///
/// # Safety
/// As [`activation`].
unsafe fn dropouts(ptr: usize) -> Result<DenseDropouts, Error> {
    let region = linear().region::<u64>("dropouts (the spec block)", ptr, BLOCK_WORDS)?;
    let mut block = [0u64; BLOCK_WORDS];
    // SAFETY: checked region of BLOCK_WORDS aligned words, the caller's and unchanging (contract).
    block.copy_from_slice(unsafe { region.slice::<u64>() });
    parse_dropouts(&block)
}

/// The fused layer forward, y = dropout_out(act(dropout_in(x) . dropconnect(w) + b)), as
/// thinnet_core::dense_forward: x [rows, inputs], w [inputs, units], b [units] (optional),
/// y [rows, units], pre [rows, units] (optional: receives the pre-activation). Lengths in
/// elements; see the module documentation for optional arrays, the activation and the block.
///
/// # Safety
/// Every array is a region of linear memory that JavaScript owns (from `tn_alloc`, or its own
/// data) and in which no Rust object lives, written by nothing else during the call; addresses
/// outside memory, misaligned or null (with a non-zero length) are rejected, not trusted.
#[no_mangle]
#[allow(clippy::too_many_arguments)]
pub unsafe extern "C" fn tn_dense(
    x: *const f32,
    x_len: usize,
    w: *const f32,
    w_len: usize,
    b: *const f32,
    b_len: usize,
    y: *mut f32,
    y_len: usize,
    pre: *mut f32,
    pre_len: usize,
    rows: usize,
    inputs: usize,
    units: usize,
    act: *const u8,
    act_len: usize,
    alpha: f32,
    dropouts_block: *const u64,
) -> i32 {
    guard(|| {
        let mem = linear();
        let call = DenseForwardCall {
            x: mem.region::<f32>("x", x as usize, x_len)?,
            w: mem.region::<f32>("w", w as usize, w_len)?,
            b: mem.optional::<f32>("b", b as usize, b_len)?,
            y: mem.region::<f32>("y", y as usize, y_len)?,
            pre: mem.optional::<f32>("pre", pre as usize, pre_len)?,
            shape: DenseShape { rows, inputs, units },
            // SAFETY: forwarded from this function's contract.
            act: unsafe { activation(act as usize, act_len, alpha) }?,
            // SAFETY: as above.
            drops: unsafe { dropouts(dropouts_block as usize) }?,
        };
        // SAFETY: checked regions of JavaScript's memory that nothing else touches during the
        // call (contract); the call checks the overlap rules.
        unsafe { call.run() }
    })
}

/// The fused layer backward, as thinnet_core::dense_backward: from x, w and dy [rows, units],
/// with the saved forward output y and/or pre-activation pre (optional; which one the activation
/// needs: linear none, relu, leakyRelu, tanh and sigmoid y or pre, gelu pre), writes the present
/// gradients dx [rows, inputs], dw [inputs, units], db [units] (each optional; each written
/// entirely). The activation, alpha and spec block must be the forward call's: the masks are
/// regenerated from them. `sums` (two f64; absent as the arrays are) receives a concrete
/// inputDropout's G and H, which that member needs and every other refuses.
///
/// # Safety
/// As [`tn_dense`].
#[no_mangle]
#[allow(clippy::too_many_arguments)]
pub unsafe extern "C" fn tn_dense_backward(
    x: *const f32,
    x_len: usize,
    w: *const f32,
    w_len: usize,
    dy: *const f32,
    dy_len: usize,
    y: *const f32,
    y_len: usize,
    pre: *const f32,
    pre_len: usize,
    dx: *mut f32,
    dx_len: usize,
    dw: *mut f32,
    dw_len: usize,
    db: *mut f32,
    db_len: usize,
    sums: *mut f64,
    sums_len: usize,
    rows: usize,
    inputs: usize,
    units: usize,
    act: *const u8,
    act_len: usize,
    alpha: f32,
    dropouts_block: *const u64,
) -> i32 {
    guard(|| {
        let mem = linear();
        let call = DenseBackwardCall {
            x: mem.region::<f32>("x", x as usize, x_len)?,
            w: mem.region::<f32>("w", w as usize, w_len)?,
            dy: mem.region::<f32>("dy", dy as usize, dy_len)?,
            y: mem.optional::<f32>("y", y as usize, y_len)?,
            pre: mem.optional::<f32>("pre", pre as usize, pre_len)?,
            dx: mem.optional::<f32>("dx", dx as usize, dx_len)?,
            dw: mem.optional::<f32>("dw", dw as usize, dw_len)?,
            db: mem.optional::<f32>("db", db as usize, db_len)?,
            sums: mem.optional::<f64>("sums", sums as usize, sums_len)?,
            shape: DenseShape { rows, inputs, units },
            // SAFETY: forwarded from this function's contract.
            act: unsafe { activation(act as usize, act_len, alpha) }?,
            // SAFETY: as above.
            drops: unsafe { dropouts(dropouts_block as usize) }?,
        };
        // SAFETY: as in tn_dense.
        unsafe { call.run() }
    })
}
