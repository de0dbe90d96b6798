/**
 * Bad input on every backend: each case throws a ThinnetError with its stable code and a message
 * naming the argument, and leaves every array it was given untouched.
 */

import { afterEach, describe, expect, it, vi } from 'vitest'
import { load, type Thinnet, type ThinnetErrorCode } from '../ts/index.js'
import { describeBackends } from './backends.js'
import { data, detach, expectSameBits, expectThinnetError, expectThinnetRejection, expectUntouched, snapshot } from './util.js'

const U64 = /must be a bigint in \[0, 2\^64 - 1\] or a non-negative safe integer, received /

interface Case {
  what: string
  call: (tn: Thinnet, arrays: Arrays) => unknown
  code: ThinnetErrorCode
  message: RegExp
}

/** Fresh arrays per case; all of them are checked afterwards (a type, so Object.entries sees its values). */
type Arrays = {
  x: Float32Array
  out: Float32Array
  bits: Uint32Array
  shared: Float32Array
}

function arrays(): Arrays {
  return {
    x: data(37, 1),
    out: new Float32Array(37).fill(7),
    bits: new Uint32Array(2).fill(0xabcdef),
    shared: data(64, 2),
  }
}

const ok = { p: 0.5, seed: 1n }

function u64Cases(name: 'seed' | 'offset' | 'stream'): Case[] {
  const bad: [unknown, string][] = [
    [-1, '-1'],
    [1.5, '1.5'],
    [NaN, 'NaN'],
    [Infinity, 'Infinity'],
    [2 ** 53, '9007199254740992 \\(numbers above 2\\^53 - 1 are not exact: pass a bigint\\)'],
    [-1n, '-1n'],
    [2n ** 64n, '18446744073709551616n'],
    ['3', 'the string "3"'],
    [null, 'null'],
  ]
  if (name === 'seed') bad.push([undefined, 'undefined'])
  return bad.map(([value, shown]) => ({
    what: `${name} = ${typeof value === 'bigint' ? `${value}n` : String(value)}`,
    call: (tn, { x, out }) => tn.dropout(x, { ...ok, out, [name]: value }),
    code: 'ERR_INVALID_ARG',
    message: new RegExp(`^${name} ${U64.source}${shown}$`),
  }))
}

const CASES: Case[] = [
  ...[1.2, -0.1, NaN, Infinity, -Infinity].map((p): Case => ({
    what: `p = ${p}`,
    call: (tn, { x, out }) => tn.dropout(x, { p, seed: 1n, out }),
    code: 'ERR_INVALID_ARG',
    message: new RegExp(`^p must be a number in \\[0, 1\\], received ${p}$`),
  })),
  {
    what: 'p as a string',
    call: (tn, { x }) => tn.dropout(x, { p: '0.5' as never, seed: 1n }),
    code: 'ERR_INVALID_ARG',
    message: /^p must be a number in \[0, 1\], received the string "0.5"$/,
  },
  {
    what: 'p missing',
    call: (tn, { x }) => tn.dropout(x, { seed: 1n } as never),
    code: 'ERR_INVALID_ARG',
    message: /^p must be a number in \[0, 1\], received undefined$/,
  },
  {
    what: 'p = 1.2 in backward',
    call: (tn, { x, out }) => tn.dropoutBackward(x, { p: 1.2, seed: 1n, out }),
    code: 'ERR_INVALID_ARG',
    message: /^p must be a number in \[0, 1\], received 1.2$/,
  },
  {
    what: 'p = NaN in dropoutMask',
    call: (tn, { bits }) => tn.dropoutMask(37, { p: NaN, seed: 1n, out: bits }),
    code: 'ERR_INVALID_ARG',
    message: /^p must be a number in \[0, 1\], received NaN$/,
  },
  ...(
    [
      [new Float64Array(37), 'Float64Array'],
      [new Uint32Array(37), 'Uint32Array'],
      [Array.from({ length: 37 }, () => 1), 'Array'],
      [new DataView(new ArrayBuffer(148)), 'DataView'],
      [null, 'null'],
      [undefined, 'undefined'],
    ] as const
  ).flatMap(([value, shown]): Case[] => [
    {
      what: `x a ${shown}`,
      call: (tn, { out }) => tn.dropout(value as never, { ...ok, out }),
      code: 'ERR_INVALID_ARG',
      message: new RegExp(`^x must be a Float32Array, received ${shown}$`),
    },
    {
      what: `dy a ${shown}`,
      call: (tn, { out }) => tn.dropoutBackward(value as never, { ...ok, out }),
      code: 'ERR_INVALID_ARG',
      message: new RegExp(`^dy must be a Float32Array, received ${shown}$`),
    },
  ]),
  {
    what: 'out a Float64Array',
    call: (tn, { x }) => tn.dropout(x, { ...ok, out: new Float64Array(37) as never }),
    code: 'ERR_INVALID_ARG',
    message: /^out must be a Float32Array, received Float64Array$/,
  },
  {
    what: 'out one element short',
    call: (tn, { x, out }) => tn.dropout(x, { ...ok, out: out.subarray(1) }),
    code: 'ERR_SHAPE_MISMATCH',
    message: /^out must have the length of x \(37\), received length 36$/,
  },
  {
    what: 'out one element long, in backward',
    call: (tn, { x }) => tn.dropoutBackward(x.subarray(1), { ...ok, out: x }),
    code: 'ERR_SHAPE_MISMATCH',
    message: /^out must have the length of dy \(36\), received length 37$/,
  },
  {
    what: 'out partially overlapping x',
    call: (tn, { shared }) => tn.dropout(shared.subarray(0, 32), { ...ok, out: shared.subarray(1, 33) }),
    code: 'ERR_INVALID_ARG',
    message:
      /^out must be x itself or not overlap it, received a view of bytes \[4, 132\) of x's buffer, which partially overlaps x at bytes \[0, 128\)$/,
  },
  {
    what: 'mask out of the wrong length',
    call: (tn, { bits }) => tn.dropoutMask(65, { ...ok, out: bits }),
    code: 'ERR_SHAPE_MISMATCH',
    message: /^out must have ceil\(n \/ 32\) = 3 words for n = 65, received length 2$/,
  },
  {
    what: 'mask out a Float32Array',
    call: (tn, { out }) => tn.dropoutMask(37, { ...ok, out: out as never }),
    code: 'ERR_INVALID_ARG',
    message: /^out must be a Uint32Array, received Float32Array$/,
  },
  ...[-1, 1.5, NaN, 2 ** 53, '3'].map((n): Case => ({
    what: `mask n = ${String(n)}`,
    call: (tn, { bits }) => tn.dropoutMask(n as never, { ...ok, out: bits }),
    code: 'ERR_INVALID_ARG',
    message: /^n must be a non-negative safe integer, received /,
  })),
  ...u64Cases('seed'),
  ...u64Cases('offset'),
  ...u64Cases('stream'),
  {
    what: 'offset + n past 2^64',
    call: (tn, { x, out }) => tn.dropout(x, { ...ok, offset: 2n ** 64n - 36n, out }),
    code: 'ERR_INVALID_ARG',
    message: /^offset \+ n must be at most 2\^64 \(a stream has 2\^64 element indices\), received offset 18446744073709551580 and n 37$/,
  },
  {
    what: 'offset + n past 2^64 in dropoutMask',
    call: (tn, { bits }) => tn.dropoutMask(37, { ...ok, offset: 2n ** 64n - 1n, out: bits }),
    code: 'ERR_INVALID_ARG',
    message: /^offset \+ n must be at most 2\^64/,
  },
  ...['Inverted', 'train', '', 0, null].map((mode): Case => ({
    what: `mode = ${JSON.stringify(mode)}`,
    call: (tn, { x, out }) => tn.dropout(x, { ...ok, mode: mode as never, out }),
    code: 'ERR_INVALID_ARG',
    message: /^mode must be 'inverted' or 'classic', received /,
  })),
  {
    what: 'mode "train" in dropoutMask',
    call: (tn, { bits }) => tn.dropoutMask(37, { ...ok, mode: 'train' as never, out: bits }),
    code: 'ERR_INVALID_ARG',
    message: /^mode must be 'inverted' or 'classic', received the string "train"$/,
  },
  ...[undefined, null, 0.5, 'p=0.5', [0.5, 1]].map((options): Case => ({
    what: `options = ${JSON.stringify(options)}`,
    call: (tn, { x }) => tn.dropout(x, options as never),
    code: 'ERR_INVALID_ARG',
    message: /^options must be an object such as \{ p: 0.5, seed: 1 \}, received /,
  })),
  {
    what: 'a misspelt option',
    call: (tn, { x, out }) => tn.dropout(x, { ...ok, ofset: 5n, out } as never),
    code: 'ERR_INVALID_ARG',
    message: /^options.ofset is not an option: expected one of p, rate, seed, offset, stream, mode, out, shape, noiseShape$/,
  },
  {
    what: 'allocate(-1)',
    call: (tn) => tn.allocate(-1),
    code: 'ERR_INVALID_ARG',
    message: /^n must be a non-negative safe integer, received -1$/,
  },
  {
    what: 'allocate(2.5)',
    call: (tn) => tn.allocate(2.5),
    code: 'ERR_INVALID_ARG',
    message: /^n must be a non-negative safe integer, received 2.5$/,
  },
]

describeBackends('bad input', (tn) => {
  it.each(CASES.map((c) => [c.what, c] as const))('%s', (_, c) => {
    const given = arrays()
    const before = Object.fromEntries(Object.entries(given).map(([k, v]) => [k, snapshot(v)]))
    expectThinnetError(() => c.call(tn, given), c.code, c.message)
    for (const [name, array] of Object.entries(given)) expectUntouched(array, before[name], name)
  })

  for (const role of ['x', 'out', 'dy'] as const) {
    it(`a detached ${role} is rejected, naming ${role === 'dy' ? 'dy' : role}`, () => {
      const { x, out } = arrays()
      const other = role === 'out' ? x : out
      const victim = new Float32Array(37).fill(3)
      detach(victim.buffer)
      const before = snapshot(other)
      const call =
        role === 'x'
          ? () => tn.dropout(victim, { ...ok, out })
          : role === 'dy'
            ? () => tn.dropoutBackward(victim, { ...ok, out })
            : () => tn.dropout(x, { ...ok, out: victim })
      expectThinnetError(
        call,
        'ERR_INVALID_ARG',
        new RegExp(`^${role} must be a Float32Array over live memory, received a Float32Array whose buffer is detached`),
      )
      expectUntouched(other, before, role === 'out' ? 'x' : 'out')
    })
  }

  it('a detached mask out is rejected', () => {
    const bits = new Uint32Array(2)
    detach(bits.buffer)
    expectThinnetError(() => tn.dropoutMask(40, { ...ok, out: bits }), 'ERR_INVALID_ARG', /^out must be a Uint32Array over live memory/)
  })

  it('a stale view of WASM memory that has grown is rejected as detached', () => {
    const buffer = tn.allocate(16)
    const stale = buffer.view()
    const growth = Array.from({ length: 4 }, () => tn.allocate(1 << 22))
    if (tn.backend === 'native') {
      // Native buffers are ordinary memory, which never detaches.
      expect(stale.length).toBe(16)
    } else if (stale.buffer instanceof SharedArrayBuffer) {
      // A threaded build's shared memory never detaches either: the old view still reads the
      // buffer, and calls take it by address, as a fresh one.
      expect(stale.length).toBe(16)
      expectSameBits(tn.dropout(stale, ok), tn.dropout(buffer.view(), ok))
      // Once its buffer is freed, a stale view is refused like any view of freed memory.
      const freed = tn.allocate(16)
      const freedView = freed.view()
      tn.allocate(1 << 22).free()
      freed.free()
      expectThinnetError(
        () => tn.dropout(freedView, ok),
        'ERR_INVALID_ARG',
        /^x is a view of the WASM backend's memory at bytes .* that no live buffer of allocate\(\) holds/,
      )
    } else {
      // 64 MiB more than a fresh instance holds: memory grew, the old view is detached.
      expect(stale.length).toBe(0)
      expectThinnetError(
        () => tn.dropout(stale, ok),
        'ERR_INVALID_ARG',
        /^x must be a Float32Array over live memory.*take a fresh view\(\)/,
      )
    }
    expect(tn.dropout(buffer.view(), ok).length).toBe(16)
    for (const b of [buffer, ...growth]) b.free()
  })
})

describe('bad backend names', () => {
  afterEach(() => {
    vi.unstubAllEnvs()
  })

  it('load({ backend }) with an unknown name is ERR_INVALID_ARG naming backend', async () => {
    for (const name of ['cuda', 'WASM', '', 'native ']) {
      await expectThinnetRejection(
        load({ backend: name as never }),
        'ERR_INVALID_ARG',
        /^backend must be 'native', 'wasm' or 'wasm-scalar', received the string /,
      )
    }
  })

  it('an unknown THINNET_BACKEND is ERR_INVALID_ARG naming THINNET_BACKEND', async () => {
    vi.stubEnv('THINNET_BACKEND', 'gpu')
    await expectThinnetRejection(
      load(),
      'ERR_INVALID_ARG',
      /^THINNET_BACKEND must be 'native', 'wasm' or 'wasm-scalar', received the string "gpu"$/,
    )
  })
})
