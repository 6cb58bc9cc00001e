// Loaded with NODE_OPTIONS="--require bench/memory-hook.cjs" (see bench/memory-probe.ts): in the
// controller process only, sets the V8 flags in HEAP_FLAGS at start, and on SIGUSR2 writes
// /tmp/memusage-<pid>.txt (memoryUsage, heap spaces, RSS per mapping) and, with HEAP_SNAPSHOT=1, a heap
// snapshot.
const v8 = require('node:v8');
const fs = require('node:fs');

if (process.argv.some((a) => a.includes('dist/controller/main.js'))) {
  for (const flag of (process.env.HEAP_FLAGS ?? '').split(' ').filter(Boolean)) v8.setFlagsFromString(flag);
  process.on('SIGUSR2', () => {
    const mib = (x) => (x / 1048576).toFixed(1);
    const out = [];
    const usage = Object.entries(process.memoryUsage()).map(([k, v]) => [k, mib(v)]);
    out.push(`memoryUsage MiB ${JSON.stringify(Object.fromEntries(usage))}`);
    const spaces = v8.getHeapSpaceStatistics();
    out.push(
      `heap spaces size/used MiB ${spaces.map((s) => `${s.space_name}:${mib(s.space_size)}/${mib(s.space_used_size)}`).join(' ')}`,
    );
    const rss = {};
    let mapping = '';
    for (const line of fs.readFileSync('/proc/self/smaps', 'utf8').split('\n')) {
      const head = line.match(/^[0-9a-f]+-[0-9a-f]+ \S+ \S+ \S+ \S+\s*(.*)$/);
      if (head) mapping = head[1] || 'anonymous';
      const kb = line.match(/^Rss:\s+(\d+) kB/);
      if (kb) rss[mapping] = (rss[mapping] ?? 0) + Number(kb[1]);
    }
    const top = Object.entries(rss)
      .sort((a, b) => b[1] - a[1])
      .slice(0, 6);
    out.push(`RSS per mapping ${top.map(([k, v]) => `${k}=${(v / 1024).toFixed(0)}M`).join(' ')}`);
    fs.writeFileSync(`/tmp/memusage-${process.pid}.txt`, `${out.join('\n')}\n`);
    if (process.env.HEAP_SNAPSHOT) v8.writeHeapSnapshot(`/tmp/heap-${process.pid}.heapsnapshot`);
  });
}
