/** Jest runs the TypeScript sources as native ES modules, transpiled by swc (no type checking here:
 * `npm test` runs `tsc` first, so a type error fails the run before any test starts). */
export default {
  testEnvironment: 'node',
  extensionsToTreatAsEsm: ['.ts'],
  transform: {
    '^.+\\.ts$': ['@swc/jest', {
      jsc: { parser: { syntax: 'typescript' }, target: 'es2022' },
      module: { type: 'es6' },
      sourceMaps: 'inline',
    }],
  },
  moduleNameMapper: { '^(\\.{1,2}/.*)\\.js$': '$1' },
  testMatch: ['<rootDir>/operator/**/*.test.ts', '<rootDir>/worker/**/*.test.ts', '<rootDir>/e2e/**/*.test.ts'],
  testTimeout: 60000,
  maxWorkers: 2,
};
