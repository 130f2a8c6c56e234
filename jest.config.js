/** @type {import('jest').Config} */
module.exports = {
  testEnvironment: 'node',
  roots: ['<rootDir>/test'],
  testMatch: ['**/*.test.ts'],
  transform: {
    // type-checking is `tsc --noEmit` in `npm test`; jest only transpiles
    '^.+\\.ts$': 'ts-jest',
  },
  testTimeout: 60000,
};
