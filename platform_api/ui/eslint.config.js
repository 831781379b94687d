// ESLint (flat config): JavaScript and TypeScript recommendations, and the rules of React hooks.
import js from "@eslint/js";
import reactHooks from "eslint-plugin-react-hooks";
import { defineConfig, globalIgnores } from "eslint/config";
import globals from "globals";
import tseslint from "typescript-eslint";

export default defineConfig([
  globalIgnores(["dist/", "src/api/schema.d.ts"]),
  {
    files: ["**/*.{ts,tsx}"],
    extends: [js.configs.recommended, tseslint.configs.recommended, reactHooks.configs.flat.recommended],
    languageOptions: { globals: globals.browser },
    rules: {
      "@typescript-eslint/no-unused-vars": ["error", { ignoreRestSiblings: true }],
      // Says where the React Compiler would skip a component; the build does not use the compiler.
      "react-hooks/preserve-manual-memoization": "off",
    },
  },
  {
    files: ["**/*.{js,mjs}", "vite.config.ts"],
    extends: [js.configs.recommended],
    languageOptions: { globals: globals.node },
  },
]);
