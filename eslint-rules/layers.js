// The architecture's import rules as a lint rule (ARCHITECTURE.md "Parts"): which folder of ours
// may import which. Plain JS, loaded by eslint.config.js; tested by test/unit/lint-rules.test.ts.
import path from 'node:path';

const REPO = path.dirname(path.dirname(new URL(import.meta.url).pathname));

/**
 * Each layer, most specific folder first, and the layers it may import. Anything not listed
 * (external packages, node: builtins) is always allowed.
 */
export const LAYERS = [
  // To the layers outside it, aggregator/kube is part of the aggregator (seen through its facade).
  { layer: 'aggregator/kube', within: 'aggregator', may: ['aggregator/kube', 'shared', 'sys'] },
  { layer: 'shared', may: ['shared'] },
  { layer: 'sys', may: ['sys'] },
  { layer: 'agent', may: ['agent', 'shared', 'sys'] },
  { layer: 'aggregator', may: ['aggregator', 'shared', 'sys'] },
  { layer: 'client', may: ['client', 'shared', 'sys'] },
  { layer: 'lab', may: ['lab', 'agent', 'aggregator', 'client', 'shared', 'sys'] },
  { layer: 'cli', may: ['cli', 'lab', 'agent', 'aggregator', 'client', 'shared', 'sys'] },
  { layer: 'dashboards', may: ['dashboards', 'aggregator', 'shared'] },
  { layer: 'test', may: ['test', 'cli', 'lab', 'agent', 'aggregator', 'client', 'shared', 'sys', 'dashboards'] },
];

/** The one file of aggregator/kube the rest of the aggregator may import: the integration's facade. */
export const KUBE_FACADE = 'aggregator/kube/integration.ts';

function layerOf(relative) {
  return LAYERS.find((l) => relative === l.layer || relative.startsWith(`${l.layer}/`));
}

/** Repository-relative path of `source` imported from `filename`, with .js taken as its .ts. */
function target(filename, source) {
  const abs = path.resolve(path.dirname(filename), source).replace(/\.js$/, '.ts');
  return path.relative(REPO, abs);
}

/** Why `fromFile` may not import `toFile` (both repository-relative), or undefined when it may. */
export function forbidden(fromFile, toFile) {
  const from = layerOf(fromFile);
  const to = layerOf(toFile);
  if (!from || !to || from === to || from.layer === to.within) return undefined;
  const layer = to.within ?? to.layer;
  if (!from.may.includes(layer)) {
    return `${from.layer}/ may not import ${layer}/ (it may import ${from.may.join(', ')}): ${toFile}`;
  }
  return undefined;
}

/** The same check with the facade rule: outside aggregator/kube, only its integration file. */
function violation(fromFile, toFile) {
  const inKube = (f) => f.startsWith('aggregator/kube/');
  if (!inKube(fromFile) && inKube(toFile) && toFile !== KUBE_FACADE && fromFile.startsWith('aggregator/')) {
    return `the aggregator reaches aggregator/kube/ only through ${KUBE_FACADE}: ${toFile}`;
  }
  return forbidden(fromFile, toFile);
}

export const layersRule = {
  meta: {
    type: 'problem',
    docs: { description: 'enforce the import layers of ARCHITECTURE.md' },
    schema: [],
    messages: { layer: '{{why}}' },
  },
  create(context) {
    const fromFile = path.relative(REPO, context.filename);
    const check = (node) => {
      const source = node.source;
      if (!source || source.type !== 'Literal' || typeof source.value !== 'string' || !source.value.startsWith('.')) return;
      const why = violation(fromFile, target(context.filename, source.value));
      if (why) context.report({ node: source, messageId: 'layer', data: { why } });
    };
    return {
      ImportDeclaration: check,
      ExportNamedDeclaration: check,
      ExportAllDeclaration: check,
      ImportExpression: check,
    };
  },
};

export default { rules: { layers: layersRule } };
