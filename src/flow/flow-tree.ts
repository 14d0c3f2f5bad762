import { serializeBody } from '../body/serialize-body.js';
import {
  assertKey,
  assertOptionsObject,
  assertQueueName,
  assertWholeNumber,
} from '../config/argument-rules.js';
import {
  LIMITS,
  MAX_ENQUEUE_BATCH_BYTES,
  MAX_FLOW_DEPTH,
  MAX_FLOW_NODES,
} from '../config/limits.js';
import { QueueValidationError } from '../errors/queue-validation.error.js';
import {
  type ChildFailure,
  type FlowNode,
  type FlowNodeOptions,
  type FlowTree,
} from '../interfaces/flow.interface.js';

/** What a parent does when `onChildFailure` is not given. */
export const DEFAULT_CHILD_FAILURE: ChildFailure = 'fail';

const CHILD_FAILURES: ReadonlySet<string> = new Set<ChildFailure>(['fail', 'cancel', 'ignore']);

/** The options of `enqueue` that a flow refuses, and why. */
const UNIQUE_OPTIONS = ['uniqueKey', 'uniqueWhile', 'uniqueWindowSeconds'] as const;

/**
 * A flow checked and laid out as the insert takes it: one entry per message in each column, in
 * tree order (a parent before its children, each subtree after the one before it), so every
 * parent precedes its children.
 */
export interface FlatFlow {
  readonly ids: string[];
  readonly queues: string[];
  /** Each body's JSON text. */
  readonly bodies: string[];
  /** The parent's id; `null` for the root. */
  readonly parentIds: (string | null)[];
  /** Whether it has children: stored `waiting_children` instead of `ready`. */
  readonly waiting: boolean[];
  readonly delays: number[];
  readonly priorities: number[];
  readonly groupKeys: (string | null)[];
  /** The parent's rule; `null` for a message without children. */
  readonly childFailures: (ChildFailure | null)[];
  /** The ids in the shape of the nodes. */
  readonly tree: FlowTree;
}

/** Where a field of a node is: `body` for the root, `children[3].children[0].body` deeper. */
function fieldOf(path: string, field: string): string {
  return path === '' ? field : `${path}.${field}`;
}

function describeType(value: unknown): string {
  return value === null ? 'null' : Array.isArray(value) ? 'an array' : typeof value;
}

/**
 * Checks a whole flow and lays it out for its insert, before anything is sent: every queue name,
 * body (the body rules and `maxBodyBytes`, and 256 MiB of JSON in all), option and child list,
 * at most {@link MAX_FLOW_NODES} messages and {@link MAX_FLOW_DEPTH} levels. A broken rule throws
 * a `QueueValidationError` whose field is the path of what broke it, such as
 * `children[3].children[0].body`.
 *
 * @param newIds draws the messages' ids, given how many (see `flowIds`).
 */
export function flattenFlow(
  root: FlowNode,
  maxBodyBytes: number,
  newIds: (count: number) => string[],
): FlatFlow {
  if (root === null || typeof root !== 'object' || Array.isArray(root)) {
    throw new QueueValidationError(
      'flow',
      `must be an object with queue, body and optional options and children (got ${describeType(root)})`,
    );
  }
  const nodes: FlowNode[] = [];
  const queues: string[] = [];
  const bodies: string[] = [];
  const parents: number[] = [];
  const waiting: boolean[] = [];
  const delays: number[] = [];
  const priorities: number[] = [];
  const groupKeys: (string | null)[] = [];
  const childFailures: (ChildFailure | null)[] = [];
  let jsonLength = 0;
  // Depth first, children in order: the stack holds them reversed. `count` includes every node
  // seen so far, pushed or visited, so an oversized flow is refused before its bodies are
  // serialised.
  const stack: { node: FlowNode; path: string; parent: number; depth: number }[] = [
    { node: root, path: '', parent: -1, depth: 1 },
  ];
  let count = 1;
  while (stack.length > 0) {
    const { node, path, parent, depth } = stack.pop()!;
    if (node === null || typeof node !== 'object' || Array.isArray(node)) {
      throw new QueueValidationError(
        path,
        `must be an object with queue, body and optional options and children (got ${describeType(node)})`,
      );
    }
    const index = nodes.length;
    nodes.push(node);
    parents.push(parent);
    queues.push(assertQueueName(node.queue, fieldOf(path, 'queue')));
    const children = childrenOf(node, path);
    const options = optionsOf(node.options, path, children.length > 0);
    delays.push(options.delaySeconds);
    priorities.push(options.priority);
    groupKeys.push(options.groupKey);
    childFailures.push(options.childFailure);
    waiting.push(children.length > 0);
    const json = serializeBody(node.body, fieldOf(path, 'body'), maxBodyBytes);
    bodies.push(json);
    jsonLength += json.length + 1;
    if (children.length === 0) continue;
    if (depth === MAX_FLOW_DEPTH) {
      throw new QueueValidationError(
        fieldOf(path, 'children'),
        `must not nest deeper than ${MAX_FLOW_DEPTH} levels`,
      );
    }
    count += children.length;
    if (count > MAX_FLOW_NODES) {
      throw new QueueValidationError(
        fieldOf(path, 'children'),
        `brings the flow past ${MAX_FLOW_NODES} messages; split it into several flows`,
      );
    }
    for (let child = children.length - 1; child >= 0; child--) {
      stack.push({
        node: children[child]!,
        path: fieldOf(path, `children[${child}]`),
        parent: index,
        depth: depth + 1,
      });
    }
  }
  assertFlowBytes(bodies, jsonLength);
  const ids = newIds(nodes.length);
  const trees: FlowTree[] = ids.map((id, index) => ({ id, queue: queues[index]!, children: [] }));
  for (let index = 1; index < trees.length; index++) {
    trees[parents[index]!]!.children.push(trees[index]!);
  }
  return {
    ids,
    queues,
    bodies,
    parentIds: parents.map((parent) => (parent < 0 ? null : ids[parent]!)),
    waiting,
    delays,
    priorities,
    groupKeys,
    childFailures,
    tree: trees[0]!,
  };
}

function childrenOf(node: FlowNode, path: string): readonly FlowNode[] {
  const { children } = node;
  if (children === undefined) return [];
  if (!Array.isArray(children)) {
    throw new QueueValidationError(
      fieldOf(path, 'children'),
      `must be an array of nodes (got ${describeType(children)})`,
    );
  }
  return children as readonly FlowNode[];
}

interface NodeOptions {
  readonly delaySeconds: number;
  readonly priority: number;
  readonly groupKey: string | null;
  readonly childFailure: ChildFailure | null;
}

function optionsOf(
  given: FlowNodeOptions | undefined,
  path: string,
  hasChildren: boolean,
): NodeOptions {
  const at = (field: string) => fieldOf(path, `options.${field}`);
  const options = assertOptionsObject(given, fieldOf(path, 'options'));
  for (const name of UNIQUE_OPTIONS) {
    if ((options as Record<string, unknown>)[name] !== undefined) {
      throw new QueueValidationError(
        at(name),
        'is not supported in a flow: a held key would make the node another message; enqueue that message on its own',
      );
    }
  }
  const { delaySeconds = 0, priority = 0, groupKey, onChildFailure } = options;
  assertWholeNumber(delaySeconds, at('delaySeconds'), LIMITS.delaySeconds);
  if (delaySeconds !== 0 && hasChildren) {
    throw new QueueValidationError(
      at('delaySeconds'),
      'must not be given to a node with children: it becomes due when its last child ends',
    );
  }
  assertWholeNumber(priority, at('priority'), LIMITS.priority);
  if (groupKey !== undefined) assertKey(groupKey, at('groupKey'));
  if (onChildFailure !== undefined && !CHILD_FAILURES.has(onChildFailure)) {
    throw new QueueValidationError(at('onChildFailure'), "must be 'fail', 'cancel' or 'ignore'");
  }
  return {
    delaySeconds,
    priority,
    groupKey: groupKey ?? null,
    // Stored on parents only, and always: the table's triggers read NULL as `ignore`.
    childFailure: hasChildren ? (onChildFailure ?? DEFAULT_CHILD_FAILURE) : null,
  };
}

/** As `enqueueMany`'s bound: the bodies travel as one JSON array parameter. */
function assertFlowBytes(bodies: readonly string[], length: number): void {
  if (length <= MAX_ENQUEUE_BATCH_BYTES / 3) return;
  let bytes = 0;
  for (const body of bodies) bytes += Buffer.byteLength(body, 'utf8') + 1;
  if (bytes > MAX_ENQUEUE_BATCH_BYTES) {
    throw new QueueValidationError(
      'flow',
      `must be at most ${MAX_ENQUEUE_BATCH_BYTES} bytes of JSON in all (got ${bytes}); split it into several flows`,
    );
  }
}
