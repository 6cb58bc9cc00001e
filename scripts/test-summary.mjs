// Reads vitest JSON reports and prints one closing line, `tests: N passed, N failed`.
// Exits 1 when a report is missing, a test failed or was skipped, or a suite ran no test at all.
import { existsSync, readFileSync } from 'node:fs';

let passed = 0;
let failed = 0;
const problems = [];
for (const file of process.argv.slice(2)) {
  if (!existsSync(file)) {
    problems.push(`${file}: missing (the suite did not run)`);
    continue;
  }
  const report = JSON.parse(readFileSync(file, 'utf8'));
  passed += report.numPassedTests;
  failed += report.numFailedTests;
  const skipped = report.numPendingTests + report.numTodoTests;
  if (report.numTotalTests === 0) problems.push(`${file}: no test ran`);
  if (skipped > 0)
    problems.push(`${file}: ${skipped} test(s) skipped; skipped tests do not count as passing`);
  if (report.numFailedTestSuites > 0 && report.numFailedTests === 0)
    problems.push(`${file}: a test file failed to load or run`);
}
for (const p of problems) console.error(`test-summary: ${p}`);
console.log(`tests: ${passed} passed, ${failed + problems.length} failed`);
process.exit(failed > 0 || problems.length > 0 ? 1 : 0);
