#!/usr/bin/env node
/** The `tandem` command (src/cli/program.ts has every command). */
import { buildProgram } from './program.js';

await buildProgram().parseAsync(process.argv);
