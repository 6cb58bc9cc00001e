#!/usr/bin/env node
import { buildProgram } from './cli/program.js';

try {
  await buildProgram().parseAsync(process.argv);
} catch (error) {
  process.stderr.write(`myaas: ${(error as Error).message}\n`);
  process.exitCode = 1;
}
