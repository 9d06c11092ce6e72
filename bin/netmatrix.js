#!/usr/bin/env node
// Installed entry point: runs the compiled CLI (npm run build). In a checkout, `npx tsx cli/main.ts` runs the sources.
import('../dist/cli/main.js');
