import { readdirSync, readFileSync, statSync } from 'node:fs';
import { dirname, join, relative, resolve } from 'node:path';
import layers from './architecture-layers.json';

/**
 * The shape of src/ (README, Layout): layers that only point down, no folder-level import cycle,
 * and files of a readable size. Every import of every file counts, type-only ones included.
 * `npx madge --circular --extensions ts src` shows file-level cycles the same way.
 */

const SRC = resolve(__dirname, '..', 'src');
const HARD_LIMIT = 400;
const SOFT_LIMIT = 300;

function sourceFiles(dir: string): string[] {
  return readdirSync(dir).flatMap((name) => {
    const path = join(dir, name);
    return statSync(path).isDirectory() ? sourceFiles(path) : path.endsWith('.ts') ? [path] : [];
  });
}

/** The unit a path of src/ belongs to: its top folder, or the file's name for a file at the top. */
function unitOf(path: string): string {
  const [first, ...rest] = relative(SRC, path).split('/');
  return rest.length === 0 ? first.replace(/\.(ts|json)$/, '') : first;
}

const LAYER = new Map(layers.layers.flatMap((layer, index) => layer.units.map((unit) => [unit, index] as const)));
const IMPORT = /(?:^|\n)\s*(?:import|export)\b[^'"`;]*?\bfrom\s*'([^']+)'|\bimport\(\s*'([^']+)'\s*\)|\brequire\(\s*'([^']+)'\s*\)/g;

interface Edge {
  from: string;
  to: string;
  file: string;
  spec: string;
}

const files = sourceFiles(SRC);
const edges: Edge[] = files.flatMap((file) =>
  [...readFileSync(file, 'utf8').matchAll(IMPORT)]
    .map((m) => m[1] ?? m[2] ?? m[3])
    .filter((spec) => spec.startsWith('.'))
    .map((spec) => ({ from: unitOf(file), to: unitOf(resolve(dirname(file), spec)), file: relative(SRC, file), spec }))
    .filter((edge) => edge.from !== edge.to),
);

/** Strongly connected groups of more than one unit (Tarjan). */
function cycles(graph: Map<string, Set<string>>): string[][] {
  let counter = 0;
  const index = new Map<string, number>();
  const low = new Map<string, number>();
  const stack: string[] = [];
  const groups: string[][] = [];
  const visit = (node: string): void => {
    index.set(node, counter);
    low.set(node, counter++);
    stack.push(node);
    for (const next of graph.get(node) ?? []) {
      if (!index.has(next)) {
        visit(next);
        low.set(node, Math.min(low.get(node) as number, low.get(next) as number));
      } else if (stack.includes(next)) {
        low.set(node, Math.min(low.get(node) as number, index.get(next) as number));
      }
    }
    if (low.get(node) === index.get(node)) {
      const group: string[] = [];
      let member: string;
      do {
        member = stack.pop() as string;
        group.push(member);
      } while (member !== node);
      if (group.length > 1) {
        groups.push(group.sort());
      }
    }
  };
  for (const node of graph.keys()) {
    if (!index.has(node)) {
      visit(node);
    }
  }
  return groups;
}

describe('architecture of src/', () => {
  test('every folder and top-level file of src/ is on a layer', () => {
    const units = [...new Set(files.map(unitOf))];
    expect(units.filter((unit) => !LAYER.has(unit))).toEqual([]);
  });

  test('no folder-level import cycle', () => {
    const graph = new Map<string, Set<string>>();
    for (const { from, to } of edges) {
      graph.set(from, (graph.get(from) ?? new Set()).add(to));
    }
    expect(cycles(graph)).toEqual([]);
  });

  test('no import from a higher layer', () => {
    const upward = edges.filter((e) => (LAYER.get(e.to) ?? -1) < (LAYER.get(e.from) ?? -1)).map((e) => `${e.file} imports ${e.spec} (${e.to} is above ${e.from})`);
    expect(upward).toEqual([]);
  });

  test(`no file over ${HARD_LIMIT} lines (soft limit ${SOFT_LIMIT})`, () => {
    const sizes = files.map((file) => ({ file: relative(SRC, file), lines: readFileSync(file, 'utf8').split('\n').length - 1 }));
    const soft = sizes.filter((s) => s.lines > SOFT_LIMIT);
    if (soft.length > 0) {
      console.info(`Over the soft limit of ${SOFT_LIMIT} lines: ${soft.map((s) => `${s.file} (${s.lines})`).join(', ')}`);
    }
    expect(sizes.filter((s) => s.lines > HARD_LIMIT)).toEqual([]);
  });

  test('the checks see the imports (a known downward edge is found)', () => {
    expect(edges).toEqual(expect.arrayContaining([expect.objectContaining({ from: 'fhir', to: 'db' }), expect.objectContaining({ from: 'app', to: 'http' })]));
  });
});
