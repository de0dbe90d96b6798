/**
 * A Backend made of the TypeScript reference, for tests of the facade and of backend selection
 * that must not depend on a built binary. It records its calls so tests can check that nothing
 * reaches a backend after a validation error.
 */

import type { Backend, BackendBuffer, BackendName, KernelSpec } from '../ts/backend.js'
import { referenceDropout, referenceMask } from '../ts/reference.js'

export interface RecordingBackend extends Backend {
  calls: { op: string; args: unknown[] }[]
}

export function referenceBackend(name: BackendName = 'native', isa = 'reference'): RecordingBackend {
  const calls: { op: string; args: unknown[] }[] = []
  const apply = (op: string) => (x: Float32Array, out: Float32Array, spec: KernelSpec) => {
    calls.push({ op, args: [x, out, spec] })
    out.set(referenceDropout(x, spec))
  }
  return {
    name,
    isa,
    calls,
    dropout: apply('dropout'),
    dropoutBackward: apply('dropoutBackward'),
    dropoutMask(n: number, out: Uint32Array, spec: Omit<KernelSpec, 'mode'>) {
      calls.push({ op: 'dropoutMask', args: [n, out, spec] })
      out.set(referenceMask(n, spec))
    },
    allocate(n: number): BackendBuffer {
      calls.push({ op: 'allocate', args: [n] })
      const memory = new Float32Array(n)
      return { length: n, view: () => memory, free: () => {} }
    },
  }
}
