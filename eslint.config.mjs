// The TypeScript lint gate (`npm run lint`, part of `npm test`): typescript-eslint's
// strict-type-checked rules, which need the type checker, over the library, its tests, the
// benchmarks and the demo page, each with the tsconfig that already type-checks it.
import eslint from '@eslint/js'
import tseslint from 'typescript-eslint'

export default tseslint.config(
  { ignores: ['dist/**', 'build/**', 'target/**', 'node_modules/**', 'npm/**', 'packages/**', '**/*.js', '**/*.mjs', '**/*.cjs'] },
  eslint.configs.recommended,
  tseslint.configs.strictTypeChecked,
  {
    languageOptions: {
      parserOptions: {
        // vitest.config.ts sits at the root, where tsconfig.json covers only ts/.
        projectService: { allowDefaultProject: ['vitest.config.ts'] },
        tsconfigRootDir: import.meta.dirname,
      },
    },
    rules: {
      // Numbers, bigints and booleans print as expected in a message; objects and undefined do not.
      '@typescript-eslint/restrict-template-expressions': [
        'error',
        { allowNumber: true, allowBoolean: true, allow: [{ name: 'BigInt', from: 'lib' }] },
      ],
      // `() => void expr` as a callback is an idiom, not a confusion.
      '@typescript-eslint/no-confusing-void-expression': ['error', { ignoreArrowShorthand: true }],
    },
  },
  {
    // Tests and benchmarks index arrays they just built and read fixtures whose shape they know:
    // a `!` there states a fact of the test, and a wrong one fails the test.
    files: ['test/**/*.ts', 'bench/**/*.ts'],
    rules: { '@typescript-eslint/no-non-null-assertion': 'off' },
  },
)
