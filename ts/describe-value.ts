/**
 * Values of the caller's described for error messages, and the engine's own typed-array getters,
 * without calling into the value: no getter, Proxy trap, toString or Symbol.toStringTag of the
 * caller's runs (validate.ts says why the order of a call's checks matters against a hostile caller).
 */

/**
 * A short, unambiguous rendering of a received value for error messages. It never calls into the
 * value: no getter, Proxy trap, toString or Symbol.toStringTag of the caller's runs (objects are
 * told apart by the engine's own brand checks), so describing a hostile value cannot throw or
 * change anything.
 */
export function describeValue(value: unknown): string {
  if (value === null) return 'null'
  switch (typeof value) {
    case 'undefined':
      return 'undefined'
    case 'number':
      return Object.is(value, -0) ? '-0' : String(value)
    case 'bigint':
      return `${value}n`
    case 'string':
      return `the string ${JSON.stringify(value.length > 40 ? value.slice(0, 40) + '...' : value)}`
    case 'boolean':
      return String(value)
    case 'symbol':
      // String() of a symbol is its descriptive string, with no method lookup.
      return String(value)
    case 'function':
      return 'a function'
    default:
      return describeObject(value)
  }
}

/** The engine's own getter `key` of `proto`, callable on any value (it throws for one without the slot). */
export function intrinsicGetter(proto: object, key: PropertyKey): (value: object) => unknown {
  const get = ownGetter(proto, key)
  return (value) => get.call(value)
}

/** The getter `key` of `proto` itself, to be called with any value as `this`. */
function ownGetter(proto: object, key: PropertyKey): (this: unknown) => unknown {
  // eslint-disable-next-line @typescript-eslint/unbound-method -- the engine's getter is taken off its descriptor on purpose, to be .call()ed on the value under test
  const get = Object.getOwnPropertyDescriptor(proto, key)?.get
  // Every key asked for is a getter of the language itself: its absence is an engine bug, not input.
  if (get === undefined) throw new Error(`thinnet: this engine has no getter ${String(key)} to check values with`)
  return get
}

/** Brand checks that read an internal slot and throw (or not) without running user code. */
const BRANDS: readonly (readonly [name: string, check: (value: object) => unknown])[] = [
  ['ArrayBuffer', intrinsicGetter(ArrayBuffer.prototype, 'byteLength')],
  // SharedArrayBuffer is absent from some pages (no cross-origin isolation); where typeof finds it
  // the checker's narrowing of its constructor type loses `prototype`'s type, hence the cast.
  ...(typeof SharedArrayBuffer === 'function'
    ? [['SharedArrayBuffer', intrinsicGetter(SharedArrayBuffer.prototype as object, 'byteLength')] as const]
    : []),
  // DataView's `buffer` getter (its byteLength one throws for a detached view).
  ['DataView', intrinsicGetter(DataView.prototype, 'buffer')],
  ['Map', intrinsicGetter(Map.prototype, 'size')],
  ['Set', intrinsicGetter(Set.prototype, 'size')],
  ['Date', (value) => Date.prototype.getTime.call(value)],
]

function describeObject(value: object): string {
  const tag = typedArrayTag(value)
  if (tag !== undefined) return tag
  try {
    if (Array.isArray(value)) return 'Array'
  } catch {
    // Array.isArray sees through a Proxy to its target, and throws only for a revoked one.
    return 'a revoked Proxy'
  }
  for (const [name, check] of BRANDS) {
    try {
      check(value)
      return name
    } catch {
      // Not this kind of object.
    }
  }
  return 'an object'
}

// The spec's %TypedArray%.prototype[Symbol.toStringTag] getter returns the internal type name of a
// real typed array and undefined for anything else: cross-realm safe and not spoofable, unlike
// instanceof or Object.prototype.toString.
export const typedArrayProto = Object.getPrototypeOf(Uint8Array.prototype) as object
const typedArrayTagGetter = ownGetter(typedArrayProto, Symbol.toStringTag)

/** The internal type name of a real typed array ('Float32Array'...), undefined for anything else. */
export function typedArrayTag(value: unknown): string | undefined {
  return typedArrayTagGetter.call(value) as string | undefined
}
