/** Jest runs the TypeScript sources as native ES modules, transpiled by swc (no type checking here:
 * `npm test` runs `tsc` first, so a type error fails the run before any test starts). */
export default {
  // Shares Node's typed-array constructors with each test's vm context, so arrays onnxruntime-node
  // creates natively pass its instanceof checks (see the file).
  testEnvironment: '<rootDir>/worker/src/session/jest-ort-environment.js',
  extensionsToTreatAsEsm: ['.ts'],
  transform: {
    '^.+\\.ts$': ['@swc/jest', {
      jsc: { parser: { syntax: 'typescript' }, target: 'es2022' },
      module: { type: 'es6' },
      sourceMaps: 'inline',
    }],
  },
  moduleNameMapper: { '^(\\.{1,2}/.*)\\.js$': '$1' },
  testMatch: ['<rootDir>/core/**/*.test.ts', '<rootDir>/operator/**/*.test.ts', '<rootDir>/cluster/**/*.test.ts', '<rootDir>/worker/**/*.test.ts', '<rootDir>/e2e/**/*.test.ts'],
  // Builds the S3 server the S3 tests run against, if missing (e2e/support/jest-global-setup.ts). Jest
  // loads globalSetup outside the test module system (no swc, no .js -> .ts mapping): the tsc output.
  globalSetup: '<rootDir>/dist/e2e/support/jest-global-setup.js',
  testTimeout: 60000,
  maxWorkers: 2,
};
