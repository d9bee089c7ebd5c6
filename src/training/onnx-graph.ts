/**
 * A minimal ONNX graph builder: nodes, initializers, typed inputs and outputs, serialized with
 * protobufjs against the part of `onnx.proto` it writes (field numbers as in ONNX's own schema).
 * Shapes use a number or a symbolic dimension name.
 */
import protobuf from 'protobufjs';

/** The messages of onnx/onnx.proto (IR version 8) that a generated model uses, field numbers verbatim. */
const ONNX_PROTO = `
syntax = "proto2";
package onnx;
message StringStringEntryProto { optional string key = 1; optional string value = 2; }
message OperatorSetIdProto { optional string domain = 1; optional int64 version = 2; }
message AttributeProto {
  enum AttributeType { UNDEFINED = 0; FLOAT = 1; INT = 2; STRING = 3; TENSOR = 4; GRAPH = 5; FLOATS = 6; INTS = 7; STRINGS = 8; }
  optional string name = 1; optional float f = 2; optional int64 i = 3; optional bytes s = 4;
  repeated float floats = 7; repeated int64 ints = 8; optional AttributeType type = 20;
}
message NodeProto {
  repeated string input = 1; repeated string output = 2; optional string name = 3; optional string op_type = 4;
  repeated AttributeProto attribute = 5; optional string domain = 7;
}
message TensorProto {
  enum DataType { UNDEFINED = 0; FLOAT = 1; UINT8 = 2; INT8 = 3; UINT16 = 4; INT16 = 5; INT32 = 6; INT64 = 7; }
  repeated int64 dims = 1; optional int32 data_type = 2; optional string name = 8; optional bytes raw_data = 9;
}
message TensorShapeProto {
  message Dimension { oneof value { int64 dim_value = 1; string dim_param = 2; } }
  repeated Dimension dim = 1;
}
message TypeProto {
  message Tensor { optional int32 elem_type = 1; optional TensorShapeProto shape = 2; }
  oneof value { Tensor tensor_type = 1; }
}
message ValueInfoProto { optional string name = 1; optional TypeProto type = 2; }
message GraphProto {
  repeated NodeProto node = 1; optional string name = 2; repeated TensorProto initializer = 5;
  repeated ValueInfoProto input = 11; repeated ValueInfoProto output = 12;
}
message ModelProto {
  optional int64 ir_version = 1; optional string producer_name = 2; optional GraphProto graph = 7;
  repeated OperatorSetIdProto opset_import = 8; repeated StringStringEntryProto metadata_props = 14;
}
`;

const ModelProto = protobuf.parse(ONNX_PROTO).root.lookupType('onnx.ModelProto');

/** ONNX's TensorProto.DataType and AttributeProto.AttributeType values this builder writes. */
const DATA_TYPE = { FLOAT: 1, UINT8: 2, INT64: 7 } as const;
const ATTRIBUTE_TYPE = { FLOAT: 1, INT: 2, STRING: 3, INTS: 7 } as const;

interface AttributeProto {
  name: string;
  type: number;
  i?: number;
  f?: number;
  s?: Uint8Array;
  ints?: number[];
}
interface NodeProto {
  opType: string;
  input: string[];
  output: string[];
  name: string;
  attribute: AttributeProto[];
}
interface TensorProto {
  name: string;
  dims: number[];
  dataType: number;
  rawData: Uint8Array;
}
interface ValueInfoProto {
  name: string;
  type: { tensorType: { elemType: number; shape: { dim: Array<{ dimValue: number } | { dimParam: string }> } } };
}

/** Opset every generated graph imports (ScatterElements `reduction='add'` needs 16). */
export const OPSET = 17;

export type ElemType = 'float32' | 'uint8' | 'int64';
export type Dim = number | string;
/** Attribute values: an integer, a list of integers, a string, or `{ f }` for a float. */
export type AttrValue = number | readonly number[] | string | { readonly f: number };

const ELEM: Record<ElemType, number> = { float32: DATA_TYPE.FLOAT, uint8: DATA_TYPE.UINT8, int64: DATA_TYPE.INT64 };

export class GraphBuilder {
  private readonly nodes: NodeProto[] = [];
  private readonly initializers: TensorProto[] = [];
  private readonly inputs: ValueInfoProto[] = [];
  private readonly outputs: ValueInfoProto[] = [];
  private counter = 0;

  constructor(private readonly name: string) {}

  /** A fresh value name with a readable prefix. */
  fresh(prefix: string): string {
    return `${prefix}_${this.counter++}`;
  }

  input(name: string, type: ElemType, dims: readonly Dim[]): string {
    this.inputs.push(valueInfo(name, type, dims));
    return name;
  }

  output(name: string, type: ElemType, dims: readonly Dim[]): void {
    this.outputs.push(valueInfo(name, type, dims));
  }

  /** Adds an initializer; returns its name. */
  constant(data: Float32Array | BigInt64Array, dims: readonly number[], name = this.fresh('c')): string {
    const bytes = new Uint8Array(data.buffer, data.byteOffset, data.byteLength);
    this.initializers.push({
      name,
      dims: [...dims],
      dataType: data instanceof Float32Array ? ELEM.float32 : ELEM.int64,
      rawData: Uint8Array.from(bytes),
    });
    return name;
  }

  scalar(value: number): string {
    return this.constant(Float32Array.of(value), []);
  }

  ints(values: readonly number[]): string {
    return this.constant(BigInt64Array.from(values.map(BigInt)), [values.length]);
  }

  /** Adds a node; returns its output names (`outputs` fresh ones unless named). */
  op(type: string, inputs: readonly string[], attrs: Readonly<Record<string, AttrValue>> = {}, outputs: number | readonly string[] = 1): string[] {
    const names = typeof outputs === 'number' ? Array.from({ length: outputs }, () => this.fresh(type.toLowerCase())) : [...outputs];
    this.nodes.push({
      opType: type,
      input: [...inputs],
      output: names,
      name: this.fresh(`n_${type}`),
      attribute: Object.entries(attrs).map(([name, value]) => attribute(name, value)),
    });
    return names;
  }

  /** A single-output node. */
  op1(type: string, inputs: readonly string[], attrs: Readonly<Record<string, AttrValue>> = {}, output?: string): string {
    return this.op(type, inputs, attrs, output ? [output] : 1)[0]!;
  }

  /** Serializes the graph as an ONNX model. */
  toBytes(metadata: Readonly<Record<string, string>> = {}): Uint8Array {
    const model = ModelProto.fromObject({
      irVersion: 8,
      producerName: 'sieve',
      opsetImport: [{ domain: '', version: OPSET }],
      graph: { name: this.name, node: this.nodes, initializer: this.initializers, input: this.inputs, output: this.outputs },
      metadataProps: Object.entries(metadata).map(([key, value]) => ({ key, value })),
    });
    return ModelProto.encode(model).finish();
  }
}

function valueInfo(name: string, type: ElemType, dims: readonly Dim[]): ValueInfoProto {
  return {
    name,
    type: {
      tensorType: {
        elemType: ELEM[type],
        shape: { dim: dims.map((d) => (typeof d === 'number' ? { dimValue: d } : { dimParam: d })) },
      },
    },
  };
}

function attribute(name: string, value: AttrValue): AttributeProto {
  const T = ATTRIBUTE_TYPE;
  if (typeof value === 'number') return { name, type: T.INT, i: value };
  if (typeof value === 'string') return { name, type: T.STRING, s: new TextEncoder().encode(value) };
  if (Array.isArray(value)) return { name, type: T.INTS, ints: [...(value as number[])] };
  return { name, type: T.FLOAT, f: (value as { f: number }).f };
}
