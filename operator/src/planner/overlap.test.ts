import { mkdirSync, mkdtempSync, symlinkSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { BadInputError } from '../../../core/src/contract/index.js';
import { checkInputOutputApart } from './overlap.js';

const refusal = (input: string, output: string) => checkInputOutputApart(input, output).then(() => undefined, (e: unknown) => e);

describe('checkInputOutputApart', () => {
  const root = mkdtempSync(join(tmpdir(), 'bij-overlap-'));
  mkdirSync(join(root, 'data', 'in'), { recursive: true });
  symlinkSync(join(root, 'data', 'in'), join(root, 'alias'));

  test.each([
    ['the input through a symlink', `${root}/alias/`, /is the input location/],
    ['inside the input through a symlink', `file://${root}/alias/scores/`, /lies inside the input location/],
    ['a parent of the input', `${root}/data`, /contains the input location/],
  ])('refuses an output that is %s, naming both', async (_n, output, message) => {
    const err = await refusal(`${root}/data/in/`, output);
    expect(err).toBeInstanceOf(BadInputError);
    expect((err as Error).message).toMatch(message);
    expect((err as Error).message).toContain(output);
  });

  test('accepts a sibling, S3 locations, and an output that does not exist yet', async () => {
    await expect(checkInputOutputApart(`${root}/data/in/`, `${root}/data/in-scores/new/`)).resolves.toBeUndefined();
    await expect(checkInputOutputApart('s3://lake/in/', 's3://lake/out/')).resolves.toBeUndefined();
    expect(await refusal('s3://lake/in/', 's3://lake//in/x/')).toBeInstanceOf(BadInputError);
  });
});
