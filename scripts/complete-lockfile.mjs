// Adds to package-lock.json the platform packages of rollup that this machine's npm registry does not
// serve (every other platform's build): without their entries `npm ci` refuses the lock ("Missing
// from lock file"), here and elsewhere. They are optional and platform-bound, so npm never fetches
// them on this platform; elsewhere it fetches the right one. Run after any `npm install`.
import { readFileSync, writeFileSync } from 'node:fs';

const file = new URL('../package-lock.json', import.meta.url);
const lock = JSON.parse(readFileSync(file, 'utf8'));
const packages = lock.packages;
const CPU = {
  arm: 'arm',
  arm64: 'arm64',
  x64: 'x64',
  ia32: 'ia32',
  loong64: 'loong64',
  ppc64: 'ppc64',
  riscv64: 'riscv64',
  s390x: 's390x',
};
let added = 0;
for (const [path, entry] of Object.entries(packages)) {
  for (const [name, version] of Object.entries(entry.optionalDependencies ?? {})) {
    const match = /^@rollup\/rollup-([a-z0-9]+)-([a-z0-9]+)(?:-([a-z]+))?$/.exec(name);
    if (!match || packages[`node_modules/${name}`] || packages[`${path}/node_modules/${name}`]) continue;
    const [, os, cpu, abi] = match;
    if (!CPU[cpu]) throw new Error(`unknown cpu in ${name}`);
    const libc = os === 'linux' ? [abi?.startsWith('musl') ? 'musl' : 'glibc'] : undefined;
    packages[`node_modules/${name}`] = {
      version,
      cpu: [CPU[cpu]],
      dev: true,
      ...(libc ? { libc } : {}),
      license: 'MIT',
      optional: true,
      os: [os],
    };
    added++;
  }
}
lock.packages = Object.fromEntries(
  Object.entries(packages).sort(([a], [b]) => (a === '' ? -1 : b === '' ? 1 : a.localeCompare(b))),
);
writeFileSync(file, `${JSON.stringify(lock, null, 2)}\n`);
console.log(`complete-lockfile: ${added} entr${added === 1 ? 'y' : 'ies'} added`);
