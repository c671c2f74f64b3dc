/** One refusal of a job or schedule file, named as kubectl names fields. A leaf: the validators, the
 * reconciler and the schedule's placeholder checks all speak it. */
export interface FieldError {
  /** Path of the offending field, e.g. `spec.input.idColumn`. */
  field: string;
  message: string;
}
