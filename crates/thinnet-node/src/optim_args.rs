//! Reading the arguments of `sgdStep`, `adamStep`, `maxNorm` and `allFinite` into the calls of
//! `crate::optim`. Numbers and booleans are read first (reading them runs no JavaScript), the
//! arrays last, as everywhere in this binding. Float parameters arrive as JavaScript numbers and
//! are rounded to float32 here (`as f32`: to nearest, ties to even, exactly `Math.fround`); the
//! core checks their ranges.

use thinnet_core::{AdamParams, Error, SgdParams};

use crate::args::{self, optional_array_arg, typed_array};
use crate::env::{Env, Value};
use crate::optim::{AdamCall, AllFiniteCall, MaxNormCall, SgdCall};

fn float(env: &Env, value: Value, name: &str) -> Result<f32, Error> {
    Ok(args::number(env, value, name)? as f32)
}

/// `sgdStep(w, g, velocity | null, lr, momentum, nesterov, weightDecay)`.
pub fn sgd<'e>(env: &'e Env, [w, g, velocity, lr, momentum, nesterov, wd]: [Value; 7]) -> Result<SgdCall<'e>, Error> {
    let params = SgdParams {
        lr: float(env, lr, "lr")?,
        momentum: float(env, momentum, "momentum")?,
        nesterov: args::boolean(env, nesterov, "nesterov")?,
        weight_decay: float(env, wd, "weightDecay")?,
    };
    Ok(SgdCall {
        w: typed_array(env, w, "w")?,
        g: typed_array(env, g, "g")?,
        velocity: optional_array_arg::<f32>(env, velocity, "velocity")?.map(|a| args::callback_region(env, a)),
        params,
    })
}

/// `adamStep(w, g, m, v, lr, beta1, oneMinusBeta1, beta2, oneMinusBeta2, epsilon, weightDecay,
/// decoupled, biasCorrection1, biasCorrection2, decay)`.
pub fn adam<'e>(env: &'e Env, argv: [Value; 15]) -> Result<AdamCall<'e>, Error> {
    let [w, g, m, v, lr, beta1, c1, beta2, c2, eps, wd, decoupled, bc1, bc2, decay] = argv;
    let params = AdamParams {
        lr: float(env, lr, "lr")?,
        beta1: float(env, beta1, "beta1")?,
        one_minus_beta1: float(env, c1, "oneMinusBeta1")?,
        beta2: float(env, beta2, "beta2")?,
        one_minus_beta2: float(env, c2, "oneMinusBeta2")?,
        epsilon: float(env, eps, "epsilon")?,
        weight_decay: float(env, wd, "weightDecay")?,
        decoupled: args::boolean(env, decoupled, "decoupled")?,
        bias_correction1: float(env, bc1, "biasCorrection1")?,
        bias_correction2: float(env, bc2, "biasCorrection2")?,
        decay: float(env, decay, "decay")?,
    };
    Ok(AdamCall {
        w: typed_array(env, w, "w")?,
        g: typed_array(env, g, "g")?,
        m: typed_array(env, m, "m")?,
        v: typed_array(env, v, "v")?,
        params,
    })
}

/// `maxNorm(w, inputs, units, c)`.
pub fn max_norm<'e>(env: &'e Env, [w, inputs, units, c]: [Value; 4]) -> Result<MaxNormCall<'e>, Error> {
    let inputs = args::count(env, inputs, "inputs")?;
    let units = args::count(env, units, "units")?;
    let c = float(env, c, "c")?;
    Ok(MaxNormCall { w: typed_array(env, w, "w")?, inputs, units, c })
}

/// `allFinite(x)`.
pub fn all_finite<'e>(env: &'e Env, [x]: [Value; 1]) -> Result<AllFiniteCall<'e>, Error> {
    Ok(AllFiniteCall { x: typed_array(env, x, "x")? })
}
