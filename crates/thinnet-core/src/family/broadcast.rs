//! Noise shapes (docs/DROPOUT-FAMILY.md section 1): a mask drawn over a noise tensor whose dims
//! are the tensor's or 1, broadcast over the rest. Element i reads noise element
//! v(i) = sum of i_d * stride_N(d) over the dims where the noise is not broadcast.

use crate::error::Error;

/// The largest rank a call may have (Keras and PyTorch layers use up to 5).
pub const MAX_RANK: usize = 8;

/// A checked tensor shape and noise shape.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Broadcast {
    rank: usize,
    dims: [usize; MAX_RANK],
    noise: [usize; MAX_RANK],
}

impl Broadcast {
    /// Checks that `dims` and `noise` have one rank in 1..=8 and that every noise dim equals the
    /// tensor's or 1; the product of `dims` is checked against the data by the call.
    pub fn new(dims: &[usize], noise: &[usize]) -> Result<Broadcast, Error> {
        if dims.is_empty() || dims.len() > MAX_RANK {
            return Err(Error::invalid_arg(format!("shape must have 1 to {} dims, received {}", MAX_RANK, dims.len())));
        }
        if noise.len() != dims.len() {
            return Err(Error::shape_mismatch(format!(
                "noiseShape must have the rank of shape ({}), received {} dims",
                dims.len(),
                noise.len()
            )));
        }
        for (d, (&s, &m)) in dims.iter().zip(noise).enumerate() {
            if m != s && m != 1 {
                return Err(Error::shape_mismatch(format!(
                    "noiseShape[{}] must be {} (shape[{}]) or 1, received {}",
                    d, s, d, m
                )));
            }
        }
        let mut b = Broadcast { rank: dims.len(), dims: [1; MAX_RANK], noise: [1; MAX_RANK] };
        b.dims[..dims.len()].copy_from_slice(dims);
        b.noise[..noise.len()].copy_from_slice(noise);
        b.elements()?;
        Ok(b)
    }

    /// Elements of the tensor (an error when the product overflows usize).
    pub fn elements(&self) -> Result<usize, Error> {
        self.dims[..self.rank].iter().try_fold(1usize, |acc, &d| acc.checked_mul(d)).ok_or_else(|| {
            Error::invalid_arg(format!("shape {:?} has more elements than this machine can address", self.dims()))
        })
    }

    /// Elements of the noise tensor: the draws a call consumes.
    pub fn noise_len(&self) -> usize {
        // Never overflows: at most the tensor's product, which `new` checked.
        self.noise[..self.rank].iter().product()
    }

    pub fn dims(&self) -> &[usize] {
        &self.dims[..self.rank]
    }

    pub fn noise(&self) -> &[usize] {
        &self.noise[..self.rank]
    }

    /// True when the noise shape is the tensor's: element i reads noise element i.
    pub fn is_elementwise(&self) -> bool {
        self.dims() == self.noise()
    }

    /// The dims merged into runs that are all broadcast or all not (size-1 dims dropped): the
    /// walk's loop nest. Each run: (size, noise stride or 0 when broadcast).
    pub(crate) fn runs(&self) -> Runs {
        let mut runs = Runs { len: 0, size: [1; MAX_RANK], stride: [0; MAX_RANK] };
        let mut stride = 1usize;
        // Right to left, so that the noise strides come out row-major.
        for d in (0..self.rank).rev() {
            let (s, m) = (self.dims[d], self.noise[d]);
            if s == 1 {
                continue;
            }
            let varies = m != 1;
            let last = runs.len.checked_sub(1);
            let merge = last.is_some_and(|l| (runs.stride[l] != 0) == varies);
            if merge {
                let l = runs.len - 1;
                runs.size[l] *= s;
            } else {
                runs.size[runs.len] = s;
                runs.stride[runs.len] = if varies { stride } else { 0 };
                runs.len += 1;
            }
            if varies {
                stride *= m;
            }
        }
        runs.size[..runs.len].reverse();
        runs.stride[..runs.len].reverse();
        if runs.len == 0 {
            // Every dim is 1: one element, noise element 0.
            runs.len = 1;
            runs.stride[0] = 1;
        }
        runs
    }
}

/// The merged loop nest of a [`Broadcast`], outermost first; the last run is the inner loop.
#[derive(Clone, Copy, Debug)]
pub(crate) struct Runs {
    pub len: usize,
    pub size: [usize; MAX_RANK],
    pub stride: [usize; MAX_RANK],
}

impl Runs {
    /// The noise index of the first element of row `row` (rows: every run but the last).
    #[inline]
    pub fn row_base(&self, mut row: usize) -> usize {
        let mut base = 0;
        for k in (0..self.len - 1).rev() {
            base += (row % self.size[k]) * self.stride[k];
            row /= self.size[k];
        }
        base
    }
}

/// What a masked member does with each element, given its lane mask (all ones: kept).
#[derive(Clone, Copy, Debug)]
pub(crate) enum Select {
    /// kept: x * scale; dropped: +0.
    Scale(f32),
    /// kept: fround(fround(x * a) + b); dropped: d.
    Affine(super::Affine),
}

/// Applies `select` to src[start..start + len] into dst, element i reading lane lanes[v(i)].
///
/// # Safety
/// src and dst hold the tensor's elements (dst == src or disjoint); start + len <= tensor length;
/// `lanes` holds the noise tensor's lanes.
pub(crate) unsafe fn apply_lanes(
    runs: &Runs,
    lanes: &[u32],
    select: Select,
    src: *const f32,
    dst: *mut f32,
    start: usize,
    len: usize,
) {
    let inner = runs.size[runs.len - 1];
    let inner_stride = runs.stride[runs.len - 1];
    let end = start + len;
    let mut at = start;
    while at < end {
        let row = at / inner;
        let from = at % inner;
        let to = inner.min(from + (end - at));
        let base = runs.row_base(row);
        // SAFETY: elements at..at + (to - from) are inside start..end (caller); the lanes read
        // are noise indices of those elements, inside the noise tensor.
        unsafe {
            let (s, d) = (src.add(at - from), dst.add(at - from));
            if inner_stride == 0 {
                row_broadcast(select, lanes[base], s, d, from, to);
            } else {
                row_lanes(select, &lanes[base..base + inner], s, d, from, to);
            }
        }
        at += to - from;
    }
}

#[inline(always)]
fn pick(select: Select, x: f32, lane: u32) -> f32 {
    match select {
        Select::Scale(scale) => f32::from_bits((x * scale).to_bits() & lane),
        Select::Affine(t) => f32::from_bits(((x * t.a + t.b).to_bits() & lane) | (t.d.to_bits() & !lane)),
    }
}

/// One row whose elements share a lane.
///
/// # Safety
/// s and d valid for elements from..to.
unsafe fn row_broadcast(select: Select, lane: u32, s: *const f32, d: *mut f32, from: usize, to: usize) {
    for i in from..to {
        // SAFETY: i in from..to (caller); read before write.
        unsafe { d.add(i).write(pick(select, s.add(i).read(), lane)) }
    }
}

/// One row whose element i reads lanes[i].
///
/// # Safety
/// s and d valid for elements from..to; lanes.len() >= to.
unsafe fn row_lanes(select: Select, lanes: &[u32], s: *const f32, d: *mut f32, from: usize, to: usize) {
    for (i, &lane) in lanes.iter().enumerate().take(to).skip(from) {
        // SAFETY: i in from..to (caller); read before write.
        unsafe { d.add(i).write(pick(select, s.add(i).read(), lane)) }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn index_of(b: &Broadcast, mut flat: usize) -> usize {
        // The contract's formula, directly: digits of flat in dims, dotted with noise strides.
        let (dims, noise) = (b.dims(), b.noise());
        let mut idx = vec![0; dims.len()];
        for d in (0..dims.len()).rev() {
            idx[d] = flat % dims[d];
            flat /= dims[d];
        }
        let mut v = 0;
        for d in 0..dims.len() {
            v = v * noise[d] + if noise[d] == 1 { 0 } else { idx[d] };
        }
        v
    }

    #[test]
    fn runs_reproduce_the_contract_index() {
        let cases: &[(&[usize], &[usize])] = &[
            (&[2, 3, 4], &[2, 3, 4]),
            (&[2, 3, 4], &[2, 1, 4]),
            (&[2, 3, 4], &[1, 3, 1]),
            (&[2, 3, 4], &[1, 1, 1]),
            (&[5, 1, 3, 1, 2], &[5, 1, 1, 1, 2]),
            (&[1], &[1]),
            (&[3, 4, 5, 6], &[3, 1, 1, 6]),
            (&[3, 4, 5, 6], &[1, 4, 5, 1]),
        ];
        for &(dims, noise) in cases {
            let b = Broadcast::new(dims, noise).unwrap();
            let runs = b.runs();
            let n = b.elements().unwrap();
            let inner = runs.size[runs.len - 1];
            for flat in 0..n {
                let want = index_of(&b, flat);
                let got = runs.row_base(flat / inner) + (flat % inner) * runs.stride[runs.len - 1];
                assert_eq!(got, want, "{:?} {:?} at {}", dims, noise, flat);
            }
        }
    }

    #[test]
    fn rejects_noise_that_does_not_broadcast() {
        assert!(Broadcast::new(&[2, 3], &[2, 2]).unwrap_err().message.contains("noiseShape[1] must be 3"));
        assert!(Broadcast::new(&[2, 3], &[2]).is_err());
        assert!(Broadcast::new(&[], &[]).is_err());
        assert!(Broadcast::new(&[usize::MAX, 2], &[1, 1]).is_err());
    }
}
