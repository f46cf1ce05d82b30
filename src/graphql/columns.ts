import { Kind, type FieldNode, type GraphQLObjectType, type GraphQLResolveInfo, type SelectionSetNode } from 'graphql';

type Omitted = Record<string, true> | undefined;

/**
 * What a query may leave out of a model's rows: `omit` for the columns no selected field of
 * `typeName` (at `path` below the resolved field, such as edges.node) reads. Pothos loads
 * every column of a type in include mode; its select mode would prune them, but wraps each field
 * in a resolver called per row. Here each field says what it reads, as an exposed column or
 * through its `select`; a field that does not say (a resolver of its own) may read anything, so
 * then nothing is left out. Worked out once per parsed document (they are cached and reused).
 */
export function unselectedColumns(
  typeName: string,
  path: string[],
  columns: readonly string[],
): (info: GraphQLResolveInfo) => Omitted {
  const known = new WeakMap<FieldNode, Omitted>();
  return (info) => {
    const node = info.fieldNodes[0]!;
    if (!known.has(node)) known.set(node, omitted(info, typeName, path, columns));
    return known.get(node);
  };
}

function omitted(info: GraphQLResolveInfo, typeName: string, path: string[], columns: readonly string[]): Omitted {
  const fields = (info.schema.getType(typeName) as GraphQLObjectType).getFields();
  const read = new Set<string>(['id']); // the id is every connection's cursor
  for (const node of fieldsAt(info, info.fieldNodes, path)) {
    const name = node.name.value;
    if (name.startsWith('__')) continue;
    const extensions = fields[name]?.extensions as
      | { pothosExposedField?: string; pothosPrismaSelect?: unknown }
      | undefined;
    const select = extensions?.pothosPrismaSelect;
    if (select && typeof select === 'object') Object.keys(select).forEach((column) => read.add(column));
    else if (extensions?.pothosExposedField) read.add(extensions.pothosExposedField);
    else return undefined;
  }
  return Object.fromEntries(columns.filter((column) => !read.has(column)).map((column) => [column, true as const]));
}

/** The fields selected at `path` below `nodes` (by field name, through fragments). */
function fieldsAt(info: GraphQLResolveInfo, nodes: readonly FieldNode[], path: string[]): FieldNode[] {
  const children = nodes.flatMap((node) => (node.selectionSet ? selected(info, node.selectionSet) : []));
  if (!path.length) return children;
  const [next, ...rest] = path;
  return fieldsAt(
    info,
    children.filter((child) => child.name.value === next),
    rest,
  );
}

function selected(info: GraphQLResolveInfo, set: SelectionSetNode): FieldNode[] {
  return set.selections.flatMap((selection) => {
    if (selection.kind === Kind.FIELD) return [selection];
    const fragment = selection.kind === Kind.INLINE_FRAGMENT ? selection : info.fragments[selection.name.value];
    return fragment ? selected(info, fragment.selectionSet) : [];
  });
}
