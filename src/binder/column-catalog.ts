/** The columns of a video relation (see FRAMEQL.md). */
export type ColumnName =
  | 'frame'
  | 'timestamp'
  | 'class'
  | 'score'
  | 'xmin'
  | 'ymin'
  | 'xmax'
  | 'ymax'
  | 'width'
  | 'height'
  | 'area'
  | 'trackid';

export type ColumnType = 'integer' | 'double' | 'text';

/** `frame` columns have one value per frame; `object` columns one per detected object. */
export type ColumnLevel = 'frame' | 'object';

export interface ColumnInfo {
  readonly name: ColumnName;
  readonly type: ColumnType;
  readonly level: ColumnLevel;
  /** Computed from the box rather than stored. */
  readonly derived: boolean;
  /** False for columns the engine cannot produce yet (`trackid`). */
  readonly supported: boolean;
}

function column(name: ColumnName, type: ColumnType, level: ColumnLevel, derived = false, supported = true): ColumnInfo {
  return Object.freeze({ name, type, level, derived, supported });
}

export const COLUMNS: Readonly<Record<ColumnName, ColumnInfo>> = Object.freeze({
  frame: column('frame', 'integer', 'frame'),
  timestamp: column('timestamp', 'double', 'frame'),
  class: column('class', 'text', 'object'),
  score: column('score', 'double', 'object'),
  xmin: column('xmin', 'double', 'object'),
  ymin: column('ymin', 'double', 'object'),
  xmax: column('xmax', 'double', 'object'),
  ymax: column('ymax', 'double', 'object'),
  width: column('width', 'double', 'object', true),
  height: column('height', 'double', 'object', true),
  area: column('area', 'double', 'object', true),
  trackid: column('trackid', 'integer', 'object', false, false),
});

export const COLUMN_NAMES: readonly ColumnName[] = Object.freeze(Object.keys(COLUMNS) as ColumnName[]);

/** What `SELECT *` expands to, in this order (every supported column). */
export const SELECT_ALL_COLUMNS: readonly ColumnName[] = Object.freeze(COLUMN_NAMES.filter((c) => COLUMNS[c].supported));

export function lookupColumn(name: string): ColumnInfo | undefined {
  const key = name.toLowerCase();
  return Object.hasOwn(COLUMNS, key) ? COLUMNS[key as ColumnName] : undefined;
}
