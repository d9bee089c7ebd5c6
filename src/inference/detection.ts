/** One object found by a detector, in source-frame pixels. */
export interface Detection {
  /** Index into the model's label list. */
  readonly classId: number;
  readonly score: number;
  readonly xmin: number;
  readonly ymin: number;
  readonly xmax: number;
  readonly ymax: number;
}
