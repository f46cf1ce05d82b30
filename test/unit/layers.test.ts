import { existsSync, readdirSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import ts from 'typescript';
import { describe, expect, test } from 'vitest';

// The layering rule of src/, checked on the import statements themselves: dependencies point
// inward (core ← db/auth/http/graphql ← features ← composition root), and nothing imports in a
// circle. Only runtime imports count: `import type` (and imports whose every name is a type) are
// erased when compiled, so they cannot load a module or close a cycle.

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');

/** Where the process is assembled: it may import everything, and nothing below imports it. */
const COMPOSITION_ROOT = [
  'src/app.ts',
  'src/services.ts',
  'src/built-in-jobs.ts',
  'src/main.ts',
  'src/cli/',
  'src/mcp/',
];

/**
 * The GraphQL files that load the features: schema.ts imports each feature's graphql.ts (the
 * schema is their sum), and the others load schema.ts. Every other GraphQL file is plumbing the
 * features build on. A test holds the list to files that do load a feature.
 */
const GRAPHQL_COMPOSITION = [
  'src/graphql/schema.ts',
  'src/graphql/printed-schema.ts', // prints the schema (schema.graphql)
  'src/graphql/print-schema.ts', // the command that writes it
  'src/graphql/yoga.ts', // serves the schema
  'src/graphql/route.ts', // mounts the yoga server on Fastify
  'src/graphql/websocket.ts', // serves it over websockets
  'src/graphql/sse.ts', // and over server-sent events
];

/** Layers below the features: they must not know the features or the composition root. */
const INNER = ['src/db/', 'src/auth/', 'src/http/', 'src/config.ts', 'src/graphql/'];

type Import = { from: string; to: string; line: number };

const within = (file: string, prefixes: readonly string[]) =>
  prefixes.some((prefix) => (prefix.endsWith('/') ? file.startsWith(prefix) : file === prefix));
const isCompositionRoot = (file: string) => within(file, COMPOSITION_ROOT);
const isFeature = (file: string) => file.startsWith('src/features/');
/** A feature's folder name; src/features/resources.ts counts as a feature of its own. */
const featureOf = (file: string) => file.slice('src/features/'.length).split('/')[0]!.replace(/\.ts$/, '');
const where = (edge: Import) => `${edge.from}:${edge.line} imports ${edge.to}`;

function sourceFiles(dir: string): string[] {
  return readdirSync(path.join(ROOT, dir), { withFileTypes: true }).flatMap((entry) => {
    const file = `${dir}/${entry.name}`;
    if (entry.isDirectory()) return file === 'src/generated' ? [] : sourceFiles(file);
    return entry.name.endsWith('.ts') && !entry.name.endsWith('.d.ts') ? [file] : [];
  });
}

/** The relative module specifiers a file loads at runtime, with their line. */
function runtimeSpecifiers(file: string): { specifier: string; line: number }[] {
  const source = ts.createSourceFile(file, readFileSync(path.join(ROOT, file), 'utf8'), ts.ScriptTarget.Latest, true);
  const found: { specifier: string; node: ts.Node }[] = [];
  const visit = (node: ts.Node) => {
    if (ts.isImportDeclaration(node) && !typeOnlyImport(node.importClause)) {
      found.push({ specifier: (node.moduleSpecifier as ts.StringLiteral).text, node });
    } else if (ts.isExportDeclaration(node) && node.moduleSpecifier && !typeOnlyExport(node)) {
      found.push({ specifier: (node.moduleSpecifier as ts.StringLiteral).text, node });
    } else if (
      ts.isCallExpression(node) &&
      node.expression.kind === ts.SyntaxKind.ImportKeyword &&
      node.arguments[0] &&
      ts.isStringLiteralLike(node.arguments[0])
    ) {
      found.push({ specifier: node.arguments[0].text, node });
    }
    ts.forEachChild(node, visit);
  };
  visit(source);
  return found
    .filter(({ specifier }) => specifier.startsWith('.'))
    .map(({ specifier, node }) => ({
      specifier,
      line: source.getLineAndCharacterOfPosition(node.getStart(source)).line + 1,
    }));
}

function typeOnlyImport(clause: ts.ImportClause | undefined): boolean {
  if (!clause) return false; // import './x.js': loaded for its effects
  if (clause.isTypeOnly) return true;
  if (clause.name) return false;
  const bindings = clause.namedBindings;
  return (
    !!bindings &&
    ts.isNamedImports(bindings) &&
    bindings.elements.length > 0 &&
    bindings.elements.every((e) => e.isTypeOnly)
  );
}

function typeOnlyExport(node: ts.ExportDeclaration): boolean {
  if (node.isTypeOnly) return true;
  const clause = node.exportClause;
  return (
    !!clause && ts.isNamedExports(clause) && clause.elements.length > 0 && clause.elements.every((e) => e.isTypeOnly)
  );
}

/** The project file a relative specifier names ('./x.js' is ./x.ts in the sources). */
function resolve(from: string, specifier: string): string {
  const target = path.posix.normalize(path.posix.join(path.posix.dirname(from), specifier));
  const candidates = [target.replace(/\.js$/, '.ts'), target, `${target}.ts`, `${target}/index.ts`];
  return candidates.find((candidate) => existsSync(path.join(ROOT, candidate))) ?? target;
}

const files = sourceFiles('src');
const imports: Import[] = files.flatMap((from) =>
  runtimeSpecifiers(from).map(({ specifier, line }) => ({ from, to: resolve(from, specifier), line })),
);

/** The strongly connected components of the graph with a cycle in them (Tarjan), each as its nodes. */
function cyclicComponents(edges: Import[], node: (file: string) => string): Set<string>[] {
  const out = new Map<string, string[]>();
  for (const edge of edges) out.set(node(edge.from), [...(out.get(node(edge.from)) ?? []), node(edge.to)]);
  const index = new Map<string, number>();
  const low = new Map<string, number>();
  const stack: string[] = [];
  const components: Set<string>[] = [];
  const connect = (v: string) => {
    index.set(v, index.size);
    low.set(v, index.get(v)!);
    stack.push(v);
    for (const w of out.get(v) ?? []) {
      if (!index.has(w)) {
        connect(w);
        low.set(v, Math.min(low.get(v)!, low.get(w)!));
      } else if (stack.includes(w)) low.set(v, Math.min(low.get(v)!, index.get(w)!));
    }
    if (low.get(v) !== index.get(v)) return;
    const component = new Set(stack.splice(stack.indexOf(v)));
    if (component.size > 1 || out.get(v)?.includes(v)) components.push(component);
  };
  for (const v of out.keys()) if (!index.has(v)) connect(v);
  return components;
}

/**
 * The cycles of the graph, as the imports that make each: for every dependency between two
 * nodes of a cyclic component, the shortest way back. One line per cycle, each step with its imports.
 */
function cycles(edges: Import[], node: (file: string) => string): string[] {
  const found = new Map<string, string>();
  for (const component of cyclicComponents(edges, node)) {
    const inside = edges.filter((edge) => component.has(node(edge.from)) && component.has(node(edge.to)));
    const importsOf = (from: string, to: string) =>
      inside.filter((edge) => node(edge.from) === from && node(edge.to) === to).map(where);
    for (const edge of inside) {
      const cycle = [node(edge.from), ...pathBetween(node(edge.to), node(edge.from), inside, node)];
      const first = cycle.indexOf([...cycle].sort()[0]!);
      const nodes = [...cycle.slice(first), ...cycle.slice(0, first)];
      const steps = nodes.map((from, i) => importsOf(from, nodes[(i + 1) % nodes.length]!).join(', '));
      found.set(nodes.join(' → '), `${[...nodes, nodes[0]].join(' → ')}: ${steps.join('; ')}`);
    }
  }
  return [...found.values()].sort();
}

/** The nodes of a shortest path from `from` to `to` (breadth first), without `to`; empty when they are one node. */
function pathBetween(from: string, to: string, edges: Import[], node: (file: string) => string): string[] {
  const previous = new Map<string, string>([[from, from]]);
  for (const queue = [from]; queue.length && !previous.has(to); ) {
    const at = queue.shift()!;
    for (const edge of edges.filter((e) => node(e.from) === at && !previous.has(node(e.to)))) {
      previous.set(node(edge.to), at);
      queue.push(node(edge.to));
    }
  }
  const path: string[] = [];
  for (let at = to; at !== from; at = previous.get(at)!) path.unshift(previous.get(at)!);
  return path;
}

/**
 * How loading `from` loads a file `forbidden` accepts, directly or through other files: the chain
 * of imports (breadth first, so the shortest), or null when it does not.
 */
function loadPath(from: string, forbidden: (file: string) => boolean): string | null {
  const via = new Map<string, Import>();
  for (const queue = [from]; queue.length; ) {
    for (const edge of imports.filter((e) => e.from === queue[0])) {
      if (via.has(edge.to) || edge.to === from) continue;
      via.set(edge.to, edge);
      if (forbidden(edge.to)) {
        const chain: Import[] = [];
        for (let at: Import | undefined = edge; at; at = via.get(at.from)) chain.unshift(at);
        return chain.map(where).join(' → ');
      }
      queue.push(edge.to);
    }
    queue.shift();
  }
  return null;
}

describe('layers of src/', () => {
  test('finds the imports (the scan itself works)', () => {
    expect(files).toContain('src/app.ts');
    expect(imports.some((edge) => edge.from === 'src/app.ts' && edge.to === 'src/services.ts')).toBe(true);
  });

  test('the cycle check finds a cycle, and only its imports', () => {
    const edge = (from: string, to: string) => ({ from, to, line: 1 });
    const graph = [edge('a', 'b'), edge('b', 'c'), edge('c', 'a'), edge('c', 'd'), edge('d', 'd')];
    expect(cycles(graph, (file) => file)).toEqual([
      'a → b → c → a: a:1 imports b; b:1 imports c; c:1 imports a',
      'd → d: d:1 imports d',
    ]);
  });

  test('no import cycle between files', () => {
    expect(cycles(imports, (file) => file)).toEqual([]);
  });

  test('src/core imports only src/core', () => {
    const broken = imports.filter((edge) => edge.from.startsWith('src/core/') && !edge.to.startsWith('src/core/'));
    expect(broken.map(where)).toEqual([]);
  });

  test('db, auth, http, config and GraphQL plumbing load neither features nor the composition root', () => {
    const plumbing = files.filter((file) => within(file, INNER) && !within(file, GRAPHQL_COMPOSITION));
    const broken = plumbing.map((file) => loadPath(file, (to) => isFeature(to) || isCompositionRoot(to)));
    expect(broken.filter((path) => path !== null)).toEqual([]);
  });

  test('each GraphQL composition file does load a feature (else it is plumbing: take it off the list)', () => {
    const plumbing = GRAPHQL_COMPOSITION.filter((file) => loadPath(file, isFeature) === null);
    expect(plumbing).toEqual([]);
  });

  test('features do not load the composition root', () => {
    const broken = files.filter(isFeature).map((file) => loadPath(file, isCompositionRoot));
    expect(broken.filter((path) => path !== null)).toEqual([]);
  });

  test('no cycle between feature folders', () => {
    const between = imports.filter(
      (edge) => isFeature(edge.from) && isFeature(edge.to) && featureOf(edge.from) !== featureOf(edge.to),
    );
    expect(cycles(between, featureOf)).toEqual([]);
  });
});
