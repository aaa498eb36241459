// Reads a V8 .cpuprofile (from node --cpu-prof) and prints where the time went: the functions
// with the most self time, and the most inclusive time (a function and what it calls), plus
// the same grouped by package. Usage: node bench/top-frames.mjs FILE [N]
import { readFileSync } from 'node:fs';

const [file, n = '30'] = process.argv.slice(2);
const profile = JSON.parse(readFileSync(file, 'utf8'));
const nodes = new Map(profile.nodes.map((node) => [node.id, node]));
const parent = new Map();
for (const node of profile.nodes) {
  for (const child of node.children ?? []) {
    parent.set(child, node.id);
  }
}
const self = new Map();
profile.samples.forEach((id, i) => self.set(id, (self.get(id) ?? 0) + (profile.timeDeltas[i] ?? 0)));
const total = [...self.values()].reduce((a, b) => a + b, 0);

const short = (url) => url.replace(/^.*node_modules\//, '').replace(/^.*\/(dist|work\/main)\//, '');
const label = (cf) => `${cf.functionName || '(anonymous)'} ${short(cf.url)}:${cf.lineNumber + 1}`;
const pkg = (cf) => {
  if (!cf.url) return cf.functionName.startsWith('(') ? cf.functionName : '(native)';
  if (cf.url.startsWith('node:')) return cf.url.split('/')[0];
  const m = /node_modules\/((?:@[^/]+\/)?[^/]+)/.exec(cf.url);
  return m ? m[1] : cf.url.includes('/dist/') ? 'app' : cf.url;
};

const selfBy = new Map();
const inclBy = new Map();
const pkgBy = new Map();
for (const [id, time] of self) {
  const leaf = nodes.get(id);
  selfBy.set(label(leaf.callFrame), (selfBy.get(label(leaf.callFrame)) ?? 0) + time);
  pkgBy.set(pkg(leaf.callFrame), (pkgBy.get(pkg(leaf.callFrame)) ?? 0) + time);
  const seen = new Set();
  for (let cur = id; cur !== undefined; cur = parent.get(cur)) {
    const key = label(nodes.get(cur).callFrame);
    if (!seen.has(key)) {
      seen.add(key);
      inclBy.set(key, (inclBy.get(key) ?? 0) + time);
    }
  }
}
const print = (title, map) => {
  console.log(`\n## ${title}`);
  for (const [key, time] of [...map].sort((a, b) => b[1] - a[1]).slice(0, Number(n))) {
    console.log(`${((100 * time) / total).toFixed(1).padStart(5)}%  ${key}`);
  }
};
console.log(`total ${(total / 1e6).toFixed(2)} s sampled`);
print('self time by package', pkgBy);
print('self time', selfBy);
print('inclusive time', inclBy);
