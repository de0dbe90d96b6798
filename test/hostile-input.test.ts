/**
 * A hostile caller (issue 11, item 7): getters and Proxies in options that detach or resize an
 * array after it would have been checked, values whose description would run user code,
 * out-of-range counts that used to throw uncoded errors or try multi-gigabyte allocations. Every
 * call either works on what the arrays hold when it runs, or throws a coded ThinnetError; no
 * user code runs between the checks and the backend call; a rejected call leaves every array
 * byte for byte as it was.
 */

import { describe, expect, it } from 'vitest'
import { ThinnetError, type Thinnet } from '../ts/index.js'
import { describeValue } from '../ts/validate.js'
import { describeBackends } from './backends.js'
import { detach, expectThinnetError, expectThinnetRejection, expectUntouched, snapshot } from './util.js'

/** A resizable ArrayBuffer (ES2024; Node 20 has it, the ES2022 lib types do not). */
function resizable(bytes: number, max: number): ArrayBuffer & { resize(n: number): void } {
  const Ctor = ArrayBuffer as unknown as new (n: number, o: { maxByteLength: number }) => ArrayBuffer & { resize(n: number): void }
  return new Ctor(bytes, { maxByteLength: max })
}

/** An options object whose `key` getter runs `effect` and counts its reads. */
function withGetter(base: object, key: string, value: unknown, effect: () => void): { options: never; reads: () => number } {
  let reads = 0
  const options = { ...base }
  Object.defineProperty(options, key, {
    enumerable: true,
    get() {
      reads++
      effect()
      return value
    },
  })
  return { options: options as never, reads: () => reads }
}

/** A Proxy over `target` that counts the reads of each key. */
function counting<T extends object>(target: T): { proxy: T; reads: Map<PropertyKey, number> } {
  const reads = new Map<PropertyKey, number>()
  const proxy = new Proxy(target, {
    get(t, key, receiver) {
      reads.set(key, (reads.get(key) ?? 0) + 1)
      return Reflect.get(t, key, receiver) as unknown
    },
  })
  return { proxy, reads }
}

function revoked(): object {
  const { proxy, revoke } = Proxy.revocable({}, {})
  revoke()
  return proxy
}

const sizes = { rows: 2, inputs: 3, units: 2 }

describe('describeValue runs no user code', () => {
  it('describes getters, Proxies and revoked Proxies without calling into them', () => {
    const trap = {
      get constructor(): never {
        throw new Error('constructor getter ran')
      },
      get [Symbol.toStringTag](): never {
        throw new Error('toStringTag getter ran')
      },
      toString(): never {
        throw new Error('toString ran')
      },
    }
    expect(describeValue(trap)).toBe('an object')
    const everyTrap = new Proxy(
      {},
      new Proxy(
        {},
        {
          get(): never {
            throw new Error('a Proxy trap ran')
          },
        },
      ),
    )
    expect(describeValue(everyTrap)).toBe('an object')
    expect(describeValue(revoked())).toBe('a revoked Proxy')
    expect(describeValue(new Proxy([1, 2], {}))).toBe('Array')
    expect(describeValue(new Proxy(new Float32Array(2), {}))).toBe('an object')
    // The names the messages always gave are kept.
    expect(describeValue([1])).toBe('Array')
    expect(describeValue(new ArrayBuffer(4))).toBe('ArrayBuffer')
    expect(describeValue(new DataView(new ArrayBuffer(4)))).toBe('DataView')
    expect(describeValue(new Float64Array(1))).toBe('Float64Array')
    expect(describeValue(new Map())).toBe('Map')
    expect(describeValue(Symbol('s'))).toBe('Symbol(s)')
  })
})

describeBackends('hostile input', (tn: Thinnet) => {
  describe('options are read once, before any array is checked', () => {
    it('dropout: a getter that detaches x is seen before x is checked (coded error, nothing written)', () => {
      const x = new Float32Array([1, 2, 3, 4])
      const out = new Float32Array(4).fill(7)
      const before = snapshot(out)
      const { options, reads } = withGetter({ p: 0.5, out }, 'seed', 1, () => detach(x.buffer))
      expectThinnetError(() => tn.dropout(x, options), 'ERR_INVALID_ARG', /^x must be a Float32Array over live memory/)
      expect(reads()).toBe(1)
      expectUntouched(out, before, 'out')
    })

    it('dropout: a getter that shrinks x (a resizable buffer) makes a length mismatch, not an out-of-bounds view', () => {
      const buffer = resizable(32, 64)
      const x = new Float32Array(buffer) // length-tracking
      x.set([1, 2, 3, 4, 5, 6, 7, 8])
      const out = new Float32Array(8).fill(7)
      const before = snapshot(out)
      const { options } = withGetter({ p: 0, seed: 1 }, 'out', out, () => buffer.resize(8))
      expectThinnetError(() => tn.dropout(x, options), 'ERR_SHAPE_MISMATCH', /^out must have the length of x \(2\), received length 8$/)
      expectUntouched(out, before, 'out')
      // Grown instead: the call works on the grown x, whose new elements are zeros.
      const grow = withGetter({ p: 0, seed: 1 }, 'mode', 'inverted', () => buffer.resize(16))
      expect([...tn.dropout(x, grow.options)]).toEqual([1, 2, 0, 0])
    })

    it('dropoutBackward and dropoutMask read each option once, before their arrays', () => {
      const dy = new Float32Array([1, 2, 3, 4])
      const { proxy, reads } = counting({ p: 0.5, seed: 3n, offset: 5, stream: 2, mode: 'classic' as const })
      const dx = tn.dropoutBackward(dy, proxy)
      for (const key of ['p', 'seed', 'offset', 'stream', 'mode', 'out']) expect(reads.get(key), key).toBe(1)
      expect([...dx]).toEqual([...tn.dropoutBackward(dy, { p: 0.5, seed: 3n, offset: 5, stream: 2, mode: 'classic' })])
      const bits = new Uint32Array(2).fill(0xdeadbeef)
      const before = snapshot(bits)
      const { options } = withGetter({ p: 0.5, seed: 1, out: bits }, 'offset', 0, () => detach(bits.buffer))
      expectThinnetError(() => tn.dropoutMask(40, options), 'ERR_INVALID_ARG', /^out must be a Uint32Array over live memory/)
      expect(before.length).toBe(8)
    })

    it('concreteDropout and its backward read each option once, before their arrays', () => {
      const x = new Float32Array([1, 2, 3, 4])
      const dy = new Float32Array([1, -1, 0.5, 2])
      const keys = ['p', 'temperature', 'seed', 'offset', 'stream', 'out']
      const options = { p: 0.3, temperature: 0.5, seed: 3n, offset: 5, stream: 2 }
      const forward = counting({ ...options })
      const y = tn.concreteDropout(x, forward.proxy)
      const backward = counting({ ...options })
      const back = tn.concreteDropoutBackward(dy, x, backward.proxy)
      for (const key of keys) expect([forward.reads.get(key), backward.reads.get(key)], key).toEqual([1, 1])
      expect([...y]).toEqual([...tn.concreteDropout(x, options)])
      expect([...back.dx]).toEqual([...tn.concreteDropoutBackward(dy, x, options).dx])
      // A getter that detaches x (or dy) is seen: coded errors, nothing written.
      const out = new Float32Array(4).fill(7)
      const before = snapshot(out)
      const detachX = withGetter({ p: 0.3, out }, 'seed', 1, () => detach(x.buffer))
      expectThinnetError(() => tn.concreteDropout(x, detachX.options), 'ERR_INVALID_ARG', /^x must be a Float32Array over live memory/)
      const detachDy = withGetter({ p: 0.3, out }, 'seed', 1, () => detach(dy.buffer))
      expectThinnetError(
        () => tn.concreteDropoutBackward(dy, new Float32Array(4), detachDy.options),
        'ERR_INVALID_ARG',
        /^dy must be a Float32Array over live memory/,
      )
      expect([detachX.reads(), detachDy.reads()]).toEqual([1, 1])
      expectUntouched(out, before, 'out')
    })

    it('dense: getters of the layer options and of its nested dropouts run before x, w and b are checked', () => {
      const x = new Float32Array([1, 2, 3, 4, 5, 6])
      const w = new Float32Array([1, 0, 0, 1, 1, 1])
      const out = new Float32Array(4).fill(7)
      const before = snapshot(out)
      const top = withGetter({ x, w, out, ...sizes }, 'activation', 'relu', () => detach(x.buffer))
      expectThinnetError(() => tn.dense(top.options), 'ERR_INVALID_ARG', /^x must be a Float32Array over live memory/)
      expect(top.reads()).toBe(1)
      expectUntouched(out, before, 'out')

      const wBuffer = resizable(24, 64)
      const w2 = new Float32Array(wBuffer)
      w2.set(w)
      const nested = withGetter({ p: 0.5, stream: 1 }, 'seed', 1, () => wBuffer.resize(8))
      expectThinnetError(
        () => tn.dense({ x: x.buffer.byteLength === 0 ? new Float32Array(6) : x, w: w2, out, ...sizes, inputDropout: nested.options }),
        'ERR_SHAPE_MISMATCH',
        /^w must have inputs \* units = 3 \* 2 = 6 elements, received 2$/,
      )
      expect(nested.reads()).toBe(1)
      expectUntouched(out, before, 'out')
    })

    it('dense and denseBackward (sync and async) read every option exactly once', async () => {
      const x = new Float32Array([1, 2, 3, 4, 5, 6])
      const w = new Float32Array([1, 0, 0, 1, 1, 1])
      const inputDropout = counting({ p: 0.25, seed: 9, stream: 1 })
      const dropConnect = counting({ p: 0.1, inference: 'mean' as const })
      const layer = counting({
        x,
        w,
        ...sizes,
        activation: 'tanh' as const,
        inputDropout: inputDropout.proxy,
        dropConnect: dropConnect.proxy,
      })
      const y = tn.dense(layer.proxy)
      for (const key of ['x', 'w', 'rows', 'inputs', 'units', 'activation', 'alpha', 'inputDropout', 'dropConnect', 'b', 'out', 'pre']) {
        expect(layer.reads.get(key), key).toBe(1)
      }
      for (const key of ['p', 'seed', 'offset', 'stream', 'mode']) expect(inputDropout.reads.get(key), key).toBe(1)
      for (const key of ['p', 'inference']) expect(dropConnect.reads.get(key), key).toBe(1)
      const plain = {
        x,
        w,
        ...sizes,
        activation: 'tanh' as const,
        inputDropout: { p: 0.25, seed: 9, stream: 1 },
        dropConnect: { p: 0.1, inference: 'mean' as const },
      }
      expect([...y]).toEqual([...tn.dense(plain)])
      const need = counting({ dx: false })
      const backward = counting({ ...plain, dy: new Float32Array(4).fill(1), y, need: need.proxy })
      const g = await tn.denseBackwardAsync(backward.proxy)
      for (const key of ['x', 'w', 'dy', 'y', 'pre', 'dx', 'dw', 'db', 'need', 'activation']) expect(backward.reads.get(key), key).toBe(1)
      expect(need.reads.get('dx')).toBe(1)
      expect(g.dx).toBeUndefined()
      const detaching = withGetter({ x, w, ...sizes }, 'units', 2, () => detach(w.buffer))
      await expectThinnetRejection(tn.denseAsync(detaching.options), 'ERR_INVALID_ARG', /^w must be a Float32Array over live memory/)
    })

    it('gemm and the optimizer steps read their options before their arrays', () => {
      const a = new Float32Array([1, 2, 3, 4])
      const gemm = withGetter({ m: 2, k: 2 }, 'n', 2, () => detach(a.buffer))
      expectThinnetError(
        () => tn.gemm(a, new Float32Array(4), gemm.options),
        'ERR_INVALID_ARG',
        /^a must be a Float32Array over live memory/,
      )
      const w = new Float32Array([1, 2])
      const g = new Float32Array([1, 1])
      const beforeG = snapshot(g)
      const sgd = withGetter({}, 'lr', 0.5, () => detach(w.buffer))
      expectThinnetError(() => tn.sgdStep(w, g, undefined, sgd.options), 'ERR_INVALID_ARG', /^w must be a Float32Array over live memory/)
      expectUntouched(g, beforeG, 'g')
      const adam = counting({ lr: 0.1, step: 1, beta1: 0.5 })
      const w2 = new Float32Array([1, 2])
      tn.adamStep(w2, g, new Float32Array(2), new Float32Array(2), adam.proxy)
      for (const key of ['lr', 'step', 'beta1', 'beta2', 'epsilon', 'weightDecay', 'decoupled']) expect(adam.reads.get(key), key).toBe(1)
      const maxNorm = counting({ inputs: 1, units: 2, c: 1 })
      tn.maxNorm(w2, maxNorm.proxy)
      for (const key of ['inputs', 'units', 'c']) expect(maxNorm.reads.get(key), key).toBe(1)
    })

    it('a getter or Proxy trap that throws, and a revoked Proxy, give coded errors naming the option', () => {
      const x = new Float32Array(4)
      const throwing = withGetter({ p: 0.5 }, 'seed', 1, () => {
        throw new Error('boom')
      })
      const error = expectThinnetError(
        () => tn.dropout(x, throwing.options),
        'ERR_INVALID_ARG',
        /^options\.seed cannot be read: its getter threw/,
      )
      expect((error.cause as Error).message).toBe('boom')
      expectThinnetError(
        () => tn.dropout(x, revoked() as never),
        'ERR_INVALID_ARG',
        /^options must be an object .*, received a revoked Proxy$/,
      )
      expectThinnetError(
        () => tn.dense({ x, w: new Float32Array(4), rows: 1, inputs: 4, units: 1, inputDropout: revoked() as never }),
        'ERR_INVALID_ARG',
        /^inputDropout must be an object .*, received a revoked Proxy$/,
      )
      const noKeys = new Proxy(
        {},
        {
          ownKeys(): never {
            throw new Error('ownKeys')
          },
        },
      )
      expectThinnetError(
        () => tn.sgdStep(x, x.slice(), undefined, noKeys as never),
        'ERR_INVALID_ARG',
        /^options cannot be read: listing its keys threw/,
      )
    })

    it('error messages about hostile arrays run no user code', () => {
      const trap = {
        get constructor(): never {
          throw new Error('constructor getter ran')
        },
      }
      expectThinnetError(
        () => tn.dropout(trap as never, { p: 0.5, seed: 1 }),
        'ERR_INVALID_ARG',
        /^x must be a Float32Array, received an object$/,
      )
      expectThinnetError(
        () => tn.dropout(revoked() as never, { p: 0.5, seed: 1 }),
        'ERR_INVALID_ARG',
        /^x must be a Float32Array, received a revoked Proxy$/,
      )
      expectThinnetError(() => tn.allFinite(revoked() as never), 'ERR_INVALID_ARG', /^x must be a Float32Array, received a revoked Proxy$/)
      expectThinnetError(() => tn.dropout(new Float32Array(2), { p: 0.5, seed: trap as never }), 'ERR_INVALID_ARG', /received an object$/)
    })

    it('a typed array with its own length or buffer getter is read through the engine, never through the getter', () => {
      const x = new Float32Array([1, 2, 3, 4])
      let ran = 0
      for (const key of ['length', 'buffer', 'byteOffset', 'byteLength']) {
        Object.defineProperty(x, key, {
          get() {
            ran++
            return 0
          },
        })
      }
      const y = tn.dropout(x, { p: 0, seed: 1 })
      expect([...y]).toEqual([1, 2, 3, 4])
      const w = new Float32Array([2])
      Object.defineProperty(w, 'length', {
        get() {
          ran++
          detach(x.buffer)
          return 1
        },
      })
      expect([...tn.dense({ x: new Float32Array([3]), w, rows: 1, inputs: 1, units: 1 })]).toEqual([6])
      expect(ran).toBe(0)
    })
  })

  describe('out-of-range counts are coded errors with their limit, before any allocation', () => {
    it('dropoutMask with n beyond 2^32 - 1', () => {
      for (const n of [2 ** 40, 2 ** 36 + 64, 2 ** 32]) {
        expectThinnetError(
          () => tn.dropoutMask(n, { p: 0.5, seed: 1 }),
          'ERR_INVALID_ARG',
          /^n must be at most 2\^32 - 1 = 4294967295 elements/,
        )
      }
    })

    it('gemm and dense with an empty reduction and an output beyond 2^32 - 1 elements (the fuzzer, seed 1000)', () => {
      const empty = new Float32Array(0)
      // k = 0 makes both inputs empty and valid; the output m * n = 2^32 used to be allocated on
      // native (16 GB) where WASM refused.
      expectThinnetError(
        () => tn.gemm(empty, empty, { m: 2 ** 31, k: 0, n: 2 }),
        'ERR_INVALID_ARG',
        /^out would have 4294967296 elements, more than the 4294967295/,
      )
      expectThinnetError(
        () => tn.dense({ x: empty, w: empty, rows: 2 ** 16, inputs: 0, units: 2 ** 16 }),
        'ERR_INVALID_ARG',
        /^(out|y) would have 4294967296 elements/,
      )
    })

    it('allocate beyond the backend limit: ERR_INVALID_ARG with the limit on every backend', () => {
      for (const n of [2 ** 33, 2 ** 53 - 1]) {
        expectThinnetError(
          () => tn.allocate(n),
          'ERR_INVALID_ARG',
          /^n must be an integer in \[0, \d+\] on the (native|WASM) backend, received \d+$/,
        )
      }
    })

    it('setMaxThreads beyond 1024 is rejected and changes nothing; 1024 is accepted', () => {
      const cap = tn.maxThreads
      for (const n of [2 ** 53 - 1, 2 ** 32, 1025]) {
        expectThinnetError(() => tn.setMaxThreads(n), 'ERR_INVALID_ARG', /^n must be at most 1024 threads \(0: every core\), received \d+$/)
        expect(tn.maxThreads).toBe(cap)
      }
      tn.setMaxThreads(1024)
      // WASM's cap stops at the threads it has: 2 on 'wasm' here (test/backends.ts), 1 on 'wasm-scalar'.
      expect(tn.maxThreads).toBe({ native: 1024, wasm: 2, 'wasm-scalar': 1 }[tn.backend])
      tn.setMaxThreads(0)
    })
  })

  it('keeps every array byte for byte as it was around rejected calls', async () => {
    const xs = new Float32Array([1, -2, 3, NaN, 5, 6, 7, 8])
    const x = xs.subarray(0, 4)
    const w = new Float32Array([0.5, -1, 2, 4, 1, 1, 1, 1])
    const out = new Float32Array(4).fill(9)
    const bits = new Uint32Array(1).fill(0xabcdef)
    const arrays = [xs, w, out, bits]
    const before = arrays.map(snapshot)
    const rejected: (() => unknown)[] = [
      () => tn.dropout(x, { p: 2, seed: 1, out }),
      () => tn.dropout(x, { p: 0.5, seed: 1, out: xs.subarray(2, 6) }),
      () => tn.dropout(x, { p: 0.5, seed: 1, out, extra: 1 } as never),
      () => tn.dropoutMask(32, { p: 0.5, seed: -1, out: bits }),
      () => tn.dropoutMask(2 ** 40, { p: 0.5, seed: 1, out: bits }),
      () => tn.dense({ x, w, rows: 1, inputs: 4, units: 2, out: x.subarray(0, 2) }),
      () => tn.dense({ x, w, rows: 1, inputs: 4, units: 2, out: out.subarray(0, 2), activation: 'softmax' as never }),
      () => tn.dense({ x, w, rows: 1, inputs: 4, units: 2, out: out.subarray(0, 2), outputDropout: { p: 0.5, seed: 1, bad: 1 } as never }),
      () => tn.denseBackward({ x, w, dy: out.subarray(0, 2), rows: 1, inputs: 4, units: 2, dx: out, activation: 'gelu' }),
      () => tn.gemm(x, w, { m: 1, k: 4, n: 2, out: w.subarray(0, 2) }),
      () => tn.sgdStep(out, x, undefined, { lr: -1 }),
      () => tn.adamStep(out, x, w.subarray(0, 4), w.subarray(2, 6), { lr: 0.1, step: 1 }),
      () => tn.maxNorm(w, { inputs: 4, units: 2, c: 0 }),
      () => tn.setMaxThreads(2 ** 40),
      () => tn.allocate(2 ** 40),
      () => tn.concreteDropout(x, { p: 1, seed: 1, out }),
      () => tn.concreteDropout(x, { p: 0.5, seed: 1, out: xs.subarray(2, 6) }),
      () => tn.concreteDropoutBackward(out, x, { p: 0.5, temperature: 0, seed: 1 }),
      () => tn.concreteDropoutBackward(out, x, { p: 0.5, seed: 1, out: x }),
      () => tn.concreteDropoutBackward(out, xs, { p: 0.5, seed: 1, out }),
    ]
    for (const [i, call] of rejected.entries()) {
      let thrown: unknown
      try {
        call()
      } catch (error) {
        thrown = error
      }
      expect(thrown, `call ${i}`).toBeInstanceOf(ThinnetError)
      arrays.forEach((a, j) => expectUntouched(a, before[j], `call ${i}, array ${j}`))
    }
    await expectThinnetRejection(
      tn.denseAsync({ x, w, rows: 1, inputs: 4, units: 2, out: w.subarray(0, 2) }),
      'ERR_INVALID_ARG',
      /must not overlap/,
    )
    arrays.forEach((a, j) => expectUntouched(a, before[j], `async, array ${j}`))
  })
})

describeBackends('views of WASM memory', (tn: Thinnet) => {
  // On the native backend a buffer's view() is an ordinary Float32Array over its own ArrayBuffer,
  // so no view can reach memory outside it; on WASM, view().buffer is the whole module memory.
  const wasm = tn.backend !== 'native'

  it('accepts resident views only inside live buffers of allocate, naming the argument otherwise', () => {
    const buf = tn.allocate(16)
    const memory = buf.view().buffer
    const x = new Float32Array(1000).fill(1)
    if (wasm) {
      // The allocator's data sits below the first allocation: a view from address 8 covers it.
      for (const [offset, length] of [
        [8, 1000],
        [buf.view().byteOffset - 4, 4],
        [buf.view().byteOffset + 4, 16],
      ] as const) {
        const stray = new Float32Array(memory, offset, length)
        const before = snapshot(stray)
        expectThinnetError(
          () => tn.dropout(x.subarray(0, length), { p: 0, seed: 1, out: stray }),
          'ERR_INVALID_ARG',
          /^out is a view of the WASM backend's memory at bytes \[\d+, \d+\) that no live buffer of allocate\(\) holds/,
        )
        expectUntouched(stray, before, `stray view at ${offset}`)
        expectThinnetError(() => tn.allFinite(stray), 'ERR_INVALID_ARG', /^x is a view of the WASM backend's memory/)
        expectThinnetError(
          () => tn.dense({ x: stray, w: new Float32Array(length), rows: 1, inputs: length, units: 1 }),
          'ERR_INVALID_ARG',
          /^x is a view of the WASM backend's memory/,
        )
        expectThinnetError(
          () => tn.dropoutMask(32 * length, { p: 0.5, seed: 1, out: new Uint32Array(memory, offset, length) }),
          'ERR_INVALID_ARG',
          /^out is a view of the WASM backend's memory/,
        )
      }
    }
    // An innocent call afterwards works (the allocator was not overwritten), and so do resident
    // views inside the buffer, whole or in part, zero-copy.
    const whole = buf.view()
    whole.fill(2)
    expect([...tn.dropout(new Float32Array([1, 2, 3]), { p: 0, seed: 1 })]).toEqual([1, 2, 3])
    tn.dropout(whole.subarray(4, 8), { p: 0, seed: 1, out: whole.subarray(8, 12) })
    tn.dropout(x.subarray(0, 4), { p: 0, seed: 1, out: buf.view().subarray(12, 16) })
    expect([...buf.view()]).toEqual([...new Array<number>(12).fill(2), 1, 1, 1, 1])
    buf.free()
  })

  it('refuses a view of a freed buffer', () => {
    if (!wasm) return
    const buf = tn.allocate(8)
    const view = buf.view()
    const keep = tn.allocate(8) // so that the freed range is not simply the end of the heap
    buf.free()
    expectThinnetError(
      () => tn.dropout(new Float32Array(8), { p: 0, seed: 1, out: view }),
      'ERR_INVALID_ARG',
      /^out is a view of the WASM backend's memory/,
    )
    expectThinnetError(
      () => tn.sgdStep(view, new Float32Array(8), undefined, { lr: 1 }),
      'ERR_INVALID_ARG',
      /^w is a view of the WASM backend's memory/,
    )
    keep.free()
  })
})
