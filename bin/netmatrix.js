#!/usr/bin/env node
// The `netmatrix` command of an installed package (`npm install -g netmatrix-<version>.tgz`) and of
// the image (/usr/local/bin/netmatrix links here): runs the compiled CLI, which `npm pack` builds
// (prepack). In a checkout, `npx tsx cli/main.ts` runs the sources.
import('../dist/cli/main.js');
