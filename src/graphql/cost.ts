import {
  getNamedType,
  getOperationAST,
  isCompositeType,
  isInterfaceType,
  isObjectType,
  Kind,
  valueFromASTUntyped,
  type DocumentNode,
  type FieldNode,
  type FragmentDefinitionNode,
  type OperationDefinitionNode,
  type GraphQLCompositeType,
  type GraphQLField,
  type GraphQLSchema,
  type SelectionNode,
  type SelectionSetNode,
} from 'graphql';
import { InvalidRequestError } from '../core/errors.js';
import { PAGE_SIZE, pageSize } from '../core/paging.js';

type Variables = Record<string, unknown> | null | undefined;
type Scope = {
  schema: GraphQLSchema;
  fragments: Map<string, FragmentDefinitionNode>;
  variables: Record<string, unknown>;
};
/** The nodes of one response key (merged like graphql-js merges them), with the type they are fields of. */
type FieldGroup = { key: string; parentType: GraphQLCompositeType; nodes: FieldNode[] };

/**
 * The static cost of an operation, before it runs: how many nodes its connections can return,
 * GitHub-style. A connection (a field that takes `first`) costs its page size (`first` or `last`,
 * else the default 50) times the page sizes of the connections it is nested in; other fields cost
 * nothing of their own (single objects and the short lists an object carries, like an invoice's
 * lines, load with it). Every operation costs at least 1. Page sizes outside the shared rule
 * (src/core/paging.ts) are refused here, as invalid_request, before anything executes.
 *
 * The document must have passed validation (its fields exist, its fragments do not cycle);
 * `@skip` and `@include` are honoured, introspection costs nothing.
 */
export function operationCost(
  schema: GraphQLSchema,
  document: DocumentNode,
  operationName?: string | null,
  variables?: Variables,
): number {
  const operation = getOperationAST(document, operationName);
  if (!operation) throw new InvalidRequestError('The document has no operation of that name.');
  if (operation.variableDefinitions?.length) return computedCost(schema, document, operation, variables);
  // Without variables the cost is the document's own: worked out once per parsed document (they are cached and reused).
  const known = fixedCosts.get(operation);
  if (known !== undefined) return known;
  const cost = computedCost(schema, document, operation, variables);
  fixedCosts.set(operation, cost);
  return cost;
}

/** Costs of operations that have no variables, by operation. */
const fixedCosts = new WeakMap<OperationDefinitionNode, number>();

function computedCost(
  schema: GraphQLSchema,
  document: DocumentNode,
  operation: OperationDefinitionNode,
  variables: Variables,
): number {
  const root = schema.getRootType(operation.operation);
  if (!root) return 1;
  const defaults = Object.fromEntries(
    (operation.variableDefinitions ?? []).flatMap((definition) =>
      definition.defaultValue ? [[definition.variable.name.value, valueFromASTUntyped(definition.defaultValue)]] : [],
    ),
  );
  const fragments = new Map(
    document.definitions.flatMap((definition) =>
      definition.kind === Kind.FRAGMENT_DEFINITION ? [[definition.name.value, definition] as const] : [],
    ),
  );
  const scope: Scope = { schema, fragments, variables: { ...defaults, ...variables } };
  return Math.max(1, selectionCost(scope, root, [operation.selectionSet], 1, ''));
}

function selectionCost(
  scope: Scope,
  type: GraphQLCompositeType,
  selectionSets: SelectionSetNode[],
  multiplier: number,
  path: string,
): number {
  let cost = 0;
  for (const { key, parentType, nodes } of collectFields(scope, type, selectionSets)) {
    const name = nodes[0]!.name.value;
    const field = name.startsWith('__') ? undefined : fieldOf(parentType, name);
    if (!field) continue;
    const at = path ? `${path}.${key}` : key;
    let size = 1;
    if (field.args.some((arg) => arg.name === 'first')) {
      const sizes = (['first', 'last'] as const).flatMap((argument) => {
        const value = argumentValue(scope, nodes[0]!, argument);
        return value == null ? [] : [pageSize(value, `"${argument}" of ${at}`)];
      });
      size = sizes.length ? Math.max(...sizes) : PAGE_SIZE.default;
      cost += multiplier * size;
    }
    const fieldType = getNamedType(field.type);
    const subselections = nodes.flatMap((node) => (node.selectionSet ? [node.selectionSet] : []));
    if (subselections.length && isCompositeType(fieldType))
      cost += selectionCost(scope, fieldType, subselections, multiplier * size, at);
  }
  return cost;
}

/**
 * The fields of selection sets by response key (and the type they belong to, as a union's members
 * may use one key for different fields), through fragments, each at most once per level as
 * graphql-js collects them, leaving out what @skip/@include leave out.
 */
function collectFields(scope: Scope, type: GraphQLCompositeType, selectionSets: SelectionSetNode[]): FieldGroup[] {
  const groups = new Map<string, FieldGroup>();
  const visitedFragments = new Set<string>();
  const visit = (parentType: GraphQLCompositeType, selectionSet: SelectionSetNode) => {
    for (const selection of selectionSet.selections) {
      if (!included(scope, selection)) continue;
      if (selection.kind === Kind.FIELD) {
        const key = selection.alias?.value ?? selection.name.value;
        const group = groups.get(`${parentType.name}.${key}`);
        if (group) group.nodes.push(selection);
        else groups.set(`${parentType.name}.${key}`, { key, parentType, nodes: [selection] });
      } else if (selection.kind === Kind.INLINE_FRAGMENT) {
        visit(conditionType(scope, selection.typeCondition?.name.value) ?? parentType, selection.selectionSet);
      } else {
        const name = selection.name.value;
        const fragment = scope.fragments.get(name);
        if (!fragment || visitedFragments.has(name)) continue;
        visitedFragments.add(name);
        visit(conditionType(scope, fragment.typeCondition.name.value) ?? parentType, fragment.selectionSet);
      }
    }
  };
  for (const selectionSet of selectionSets) visit(type, selectionSet);
  return [...groups.values()];
}

function included(scope: Scope, selection: SelectionNode): boolean {
  for (const directive of selection.directives ?? []) {
    const name = directive.name.value;
    if (name !== 'skip' && name !== 'include') continue;
    const condition = directive.arguments?.find((arg) => arg.name.value === 'if');
    const value = condition ? valueFromASTUntyped(condition.value, scope.variables) : undefined;
    if ((name === 'skip' && value === true) || (name === 'include' && value === false)) return false;
  }
  return true;
}

function argumentValue(scope: Scope, node: FieldNode, name: string): unknown {
  const argument = node.arguments?.find((arg) => arg.name.value === name);
  return argument ? valueFromASTUntyped(argument.value, scope.variables) : undefined;
}

function fieldOf(type: GraphQLCompositeType, name: string): GraphQLField<unknown, unknown> | undefined {
  return isObjectType(type) || isInterfaceType(type) ? type.getFields()[name] : undefined;
}

function conditionType(scope: Scope, name: string | undefined): GraphQLCompositeType | undefined {
  const type = name ? scope.schema.getType(name) : undefined;
  return isCompositeType(type) ? type : undefined;
}
