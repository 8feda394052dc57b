#!/usr/bin/env node
// Thin launcher so that `npx tandem …` works from the repository root after `npm run build`.
import '../dist/cli/tandem.js';
