//! The dropout spec block of the dense calls: the three dropouts of a dense call (input, output,
//! DropConnect), written by JavaScript (ts/backends/wasm-spec-block.ts) as 15 little-endian 64-bit
//! words, so that the calls do not take 3 x 8 scalar arguments.
//!
//! Layout: 120 bytes, 8-byte aligned; three records of 40 bytes, in the order inputDropout,
//! outputDropout, dropConnect. Each record (byte offsets within it):
//!
//! ```text
//!  0  kind    u32   0 none, 1 sample, 2 mean (the DropConnect inference rule; dropConnect only),
//!                   3 alpha (alpha dropout; inputDropout and outputDropout only),
//!                   4 gaussianDropout, 5 gaussianNoise, 6 concrete (inputDropout only)
//!  4  mode    u32   0 inverted, 1 classic (sample only; alpha and the Gaussian kinds ignore it)
//!  8  p       f64   drop probability in [0, 1] (sample, alpha and mean), in [0, 1)
//!                   (gaussianDropout); gaussianNoise: the stddev, finite and >= 0
//! 16  seed    u64   as two u32 halves, low first (sample, alpha and the Gaussian kinds)
//! 24  stream  u64   likewise
//! 32  offset  u64   likewise
//! ```
//!
//! Read as u64 words (wasm is little-endian), a record is [kind | mode << 32, p's bits, seed,
//! stream, offset]. Fields a kind does not use are ignored. Everything else is checked here, with
//! messages naming the field as the facade spells it ("inputDropout.p must be ..."); the core
//! checks offset + elements against 2^64, which needs the shape.
//!
//! Kind 3 (issue 12) came after the first three: a block without it reads as before. An alpha
//! record's spec has mode Inverted (unused: the alpha map's constants depend on p only).
//! Kinds 4 and 5 came next (issue 12, Gaussian members in the input slot; the layout is
//! unchanged, only the kind and the meaning of p are new): their spec has mode Inverted too
//! (unused), and gaussianNoise's stddev travels in the spec's `mask.p`. The output record and the
//! DropConnect record refuse them (the store would need a float per element).
//! Kind 6, concrete dropout in the input slot (docs/DROPOUT-FAMILY.md section 9), came last: its
//! three float32 constants take the mode and p fields, as float32 bits at bytes 4 (bias), 8
//! (invT) and 12 (scale), the facade's values as they are (boundary/concrete.rs's record has
//! them at 0, 4 and 8); seed, stream and offset where every record has them. The core checks
//! the constants (finite, invT > 0, scale >= 1), with the family's messages.

use crate::dense::{Activation, DenseDropouts, DropConnect, DropoutKind};
use crate::error::Error;
use crate::spec::{DropoutSpec, MaskSpec, Mode};

/// Words of one record, and of the block.
pub const RECORD_WORDS: usize = 5;
pub const BLOCK_WORDS: usize = 3 * RECORD_WORDS;

const KIND_NONE: u32 = 0;
const KIND_SAMPLE: u32 = 1;
const KIND_MEAN: u32 = 2;
const KIND_ALPHA: u32 = 3;
const KIND_GAUSSIAN_DROPOUT: u32 = 4;
const KIND_GAUSSIAN_NOISE: u32 = 5;
const KIND_CONCRETE: u32 = 6;

/// Parses a block (see the module documentation).
pub fn parse(block: &[u64; BLOCK_WORDS]) -> Result<DenseDropouts, Error> {
    let record = |i: usize| -> &[u64] { &block[i * RECORD_WORDS..(i + 1) * RECORD_WORDS] };
    let (input, input_kind) = dense_dropout("inputDropout", record(0), true)?;
    let (output, output_kind) = dense_dropout("outputDropout", record(1), false)?;
    let drop_connect = match kind_of(record(2)) {
        KIND_MEAN => Some(DropConnect::Mean { p: p_of("dropConnect", record(2))? }),
        KIND_NONE | KIND_SAMPLE => dropout("dropConnect", record(2))?.map(DropConnect::Sample),
        other => {
            return Err(Error::invalid_arg(format!(
                "dropConnect.kind must be 0 (none), 1 (sample) or 2 (mean), received {}",
                other
            )))
        }
    };
    Ok(DenseDropouts { input, output, drop_connect, input_kind, output_kind })
}

/// An input or output record: none, sample (dropout) or alpha; on the input (`input`) also
/// gaussianDropout or gaussianNoise.
fn dense_dropout(name: &str, record: &[u64], input: bool) -> Result<(Option<DropoutSpec>, DropoutKind), Error> {
    let with = |p: f64, kind: DropoutKind| {
        let mask = MaskSpec { p, seed: record[2], stream: record[3], offset: record[4] };
        Ok((Some(DropoutSpec { mask, mode: Mode::Inverted }), kind))
    };
    let p = f64::from_bits(record[1]);
    match kind_of(record) {
        KIND_NONE | KIND_SAMPLE => Ok((dropout(name, record)?, DropoutKind::Dropout)),
        KIND_ALPHA => with(p_of(name, record)?, DropoutKind::Alpha),
        KIND_GAUSSIAN_DROPOUT if input => {
            // false for NaN.
            if !(0.0..1.0).contains(&p) {
                return Err(Error::invalid_arg(format!(
                    "{}.p must be a number in [0, 1) for gaussianDropout, received {}",
                    name,
                    js_number(p)
                )));
            }
            with(p, DropoutKind::GaussianDropout)
        }
        KIND_GAUSSIAN_NOISE if input => {
            // As the family: a stddev whose float32 is infinite is refused too.
            if !(p >= 0.0 && p.is_finite() && (p as f32).is_finite()) {
                return Err(Error::invalid_arg(format!(
                    "{}.stddev must be a finite number >= 0 (below 3.4e38), received {}",
                    name,
                    js_number(p)
                )));
            }
            with(p, DropoutKind::GaussianNoise)
        }
        KIND_CONCRETE if input => {
            let bias = f32::from_bits((record[0] >> 32) as u32);
            let (inv_t, scale) = (f32::from_bits(record[1] as u32), f32::from_bits((record[1] >> 32) as u32));
            with(0.0, DropoutKind::Concrete { bias, inv_t, scale })
        }
        other if input => Err(Error::invalid_arg(format!(
            "{}.kind must be 0 (none), 1 (sample), 3 (alpha), 4 (gaussianDropout), 5 (gaussianNoise) or 6 (concrete), \
             received {}",
            name, other
        ))),
        other => Err(Error::invalid_arg(format!(
            "{}.kind must be 0 (none), 1 (sample) or 3 (alpha) (4, 5 and 6, the Gaussian members and concrete \
             dropout, are inputDropout only), received {}",
            name, other
        ))),
    }
}

/// The header of a dense call as bytes: the block (little-endian words, any alignment) followed
/// by the activation's name in UTF-8, which leaky relu's `alpha` completes. The N-API addon
/// receives these bytes as one Uint8Array, from the encoder that fills WASM's (wasm-spec-block.ts).
pub fn parse_dense_header(bytes: &[u8], alpha: f64) -> Result<(Activation, DenseDropouts), Error> {
    if bytes.len() < 8 * BLOCK_WORDS {
        return Err(Error::invalid_arg(format!(
            "the dense header must hold the {}-byte spec block and the activation's name, received {} bytes",
            8 * BLOCK_WORDS,
            bytes.len()
        )));
    }
    let (block_bytes, name) = bytes.split_at(8 * BLOCK_WORDS);
    let mut block = [0u64; BLOCK_WORDS];
    for (word, chunk) in block.iter_mut().zip(block_bytes.chunks_exact(8)) {
        let mut le = [0u8; 8];
        le.copy_from_slice(chunk);
        *word = u64::from_le_bytes(le);
    }
    let drops = parse(&block)?;
    Ok((activation(name, alpha)?, drops))
}

/// The activation named by `name` (UTF-8 bytes), with leaky relu's `alpha` as JavaScript passed
/// it. The core parses the name and checks alpha; one case is caught here first: a finite alpha
/// too large for float32, which would otherwise be reported as "received inf".
pub fn activation(name: &[u8], alpha: f64) -> Result<Activation, Error> {
    let name = std::str::from_utf8(name).map_err(|_| {
        Error::invalid_arg(format!("activation must be a UTF-8 name, received {} bytes that are not UTF-8", name.len()))
    })?;
    let alpha32 = alpha as f32;
    if name == "leakyRelu" && alpha.is_finite() && alpha32.is_infinite() {
        return Err(Error::invalid_arg(format!(
            "activation leakyRelu needs alpha finite and >= 0 in float32 (below 3.4e38), received {}",
            js_number(alpha)
        )));
    }
    Activation::parse(name, alpha32)
}

/// One record as 40 bytes, little-endian (the N-API addon's dropout calls receive a Uint8Array
/// that wasm-spec-block.ts's `specRecord` fills), as [`parse_record`].
pub fn parse_record_bytes(bytes: &[u8]) -> Result<DropoutSpec, Error> {
    if bytes.len() != 8 * RECORD_WORDS {
        return Err(Error::invalid_arg(format!(
            "spec must be a {}-byte dropout record, received {} bytes",
            8 * RECORD_WORDS,
            bytes.len()
        )));
    }
    let mut record = [0u64; RECORD_WORDS];
    for (word, chunk) in record.iter_mut().zip(bytes.chunks_exact(8)) {
        let mut le = [0u8; 8];
        le.copy_from_slice(chunk);
        *word = u64::from_le_bytes(le);
    }
    parse_record(&record)
}

/// One record that must be a sample (the dropout calls' spec; the mask calls ignore its mode).
pub fn parse_record(record: &[u64; RECORD_WORDS]) -> Result<DropoutSpec, Error> {
    match dropout("spec", record)? {
        Some(spec) => Ok(spec),
        None => Err(Error::invalid_arg("spec.kind must be 1 (sample), received 0".to_string())),
    }
}

fn kind_of(record: &[u64]) -> u32 {
    record[0] as u32
}

/// A record of kind none or sample.
fn dropout(name: &str, record: &[u64]) -> Result<Option<DropoutSpec>, Error> {
    match kind_of(record) {
        KIND_NONE => return Ok(None),
        KIND_SAMPLE => {}
        other => {
            return Err(Error::invalid_arg(format!("{}.kind must be 0 (none) or 1 (sample), received {}", name, other)))
        }
    }
    let mode = match (record[0] >> 32) as u32 {
        0 => Mode::Inverted,
        1 => Mode::Classic,
        other => {
            return Err(Error::invalid_arg(format!(
                "{}.mode must be 0 (inverted) or 1 (classic), received {}",
                name, other
            )))
        }
    };
    let mask = MaskSpec { p: p_of(name, record)?, seed: record[2], stream: record[3], offset: record[4] };
    Ok(Some(DropoutSpec { mask, mode }))
}

/// The record's p, checked to be in [0, 1] (NaN is not).
fn p_of(name: &str, record: &[u64]) -> Result<f64, Error> {
    let p = f64::from_bits(record[1]);
    // false for NaN.
    if (0.0..=1.0).contains(&p) {
        Ok(p)
    } else {
        Err(Error::invalid_arg(format!("{}.p must be a number in [0, 1], received {}", name, js_number(p))))
    }
}

/// A number as JavaScript's String(x) shows it: "NaN", "Infinity", "1e+300", "-0" (String(-0)
/// says "0"; the message shows what was passed), so that messages read the same on every backend.
/// Rust and JavaScript both print the shortest digits that round-trip; they differ in when and
/// how they use exponents.
pub fn js_number(x: f64) -> String {
    if x.is_nan() {
        return "NaN".to_string();
    }
    if x.is_infinite() {
        return if x > 0.0 { "Infinity" } else { "-Infinity" }.to_string();
    }
    if x == 0.0 {
        return if x.is_sign_negative() { "-0" } else { "0" }.to_string();
    }
    let a = x.abs();
    if (1e-6..1e21).contains(&a) {
        return format!("{}", x);
    }
    // Rust writes "1e300" and "1.5e-7", JavaScript "1e+300" and "1.5e-7".
    let s = format!("{:e}", x);
    match s.find('e') {
        Some(at) if !s[at + 1..].starts_with('-') => format!("{}e+{}", &s[..at], &s[at + 1..]),
        _ => s,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ErrorCode;

    /// One record as JavaScript writes it.
    fn record(kind: u32, mode: u32, p: f64, seed: u64, stream: u64, offset: u64) -> [u64; RECORD_WORDS] {
        [u64::from(kind) | u64::from(mode) << 32, p.to_bits(), seed, stream, offset]
    }

    fn block(records: [[u64; RECORD_WORDS]; 3]) -> [u64; BLOCK_WORDS] {
        let mut b = [0u64; BLOCK_WORDS];
        for (i, r) in records.iter().enumerate() {
            b[i * RECORD_WORDS..(i + 1) * RECORD_WORDS].copy_from_slice(r);
        }
        b
    }

    const NONE: [u64; RECORD_WORDS] = [0; RECORD_WORDS];

    #[test]
    fn an_empty_block_is_no_dropout() {
        assert_eq!(parse(&[0; BLOCK_WORDS]).unwrap(), DenseDropouts::default());
        // Unused fields of kind none are ignored.
        let b = block([record(0, 9, f64::NAN, 1, 2, 3), record(0, 7, 5.0, 0, 0, 0), record(0, 3, -1.0, 0, 0, 0)]);
        assert_eq!(parse(&b).unwrap(), DenseDropouts::default());
    }

    #[test]
    fn records_map_to_specs_field_by_field() {
        let b = block([
            record(1, 0, 0.25, u64::MAX, 1 << 40, (1 << 33) + 5),
            record(1, 1, 0.5, 7, 0, 0),
            record(1, 1, 0.125, 3, 4, 5),
        ]);
        let d = parse(&b).unwrap();
        let spec = |p, seed, stream, offset, mode| DropoutSpec { mask: MaskSpec { p, seed, stream, offset }, mode };
        assert_eq!(d.input, Some(spec(0.25, u64::MAX, 1 << 40, (1 << 33) + 5, Mode::Inverted)));
        assert_eq!(d.output, Some(spec(0.5, 7, 0, 0, Mode::Classic)));
        assert_eq!(d.drop_connect, Some(DropConnect::Sample(spec(0.125, 3, 4, 5, Mode::Classic))));

        // Mean uses p only.
        let b = block([NONE, NONE, record(2, 9, 0.3, 1, 2, 3)]);
        assert_eq!(parse(&b).unwrap().drop_connect, Some(DropConnect::Mean { p: 0.3 }));
        assert_eq!((d.input_kind, d.output_kind), (DropoutKind::Dropout, DropoutKind::Dropout));

        // Alpha (kind 3) on the input and output: the sample's fields, mode ignored.
        let b = block([record(3, 7, 0.1, 5, 6, 7), record(3, 1, 0.2, 8, 9, 10), NONE]);
        let d = parse(&b).unwrap();
        assert_eq!(d.input, Some(spec(0.1, 5, 6, 7, Mode::Inverted)));
        assert_eq!(d.output, Some(spec(0.2, 8, 9, 10, Mode::Inverted)));
        assert_eq!((d.input_kind, d.output_kind), (DropoutKind::Alpha, DropoutKind::Alpha));
        // Gaussian dropout (4) and noise (5) on the input: p (or the stddev, 2.5) kept, mode ignored.
        let b = block([record(4, 1, 0.25, 5, 6, 7), NONE, NONE]);
        let d = parse(&b).unwrap();
        assert_eq!((d.input, d.input_kind), (Some(spec(0.25, 5, 6, 7, Mode::Inverted)), DropoutKind::GaussianDropout));
        let b = block([record(5, 9, 2.5, 5, 6, 7), NONE, NONE]);
        let d = parse(&b).unwrap();
        assert_eq!((d.input, d.input_kind), (Some(spec(2.5, 5, 6, 7, Mode::Inverted)), DropoutKind::GaussianNoise));
        // Concrete (6) on the input: bias, invT and scale as float32 bits at bytes 4, 8 and 12.
        let (bias, inv_t, scale) = (-2.197_224_6f32, 10.0f32, 1.25f32);
        let words = [
            6 | u64::from(bias.to_bits()) << 32,
            u64::from(inv_t.to_bits()) | u64::from(scale.to_bits()) << 32,
            5,
            6,
            7,
        ];
        let d = parse(&block([words, NONE, NONE])).unwrap();
        assert_eq!(
            (d.input, d.input_kind),
            (Some(spec(0.0, 5, 6, 7, Mode::Inverted)), DropoutKind::Concrete { bias, inv_t, scale })
        );
        // A dropout's spec is not a dropout call's spec when it is alpha.
        assert!(parse_record(&record(3, 0, 0.5, 0, 0, 0)).unwrap_err().message.starts_with("spec.kind must be"));
    }

    #[test]
    fn the_u32_pair_view_is_the_u64_view() {
        // JavaScript may write seed as (lo, hi) u32 halves: the same bytes as the u64.
        let mut bytes = [0u8; 8 * BLOCK_WORDS];
        bytes[0..4].copy_from_slice(&1u32.to_le_bytes()); // kind sample
        bytes[4..8].copy_from_slice(&1u32.to_le_bytes()); // mode classic
        bytes[8..16].copy_from_slice(&0.5f64.to_le_bytes());
        bytes[16..20].copy_from_slice(&0x89ab_cdefu32.to_le_bytes()); // seed lo
        bytes[20..24].copy_from_slice(&0x0123_4567u32.to_le_bytes()); // seed hi
        let mut words = [0u64; BLOCK_WORDS];
        for (w, chunk) in words.iter_mut().zip(bytes.chunks(8)) {
            let mut le = [0u8; 8];
            le.copy_from_slice(chunk);
            *w = u64::from_le_bytes(le);
        }
        let spec = parse(&words).unwrap().input.unwrap();
        assert_eq!((spec.mode, spec.mask.p, spec.mask.seed), (Mode::Classic, 0.5, 0x0123_4567_89ab_cdef));
    }

    fn message(b: [u64; BLOCK_WORDS]) -> String {
        let err = parse(&b).unwrap_err();
        assert_eq!(err.code, ErrorCode::InvalidArg);
        err.message
    }

    #[test]
    fn bad_fields_are_named() {
        let ok = record(1, 0, 0.5, 0, 0, 0);
        assert_eq!(
            message(block([record(1, 0, 1.5, 0, 0, 0), ok, ok])),
            "inputDropout.p must be a number in [0, 1], received 1.5"
        );
        assert_eq!(
            message(block([ok, record(1, 0, f64::NAN, 0, 0, 0), ok])),
            "outputDropout.p must be a number in [0, 1], received NaN"
        );
        assert_eq!(
            message(block([ok, ok, record(2, 0, -0.5, 0, 0, 0)])),
            "dropConnect.p must be a number in [0, 1], received -0.5"
        );
        assert_eq!(
            message(block([ok, ok, record(1, 0, f64::INFINITY, 0, 0, 0)])),
            "dropConnect.p must be a number in [0, 1], received Infinity"
        );
        assert_eq!(
            message(block([ok, record(1, 2, 0.5, 0, 0, 0), ok])),
            "outputDropout.mode must be 0 (inverted) or 1 (classic), received 2"
        );
        assert_eq!(
            message(block([record(2, 0, 0.5, 0, 0, 0), ok, ok])),
            "inputDropout.kind must be 0 (none), 1 (sample), 3 (alpha), 4 (gaussianDropout), 5 (gaussianNoise) or 6 \
             (concrete), received 2"
        );
        assert_eq!(
            message(block([ok, record(4, 0, 0.5, 0, 0, 0), ok])),
            "outputDropout.kind must be 0 (none), 1 (sample) or 3 (alpha) (4, 5 and 6, the Gaussian members and \
             concrete dropout, are inputDropout only), received 4"
        );
        assert_eq!(
            message(block([ok, record(5, 0, 0.5, 0, 0, 0), ok])),
            "outputDropout.kind must be 0 (none), 1 (sample) or 3 (alpha) (4, 5 and 6, the Gaussian members and \
             concrete dropout, are inputDropout only), received 5"
        );
        assert_eq!(
            message(block([ok, record(6, 0, 0.5, 0, 0, 0), ok])),
            "outputDropout.kind must be 0 (none), 1 (sample) or 3 (alpha) (4, 5 and 6, the Gaussian members and \
             concrete dropout, are inputDropout only), received 6"
        );
        assert_eq!(
            message(block([ok, ok, record(4, 0, 0.5, 0, 0, 0)])),
            "dropConnect.kind must be 0 (none), 1 (sample) or 2 (mean), received 4"
        );
        assert_eq!(
            message(block([record(4, 0, 1.0, 0, 0, 0), ok, ok])),
            "inputDropout.p must be a number in [0, 1) for gaussianDropout, received 1"
        );
        assert_eq!(
            message(block([record(5, 0, -1.0, 0, 0, 0), ok, ok])),
            "inputDropout.stddev must be a finite number >= 0 (below 3.4e38), received -1"
        );
        assert_eq!(
            message(block([record(5, 0, 1e39, 0, 0, 0), ok, ok])),
            "inputDropout.stddev must be a finite number >= 0 (below 3.4e38), received 1e+39"
        );
        assert_eq!(
            message(block([record(5, 0, f64::NAN, 0, 0, 0), ok, ok])),
            "inputDropout.stddev must be a finite number >= 0 (below 3.4e38), received NaN"
        );
        assert_eq!(
            message(block([ok, ok, record(3, 0, 0.5, 0, 0, 0)])),
            "dropConnect.kind must be 0 (none), 1 (sample) or 2 (mean), received 3",
            "no alpha DropConnect"
        );
        assert_eq!(
            message(block([record(3, 0, f64::NAN, 0, 0, 0), ok, ok])),
            "inputDropout.p must be a number in [0, 1], received NaN"
        );
        assert_eq!(
            message(block([ok, ok, record(3, 0, 0.5, 0, 0, 0)])),
            "dropConnect.kind must be 0 (none), 1 (sample) or 2 (mean), received 3"
        );
        // p = 0 and p = 1 are valid.
        assert!(parse(&block([record(1, 0, 0.0, 0, 0, 0), record(1, 0, 1.0, 0, 0, 0), NONE])).is_ok());
    }

    #[test]
    fn dense_headers_are_the_block_then_the_name() {
        let b = block([record(1, 1, 0.25, 1 << 40, 3, 5), NONE, record(2, 0, 0.5, 0, 0, 0)]);
        let mut bytes: Vec<u8> = b.iter().flat_map(|w| w.to_le_bytes()).collect();
        bytes.extend_from_slice(b"leakyRelu");
        // Any alignment: the bytes are read, not borrowed as words.
        bytes.insert(0, 0);
        let (act, drops) = parse_dense_header(&bytes[1..], 0.5).unwrap();
        assert_eq!(act, Activation::parse("leakyRelu", 0.5).unwrap());
        assert_eq!(drops, parse(&b).unwrap());
        assert!(parse_dense_header(&bytes[1..100], 0.0).unwrap_err().message.starts_with("the dense header must hold"));
        let mut bad = bytes[1..].to_vec();
        bad.truncate(8 * BLOCK_WORDS);
        bad.extend_from_slice(&[0xff, 0xfe]);
        assert_eq!(
            parse_dense_header(&bad, 0.0).unwrap_err().message,
            "activation must be a UTF-8 name, received 2 bytes that are not UTF-8"
        );
        let spec = parse_record(&record(1, 0, 0.5, 7, 8, 9)).unwrap();
        let bytes: Vec<u8> = record(1, 0, 0.5, 7, 8, 9).iter().flat_map(|w| w.to_le_bytes()).collect();
        assert_eq!(parse_record_bytes(&bytes).unwrap(), spec);
        assert!(parse_record_bytes(&bytes[1..]).unwrap_err().message.starts_with("spec must be a 40-byte"));
        assert_eq!((spec.mask.seed, spec.mask.stream, spec.mask.offset, spec.mode), (7, 8, 9, Mode::Inverted));
        assert!(parse_record(&NONE).is_err());
        assert!(parse_record(&record(1, 0, 1.5, 0, 0, 0)).unwrap_err().message.starts_with("spec.p must be"));
    }

    #[test]
    fn activations_parse_with_alpha_checked_in_float32() {
        let activation = |name: &str, alpha| activation(name.as_bytes(), alpha);
        assert_eq!(activation("relu", f64::NAN).unwrap(), Activation::Relu, "alpha is ignored by relu");
        assert_eq!(activation("leakyRelu", 0.25).unwrap(), Activation::LeakyRelu { alpha: 0.25 });
        let err = activation("leakyRelu", 1e300).unwrap_err();
        assert_eq!(err.code, ErrorCode::InvalidArg);
        assert!(err.message.contains("float32") && err.message.ends_with("received 1e+300"), "{}", err.message);
        let err = activation("leakyRelu", -0.5).unwrap_err();
        assert_eq!(err, Activation::parse("leakyRelu", -0.5).unwrap_err(), "the core's message");
        assert!(activation("leakyRelu", f64::INFINITY).is_err());
        let err = activation("softmax", 0.0).unwrap_err();
        assert!(err.message.ends_with("received 'softmax'"), "{}", err.message);
    }

    #[test]
    fn numbers_print_like_javascript() {
        let cases: [(f64, &str); 12] = [
            (1.5, "1.5"),
            (0.1, "0.1"),
            (-0.0, "-0"),
            (0.0, "0"),
            (2.0, "2"),
            (1e300, "1e+300"),
            (-1.5e21, "-1.5e+21"),
            (1e20, "100000000000000000000"),
            (1.5e-7, "1.5e-7"),
            (1e-6, "0.000001"),
            (9.5e-7, "9.5e-7"),
            (f64::NEG_INFINITY, "-Infinity"),
        ];
        for (x, want) in cases.iter() {
            assert_eq!(js_number(*x), *want, "{}", x);
        }
    }
}
