//! Reading the arguments of `sgdStep`, `adamStep`, `maxNorm` and `allFinite`. The optimizers'
//! hyper-parameters arrive as a Float64Array's bytes, the block the WASM backend writes too
//! (ts/backends/wasm-spec-block.ts `float64Block`), decoded by thinnet_core::boundary: rounded
//! once to float32, Adam's factors derived from the step. The arrays are read last.

use thinnet_core::boundary::{adam_params, f64_block, sgd_params, AdamCall, Region, SgdCall, ADAM_WORDS, SGD_WORDS};
use thinnet_core::Error;

use crate::args::{self, optional_region, region};
use crate::env::{Env, Value};

/// `sgdStep(w, g, velocity | null, params)`, params [lr, momentum, nesterov, weightDecay].
pub fn sgd(env: &Env, [w, g, velocity, params]: [Value; 4]) -> Result<SgdCall, Error> {
    let params = sgd_params(&f64_block::<SGD_WORDS>("params", &args::bytes(env, params, "params")?)?)?;
    let (w, g) = (region::<f32>(env, w, "w")?, region::<f32>(env, g, "g")?);
    Ok(SgdCall { w, g, velocity: optional_region::<f32>(env, velocity, "velocity")?, params })
}

/// `adamStep(w, g, m, v, params)`, params [lr, beta1, beta2, epsilon, weightDecay, decoupled,
/// step].
pub fn adam(env: &Env, [w, g, m, v, params]: [Value; 5]) -> Result<AdamCall, Error> {
    let params = adam_params(&f64_block::<ADAM_WORDS>("params", &args::bytes(env, params, "params")?)?)?;
    let (w, g) = (region::<f32>(env, w, "w")?, region::<f32>(env, g, "g")?);
    Ok(AdamCall { w, g, m: region::<f32>(env, m, "m")?, v: region::<f32>(env, v, "v")?, params })
}

/// `maxNorm(w, inputs, units, c)`.
pub fn max_norm(env: &Env, [w, inputs, units, c]: [Value; 4]) -> Result<(Region, usize, usize, f32), Error> {
    let inputs = args::count(env, inputs, "inputs")?;
    let units = args::count(env, units, "units")?;
    let c = args::number(env, c, "c")? as f32;
    Ok((region::<f32>(env, w, "w")?, inputs, units, c))
}
