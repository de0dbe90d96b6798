//! Philox4x32-10, the counter-based generator of the mask contract (Salmon et al., SC'11,
//! Random123). A pure function of (counter, key): this scalar version is the reference that every
//! SIMD path in this crate reproduces bit for bit.

/// Multipliers and Weyl key increments of Philox4x32 (Random123 `philox.h`).
pub const M0: u32 = 0xD251_1F53;
pub const M1: u32 = 0xCD9E_8D57;
pub const W0: u32 = 0x9E37_79B9;
pub const W1: u32 = 0xBB67_AE85;
pub const ROUNDS: usize = 10;

/// The ten round keys of `key`: SIMD paths broadcast these once per call instead of bumping the
/// key inside the round loop.
pub fn round_keys(key: [u32; 2]) -> [[u32; 2]; ROUNDS] {
    let mut keys = [[0u32; 2]; ROUNDS];
    let mut k = key;
    for slot in keys.iter_mut() {
        *slot = k;
        k = [k[0].wrapping_add(W0), k[1].wrapping_add(W1)];
    }
    keys
}

#[inline(always)]
fn mulhilo(a: u32, b: u32) -> (u32, u32) {
    let product = u64::from(a) * u64::from(b);
    ((product >> 32) as u32, product as u32)
}

/// One Philox4x32-10 block: 128 random bits from a 128-bit counter and a 64-bit key.
#[inline]
pub fn philox4x32_10(counter: [u32; 4], key: [u32; 2]) -> [u32; 4] {
    let mut c = counter;
    let mut k = key;
    for round in 0..ROUNDS {
        if round > 0 {
            k = [k[0].wrapping_add(W0), k[1].wrapping_add(W1)];
        }
        let (hi0, lo0) = mulhilo(M0, c[0]);
        let (hi1, lo1) = mulhilo(M1, c[2]);
        c = [hi1 ^ c[1] ^ k[0], lo1, hi0 ^ c[3] ^ k[1], lo0];
    }
    c
}

/// Key of a 64-bit seed: (seed mod 2^32, floor(seed / 2^32)).
#[inline]
pub fn key_of_seed(seed: u64) -> [u32; 2] {
    [seed as u32, (seed >> 32) as u32]
}

/// Counter of block `block` in stream `stream`.
#[inline]
pub fn counter(block: u64, stream: u64) -> [u32; 4] {
    [block as u32, (block >> 32) as u32, stream as u32, (stream >> 32) as u32]
}

/// The draw u of element `j` (the contract's definition, one element at a time).
#[inline]
pub fn draw(key: [u32; 2], stream: u64, j: u64) -> u32 {
    philox4x32_10(counter(j >> 2, stream), key)[(j & 3) as usize]
}

#[cfg(test)]
mod tests {
    use super::*;

    // Random123's known-answer vectors (kat_vectors, philox4x32_10).
    #[test]
    fn known_answers() {
        assert_eq!(philox4x32_10([0; 4], [0; 2]), [0x6627e8d5, 0xe169c58d, 0xbc57ac4c, 0x9b00dbd8]);
        assert_eq!(philox4x32_10([u32::MAX; 4], [u32::MAX; 2]), [0x408f276d, 0x41c83b0e, 0xa20bc7c6, 0x6d5451fd]);
        assert_eq!(
            philox4x32_10([0x243f6a88, 0x85a308d3, 0x13198a2e, 0x03707344], [0xa4093822, 0x299f31d0]),
            [0xd16cfe09, 0x94fdcceb, 0x5001e420, 0x24126ea1]
        );
    }

    #[test]
    fn round_keys_match_the_bumped_key() {
        let keys = round_keys([u32::MAX, 7]);
        assert_eq!(keys[0], [u32::MAX, 7]);
        assert_eq!(keys[1], [W0.wrapping_sub(1), 7u32.wrapping_add(W1)]);
    }

    #[test]
    fn counter_and_key_split_64_bit_values() {
        assert_eq!(key_of_seed(0x1234_5678_9abc_def0), [0x9abc_def0, 0x1234_5678]);
        assert_eq!(counter((1 << 32) + 3, 7), [3, 1, 7, 0]);
    }
}
