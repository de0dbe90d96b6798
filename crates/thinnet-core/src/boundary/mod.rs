//! The boundary every binding shares: what the N-API addon and the WASM module receive from
//! JavaScript, decoded and checked once, here, for what memory safety and the transport need:
//! the dropout family's record and shapes (`noise`), concrete dropout's record and sums
//! (`concrete`), regions of caller memory and the no-overlap rule between outputs and everything
//! else a call touches (`region`), the dense calls' dropout spec block (`spec_block`, written by
//! ts/backends/wasm-spec-block.ts), the scalar arguments and optimizer blocks (`calls`), and each
//! op's call as plain data that checks its overlap rules and makes the one core call (`ops`). User
//! input is checked by the facade (ts/ops, ts/validate.ts) before it gets here, and the kernels
//! check the shapes they need; a binding only reads its transport and calls through here.

mod calls;
mod concrete;
mod noise;
mod ops;
mod pinned;
mod region;
mod spec_block;

pub use calls::{adam_params, check_gemm, f64_block, flag, join, mode, sgd_params, ADAM_WORDS, SGD_WORDS};
pub use concrete::{parse_concrete_record_bytes, ConcreteBackwardCall, ConcreteCall};
pub use noise::{broadcast_of, broadcast_of_bytes, parse_noise_record_bytes, NoiseCall};
pub use ops::{
    AdamCall, DenseBackwardCall, DenseForwardCall, DropoutCall, GemmCall, MaskCall, PlannedBackward, PlannedForward,
    SgdCall,
};
pub use pinned::Pinned;
pub use region::{check_disjoint, pair, Memory, Pair, Region, ABSENT};
pub use spec_block::{
    activation, js_number, parse as parse_dropouts, parse_dense_header, parse_record, parse_record_bytes, BLOCK_WORDS,
    RECORD_WORDS,
};
