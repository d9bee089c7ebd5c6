import {
  compileObjectPredicate,
  compileObjectValue,
  evaluateFramePredicate,
  type AggregateOutput,
  type BoundOrderItem,
  type BoundOutput,
  type BoundQuery,
  type DetectionRow,
  type ValueOutput,
} from '../binder/index.js';
import type { ResultRow, ResultValue } from '../engine-types.js';
import type { Detection } from '../inference/detection.js';

/** One frame as the answer operators see it: its reference detections. */
export interface LabelledFrameView {
  readonly frame: number;
  readonly timestamp: number;
  readonly detections: readonly Detection[];
}

/**
 * Turns a stream of reference-labelled frames (in frame order) into a query's answer, exactly.
 * `consume` returns false once the answer cannot change any more (LIMIT reached), so the
 * producer can stop decoding and detecting.
 */
export interface AnswerOperator {
  consume(frame: LabelledFrameView): boolean;
  finish(framesInRange: number): { rows: ResultRow[]; value?: number };
  readonly columns: readonly string[];
}

export function createAnswerOperator(query: BoundQuery, labels: readonly string[]): AnswerOperator {
  return ANSWER[query.shape](query as never, labels);
}

const ANSWER: { readonly [S in BoundQuery['shape']]: (q: Extract<BoundQuery, { shape: S }>, labels: readonly string[]) => AnswerOperator } = {
  'select-rows': (q, labels) => {
    const where = compileObjectPredicate(q.where);
    const out = outputRow(q.outputs, labels);
    const rows = new Collector(q.orderBy, q.limit, labels);
    return {
      columns: q.outputs.map((o) => o.name),
      consume(f) {
        for (const r of rowsOf(f)) if (where(r) && !rows.add(out(r), r)) return false;
        return true;
      },
      finish: () => ({ rows: rows.result() }),
    };
  },
  'select-frames': (q, labels) => {
    const where = compileObjectPredicate(q.where);
    const out = outputRow(q.outputs, labels);
    const rows = new Collector(q.orderBy, q.limit, labels, q.gap);
    return {
      columns: q.outputs.map((o) => o.name),
      consume(f) {
        const match = rowsOf(f).find(where);
        return match ? rows.add(out(match), match) : true;
      },
      finish: () => ({ rows: rows.result() }),
    };
  },
  aggregate: (q) => {
    const where = compileObjectPredicate(q.where);
    const states = q.outputs.map((o) => aggregateState(o));
    return {
      columns: q.outputs.map((o) => o.name),
      consume(f) {
        const matching = rowsOf(f).filter(where);
        for (const s of states) s.add(matching);
        return true;
      },
      finish(framesInRange) {
        const row: Record<string, ResultValue> = {};
        q.outputs.forEach((o, i) => (row[o.name] = states[i]!.value(framesInRange)));
        const first = row[q.outputs[0]!.name];
        return { rows: [row], ...(typeof first === 'number' ? { value: first } : {}) };
      },
    };
  },
  'grouped-limit': (q, labels) => {
    const where = compileObjectPredicate(q.where);
    const rows = new Collector(q.orderBy, q.limit, labels, q.gap);
    return {
      columns: q.outputs.map((o) => o.name),
      consume(f) {
        const matching = rowsOf(f).filter(where);
        if (matching.length === 0 || !evaluateFramePredicate(q.having, matching)) return true;
        const row: Record<string, ResultValue> = {};
        for (const o of q.outputs) {
          row[o.name] = o.kind === 'value' ? valueOf(o, matching[0]!, labels) : aggregateOver(o, matching);
        }
        return rows.add(row, matching[0]!);
      },
      finish: () => ({ rows: rows.result() }),
    };
  },
};

/** Whether a labelled frame belongs in a frame selection's or a grouped LIMIT's answer (before LIMIT and GAP). */
export function frameMatcher(query: BoundQuery): (f: LabelledFrameView) => boolean {
  const where = compileObjectPredicate(query.where);
  if (query.shape === 'grouped-limit') {
    return (f) => {
      const matching = rowsOf(f).filter(where);
      return matching.length > 0 && evaluateFramePredicate(query.having, matching);
    };
  }
  return (f) => rowsOf(f).some(where);
}

export function rowsOf(f: LabelledFrameView): DetectionRow[] {
  return f.detections.map((d) => ({ frame: f.frame, timestamp: f.timestamp, classId: d.classId, score: d.score, xmin: d.xmin, ymin: d.ymin, xmax: d.xmax, ymax: d.ymax }));
}

function outputRow(outputs: readonly ValueOutput[], labels: readonly string[]): (r: DetectionRow) => ResultRow {
  const fns = outputs.map((o) => ({ name: o.name, text: o.type === 'text', fn: compileObjectValue(o.value) }));
  return (r) => {
    const row: Record<string, ResultValue> = {};
    for (const f of fns) {
      const v = f.fn(r);
      row[f.name] = f.text ? (labels[v] ?? String(v)) : v;
    }
    return row;
  };
}

function valueOf(o: ValueOutput, r: DetectionRow, labels: readonly string[]): ResultValue {
  const v = compileObjectValue(o.value)(r);
  return o.type === 'text' ? (labels[v] ?? String(v)) : v;
}

function aggregateOver(o: BoundOutput, rows: readonly DetectionRow[]): ResultValue {
  const s = aggregateState(o as AggregateOutput);
  s.add(rows);
  return s.value(1);
}

interface AggregateState {
  add(matching: readonly DetectionRow[]): void;
  value(framesInRange: number): ResultValue;
}

function aggregateState(o: AggregateOutput): AggregateState {
  const arg = o.aggregate.argument ? compileObjectValue(o.aggregate.argument) : undefined;
  let objects = 0;
  let frames = 0;
  let sum = 0;
  let min = Infinity;
  let max = -Infinity;
  return {
    add(matching) {
      objects += matching.length;
      if (matching.length > 0) frames++;
      if (arg) {
        for (const r of matching) {
          const v = arg(r);
          sum += v;
          if (v < min) min = v;
          if (v > max) max = v;
        }
      }
    },
    value(framesInRange) {
      switch (o.aggregate.fn) {
        case 'fcount':
          return framesInRange > 0 ? objects / framesInRange : null;
        case 'count':
          return objects;
        case 'count-distinct-frames':
          return frames;
        case 'sum':
          return objects > 0 ? sum : null;
        case 'avg':
          return objects > 0 ? sum / objects : null;
        case 'min':
          return objects > 0 ? min : null;
        case 'max':
          return objects > 0 ? max : null;
      }
    },
  };
}

/** Collects output rows with ORDER BY, LIMIT and GAP (minimum frame distance between rows). */
class Collector {
  private readonly rows: { row: ResultRow; keys: (number | string)[]; frame: number }[] = [];
  private lastFrame = -Infinity;
  private readonly keyFns: ((r: DetectionRow) => number | string)[];

  constructor(
    private readonly orderBy: readonly BoundOrderItem[],
    private readonly limit: number | undefined,
    labels: readonly string[],
    private readonly gap?: number,
  ) {
    this.keyFns = orderBy.map((o) => {
      const fn = compileObjectValue(o.value);
      return o.type === 'text' ? (r: DetectionRow) => labels[fn(r)] ?? '' : fn;
    });
  }

  /** False when no later row can enter the answer. */
  add(row: ResultRow, source: DetectionRow): boolean {
    if (this.gap !== undefined && source.frame !== this.lastFrame && source.frame - this.lastFrame < this.gap) return true;
    this.lastFrame = source.frame;
    this.rows.push({ row, keys: this.keyFns.map((k) => k(source)), frame: source.frame });
    return this.orderBy.length > 0 || this.limit === undefined || this.rows.length < this.limit;
  }

  result(): ResultRow[] {
    let sorted = this.rows;
    if (this.orderBy.length > 0) {
      sorted = [...this.rows].sort((a, b) => {
        for (let i = 0; i < this.orderBy.length; i++) {
          const x = a.keys[i]!;
          const y = b.keys[i]!;
          if (x === y) continue;
          const c = x < y ? -1 : 1;
          return this.orderBy[i]!.direction === 'desc' ? -c : c;
        }
        return a.frame - b.frame;
      });
    }
    const limited = this.limit === undefined ? sorted : sorted.slice(0, this.limit);
    return limited.map((r) => r.row);
  }
}

/**
 * The rows of a frame-level selection from frames already known to match (a cascade's positives),
 * in frame order: outputs, ORDER BY, LIMIT and GAP as the exact operator applies them.
 */
export function frameSelectionRows(
  query: Extract<BoundQuery, { shape: 'select-frames' }>,
  frames: readonly { frame: number; timestamp: number }[],
  labels: readonly string[],
): ResultRow[] {
  const out = outputRow(query.outputs, labels);
  const rows = new Collector(query.orderBy, query.limit, labels, query.gap);
  for (const f of frames) {
    const r: DetectionRow = { frame: f.frame, timestamp: f.timestamp, classId: -1, score: 0, xmin: 0, ymin: 0, xmax: 0, ymax: 0 };
    if (!rows.add(out(r), r)) break;
  }
  return rows.result();
}
