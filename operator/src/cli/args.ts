/** Option parsers shared by the `bij` commands (commander). */
import { InvalidArgumentError } from 'commander';

export const commaList = (v: string): string[] => v.split(',').map((s) => s.trim()).filter((s) => s !== '');
export const positiveInt = (v: string): number => {
  const n = Number(v);
  if (!Number.isInteger(n) || n <= 0) throw new InvalidArgumentError('must be a positive integer');
  return n;
};
export const nonNegativeInt = (v: string): number => {
  const n = Number(v);
  if (!Number.isInteger(n) || n < 0) throw new InvalidArgumentError('must be a non-negative integer');
  return n;
};
