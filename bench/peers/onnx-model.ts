/**
 * Builds, in memory, the ONNX model of one dense layer, y = Relu(Gemm(x, W, b)), for the
 * onnxruntime-node peer. No .onnx file is committed and no ONNX package is needed: this file is a
 * minimal protobuf writer for the few messages and fields such a model uses.
 *
 * Why our own writer: the npm packages that carry ONNX's protobuf definitions (onnx-proto, on
 * protobufjs 6; onnx-buf, one release) are single-maintainer snapshots, and the subset needed here
 * is a page of code whose every field number is checked against onnx/onnx.proto below.
 *
 * Protobuf wire format used (proto2, as onnx.proto declares):
 *  - a field is a key varint (field_number << 3 | wire_type) followed by its value;
 *  - wire type 0 (varint) for int32/int64/enum values, all non-negative here;
 *  - wire type 2 (length-delimited) for strings, bytes and nested messages: a length varint, then
 *    the bytes;
 *  - repeated fields are written as one key-value pair per element (proto2's default, unpacked;
 *    parsers accept it for every repeated scalar).
 */

/** Field numbers from onnx/onnx.proto (the messages below, and only the fields we write). */
const FIELD = {
  model: { irVersion: 1, producerName: 2, producerVersion: 3, graph: 7, opsetImport: 8 },
  opset: { domain: 1, version: 2 },
  graph: { node: 1, name: 2, initializer: 5, input: 11, output: 12 },
  node: { input: 1, output: 2, name: 3, opType: 4 },
  tensor: { dims: 1, dataType: 2, name: 8, rawData: 9 },
  valueInfo: { name: 1, type: 2 },
  type: { tensorType: 1 },
  typeTensor: { elemType: 1, shape: 2 },
  shape: { dim: 1 },
  dimension: { dimValue: 1, dimParam: 2 },
} as const

/** TensorProto.DataType.FLOAT. */
const FLOAT = 1

/**
 * IR version 8 with opset 17 (Gemm-13, Relu-14): a pairing every onnxruntime since 1.13 reads.
 * IR >= 4 matters: initializers need not be graph inputs, so W and b are true constants that
 * onnxruntime may pre-pack, as in a deployed model.
 */
const IR_VERSION = 8
const OPSET = 17

type Bytes = Uint8Array

const WIRE_VARINT = 0
const WIRE_LENGTH_DELIMITED = 2

function varint(value: number): Bytes {
  if (!Number.isSafeInteger(value) || value < 0) throw new RangeError(`varint needs a safe non-negative integer, got ${value}`)
  const out: number[] = []
  // 7 bits a byte, least significant group first, high bit set on every byte but the last.
  // Division rather than >>> keeps values above 2^32 exact.
  while (value >= 0x80) {
    out.push((value % 0x80) | 0x80)
    value = Math.floor(value / 0x80)
  }
  out.push(value)
  return Uint8Array.from(out)
}

function concat(parts: Bytes[]): Bytes {
  const out = new Uint8Array(parts.reduce((n, p) => n + p.length, 0))
  let at = 0
  for (const part of parts) {
    out.set(part, at)
    at += part.length
  }
  return out
}

function key(field: number, wireType: number): Bytes {
  return varint(field * 8 + wireType)
}

function intField(field: number, value: number): Bytes {
  return concat([key(field, WIRE_VARINT), varint(value)])
}

function bytesField(field: number, bytes: Bytes): Bytes {
  return concat([key(field, WIRE_LENGTH_DELIMITED), varint(bytes.length), bytes])
}

function stringField(field: number, text: string): Bytes {
  return bytesField(field, new TextEncoder().encode(text))
}

/** float32 values as little-endian bytes (TensorProto.raw_data's required layout, on any host). */
function littleEndianFloats(values: Float32Array): Bytes {
  const view = new DataView(new ArrayBuffer(values.length * 4))
  for (let i = 0; i < values.length; i++) view.setFloat32(i * 4, values[i], true)
  return new Uint8Array(view.buffer)
}

/** TensorProto: a named float32 constant (a graph initializer). */
function tensorProto(name: string, dims: number[], values: Float32Array): Bytes {
  if (dims.reduce((a, b) => a * b, 1) !== values.length)
    throw new RangeError(`${name}: dims ${dims.join(',')} do not match ${values.length} values`)
  const f = FIELD.tensor
  return concat([
    ...dims.map((d) => intField(f.dims, d)),
    intField(f.dataType, FLOAT),
    stringField(f.name, name),
    bytesField(f.rawData, littleEndianFloats(values)),
  ])
}

/** ValueInfoProto for a float32 tensor; a string dimension is symbolic (dim_param). */
function floatValueInfo(name: string, dims: (number | string)[]): Bytes {
  const dimension = (d: number | string) =>
    typeof d === 'number' ? intField(FIELD.dimension.dimValue, d) : stringField(FIELD.dimension.dimParam, d)
  const shape = concat(dims.map((d) => bytesField(FIELD.shape.dim, dimension(d))))
  const tensorType = concat([intField(FIELD.typeTensor.elemType, FLOAT), bytesField(FIELD.typeTensor.shape, shape)])
  const type = bytesField(FIELD.type.tensorType, tensorType)
  return concat([stringField(FIELD.valueInfo.name, name), bytesField(FIELD.valueInfo.type, type)])
}

/** NodeProto of the default (ai.onnx) domain, with no attributes. */
function nodeProto(opType: string, inputs: string[], outputs: string[], name: string): Bytes {
  const f = FIELD.node
  return concat([
    ...inputs.map((i) => stringField(f.input, i)),
    ...outputs.map((o) => stringField(f.output, o)),
    stringField(f.name, name),
    stringField(f.opType, opType),
  ])
}

export interface DenseModelSpec {
  inputs: number
  units: number
  /** Kernel [inputs, units], row-major (DESIGN.md's layout, Gemm's B with transB = 0). */
  w: Float32Array
  /** Bias [units]. */
  b: Float32Array
}

/** Names of the model's graph input and output, for the session's feeds and fetches. */
export const INPUT_NAME = 'x'
export const OUTPUT_NAME = 'y'

/**
 * ModelProto bytes for y = Relu(Gemm(x, W, b)) with x: float32 [rows, inputs] (rows symbolic, so one
 * session serves any batch size) and W, b initializers. Gemm's defaults (alpha = beta = 1,
 * transA = transB = 0) are exactly x . W + b, so the node carries no attributes; onnxruntime fuses
 * the Relu into the Gemm when it optimises the graph.
 */
export function denseReluModel({ inputs, units, w, b }: DenseModelSpec): Uint8Array {
  if (w.length !== inputs * units) throw new RangeError(`w has ${w.length} values, expected inputs * units = ${inputs * units}`)
  if (b.length !== units) throw new RangeError(`b has ${b.length} values, expected units = ${units}`)
  const g = FIELD.graph
  const graph = concat([
    bytesField(g.node, nodeProto('Gemm', [INPUT_NAME, 'W', 'b'], ['h'], 'dense')),
    bytesField(g.node, nodeProto('Relu', ['h'], [OUTPUT_NAME], 'relu')),
    stringField(g.name, 'dense_relu'),
    bytesField(g.initializer, tensorProto('W', [inputs, units], w)),
    bytesField(g.initializer, tensorProto('b', [units], b)),
    bytesField(g.input, floatValueInfo(INPUT_NAME, ['rows', inputs])),
    bytesField(g.output, floatValueInfo(OUTPUT_NAME, ['rows', units])),
  ])
  const m = FIELD.model
  return concat([
    intField(m.irVersion, IR_VERSION),
    stringField(m.producerName, 'thinnet-bench'),
    stringField(m.producerVersion, '1'),
    bytesField(m.graph, graph),
    // The default domain is the empty string, which proto2 lets us leave out.
    bytesField(m.opsetImport, intField(FIELD.opset.version, OPSET)),
  ])
}
