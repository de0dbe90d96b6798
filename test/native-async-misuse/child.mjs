// One misuse of the native async exports, run in its own process by
// test/native-async-misuse.test.ts (node --expose-gc child.mjs <scenario>), so that a segfault
// fails that test instead of killing vitest. Exits 0 after every iteration's promise settled as
// expected, and prints one JSON line: how each promise settled ({ ok } or { code }).
import { load } from '../../dist/index.js'
import { loadNativeBinding } from '../../dist/backends/native.js'
import { denseHeader } from '../../dist/backends/wasm-spec-block.js'

const scenario = process.argv[2]
const ITERATIONS = Number(process.argv[3] ?? 20)
const tn = await load({ backend: 'native' })
if (tn.backend !== 'native') throw new Error(`native backend expected, got ${tn.backend}`)

// A shape large enough that the work is still running when the misuse happens.
const rows = 256
const inputs = 1024
const units = 1024
// The raw addon's dense header (ABI 2): no dropout, a linear activation.
const LINEAR = denseHeader({ rows, inputs, units, activation: 'linear', alpha: 0 }).bytes
const fill = (a, k) => {
  for (let i = 0; i < a.length; i++) a[i] = Math.sin(i * 0.37 + k) * 0.5
  return a
}

/** Allocation pressure: many big arrays, then a full collection, so a freed backing store is reused. */
function pressure() {
  const keep = []
  for (let i = 0; i < 16; i++) keep.push(new Float32Array(rows * units).fill(i))
  globalThis.gc()
  return keep.length
}

async function settle(promise) {
  try {
    await promise
    return { ok: true }
  } catch (error) {
    return { code: error.code ?? String(error) }
  }
}

const outcomes = []
for (let it = 0; it < ITERATIONS; it++) {
  const x = fill(new Float32Array(rows * inputs), it)
  const w = fill(new Float32Array(inputs * units), it + 1)
  const layer = { rows, inputs, units, activation: 'relu' }
  if (scenario === 'resize') {
    // The facade refuses a resizable buffer before any work is queued.
    const rab = new ArrayBuffer(rows * inputs * 4, { maxByteLength: rows * inputs * 4 })
    const rx = new Float32Array(rab)
    rx.set(x)
    const p = tn.denseAsync({ x: rx, w, ...layer })
    rab.resize(16)
    outcomes.push(await settle(p))
  } else if (scenario === 'raw-resize') {
    // The addon itself, without the facade's check: the resize must not crash the process.
    const binding = loadNativeBinding()
    const rab = new ArrayBuffer(rows * inputs * 4, { maxByteLength: rows * inputs * 4 })
    const rx = new Float32Array(rab)
    rx.set(x)
    const y = new Float32Array(rows * units)
    const p = binding.denseAsync(rx, w, null, y, null, rows, inputs, units, 0, LINEAR)
    rab.resize(16)
    pressure()
    outcomes.push(await settle(p))
  } else if (scenario === 'raw-resize-out') {
    const binding = loadNativeBinding()
    const rab = new ArrayBuffer(rows * units * 4, { maxByteLength: rows * units * 4 })
    const y = new Float32Array(rab)
    const p = binding.denseAsync(x, w, null, y, null, rows, inputs, units, 0, LINEAR)
    rab.resize(16)
    pressure()
    outcomes.push(await settle(p))
  } else if (scenario === 'transfer-out' || scenario === 'transfer-out-allocated') {
    const allocated = scenario === 'transfer-out-allocated' ? tn.allocate(rows * units) : undefined
    const out = allocated ? allocated.view() : new Float32Array(rows * units)
    const p = tn.denseAsync({ x, w, out, ...layer })
    structuredClone(out.buffer, { transfer: [out.buffer] }) // the copy is dropped at once
    pressure()
    outcomes.push(await settle(p))
  } else if (scenario === 'transfer-out-allocated-kept') {
    // allocate()'s memory is the addon's (an external ArrayBuffer), which Node does not let a
    // transfer move: structuredClone copies it and the original stays attached, so the result
    // lands in `out`. (The clone's contents are whatever the copy read while the work was
    // writing: reading an output before the promise settles is the caller's race.)
    const expected = tn.dense({ x, w, ...layer })
    const out = tn.allocate(rows * units).view()
    const p = tn.denseAsync({ x, w, out, ...layer })
    const clone = new Float32Array(structuredClone(out.buffer, { transfer: [out.buffer] }))
    pressure()
    const cloneHeld = clone.length === out.length && out.length === rows * units
    const check = (y) => {
      if (y !== out || !cloneHeld) throw Object.assign(new Error('out or its clone is not as expected'), { code: 'DIFFERENT' })
      return same(out, expected)
    }
    outcomes.push(await settle(p.then(check)))
  } else if (scenario === 'transfer-in' || scenario === 'transfer-in-allocated') {
    const bx = scenario === 'transfer-in-allocated' ? tn.allocate(rows * inputs) : undefined
    const bw = scenario === 'transfer-in-allocated' ? tn.allocate(inputs * units) : undefined
    const xv = bx ? bx.view() : new Float32Array(rows * inputs)
    const wv = bw ? bw.view() : new Float32Array(inputs * units)
    xv.set(x)
    wv.set(w)
    const expected = tn.dense({ x, w, ...layer })
    const p = tn.denseAsync({ x: xv, w: wv, ...layer })
    structuredClone(xv.buffer, { transfer: [xv.buffer] })
    structuredClone(wv.buffer, { transfer: [wv.buffer] })
    pressure()
    const got = await settle(p.then((y) => same(y, expected)))
    outcomes.push(got)
  } else if (scenario === 'transfer-backward') {
    const y = tn.dense({ x, w, ...layer })
    const dy = fill(new Float32Array(rows * units), it + 2)
    const dw = new Float32Array(inputs * units)
    const p = tn.denseBackwardAsync({ x, w, y, dy, dw, ...layer })
    structuredClone(dw.buffer, { transfer: [dw.buffer] })
    structuredClone(dy.buffer, { transfer: [dy.buffer] })
    pressure()
    outcomes.push(await settle(p))
  } else if (scenario === 'identical') {
    // Nobody misbehaves: the async results equal the sync call's bit for bit, plain and allocated.
    const drop = { inputDropout: { p: 0.25, seed: 7n + BigInt(it) }, outputDropout: { p: 0.1, seed: 3n, stream: 2n } }
    const sync = tn.dense({ x, w, ...layer, ...drop })
    const asyncY = await tn.denseAsync({ x, w, ...layer, ...drop })
    const bx = tn.allocate(rows * inputs)
    bx.view().set(x)
    const by = tn.allocate(rows * units)
    const allocY = await tn.denseAsync({ x: bx.view(), w, out: by.view(), ...layer, ...drop })
    const dy = fill(new Float32Array(rows * units), it + 2)
    const gs = tn.denseBackward({ x, w, y: sync, dy, ...layer, ...drop })
    const ga = await tn.denseBackwardAsync({ x, w, y: sync, dy, ...layer, ...drop })
    const ok = same(asyncY, sync) && same(allocY, sync) && same(ga.dx, gs.dx) && same(ga.dw, gs.dw) && same(ga.db, gs.db)
    outcomes.push(ok ? { ok: true } : { code: 'DIFFERENT' })
  } else {
    throw new Error(`unknown scenario ${scenario}`)
  }
}

function same(a, b) {
  if (a.length !== b.length) throw Object.assign(new Error('length differs'), { code: 'DIFFERENT' })
  const ua = new Uint32Array(a.buffer, a.byteOffset, a.length)
  const ub = new Uint32Array(b.buffer, b.byteOffset, b.length)
  for (let i = 0; i < ua.length; i++) if (ua[i] !== ub[i]) throw Object.assign(new Error(`element ${i} differs`), { code: 'DIFFERENT' })
  return true
}

process.stdout.write(JSON.stringify(outcomes) + '\n')
