import { isInputParquet } from './list-input.js';

describe('isInputParquet', () => {
  test.each([
    ['s3://b/in/', 's3://b/in/a.parquet', true],
    ['s3://b/in/', 's3://b/in/date=1/part-0.parquet', true],
    ['s3://b/in', 's3://b/in/a.parquet', true],
    ['s3://b/in/', 's3://b/in/_SUCCESS', false],
    ['s3://b/in/', 's3://b/in/_temporary/0/a.parquet', false],
    ['s3://b/in/', 's3://b/in/.a.parquet.crc', false],
    ['s3://b/in/', 's3://b/in/.hidden/a.parquet', false],
    ['s3://b/in/', 's3://b/in/readme.txt', false],
  ])('%s %s -> %s', (prefix, uri, expected) => {
    expect(isInputParquet(prefix, uri)).toBe(expected);
  });
});
