/**
 * Reusable bytes for the records, headers and parameter blocks the bindings take.
 *
 * Allocating an ArrayBuffer costs about 1 us in Node 20 (a backing store from the allocator; a
 * small `new Uint8Array(n)` lives on the V8 heap, but the DataView that writes it needs its
 * `.buffer`, which allocates one): that was a third of a small dropout call's time. Both
 * bindings copy these bytes as a call begins (crates/thinnet-node/src/args.rs `bytes`; the WASM
 * backend's `invoke` copies them into its memory before anything else runs), so the next call may
 * write the same bytes again.
 */

/** One reusable run of bytes; what `fill` returns is valid until the next `fill` of it. */
export class ScratchBytes {
  readonly #bytes: Uint8Array
  readonly #view: DataView
  #writing = false

  constructor(size: number) {
    const buffer = new ArrayBuffer(size)
    this.#bytes = new Uint8Array(buffer)
    this.#view = new DataView(buffer)
  }

  /**
   * `length` zeroed bytes written by `write`. A fill longer than the scratch, or begun while
   * another fill of it is writing (a getter in a backend caller's spec that calls thinnet), gets
   * fresh bytes of its own instead, so no call ever sees another's half-written bytes.
   */
  fill(length: number, write: (view: DataView) => void): Uint8Array {
    if (this.#writing || length > this.#bytes.length) {
      const bytes = new Uint8Array(new ArrayBuffer(length))
      write(new DataView(bytes.buffer))
      return bytes
    }
    this.#writing = true
    try {
      this.#bytes.fill(0, 0, length)
      write(this.#view)
    } finally {
      this.#writing = false
    }
    return length === this.#bytes.length ? this.#bytes : this.#bytes.subarray(0, length)
  }
}
