import { type EnqueueOptions } from './queue-operation-options.interface.js';
import { type MessageState, type QueueErrorRecord } from './queue-message.interface.js';

/**
 * What a child that did not end `done` (a dead letter in place or moved to its dead-letter
 * queue, or cancelled) does to its parent:
 *
 * - `'fail'` (the default): the parent becomes a dead letter (`failed`) at once, its `lastError`
 *   a `ChildFailedError` naming the child; it never runs.
 * - `'cancel'`: the parent becomes `cancelled` at once; it never runs.
 * - `'ignore'`: the child counts as ended; the parent runs once every child has ended, and sees
 *   the failed one with `children()`.
 *
 * The parent's other children run on either way.
 */
export type ChildFailure = 'fail' | 'cancel' | 'ignore';

/**
 * Options of one message of a flow: `priority` and `groupKey` as for `enqueue`, a delay for a
 * node without children, and for a node with children, what a failing child does to it. Unique
 * keys are refused: a held key would give the node another message's id, and the tree would no
 * longer be this flow's. Options of the whole call (a caller's transaction, say) are not a
 * node's, so they are picked here rather than inherited from `enqueue`'s.
 */
export interface FlowNodeOptions extends Pick<EnqueueOptions, 'priority' | 'groupKey'> {
  /**
   * Only on a node without children: a parent becomes due when its last child ends, so it takes
   * no delay of its own.
   */
  readonly delaySeconds?: number;
  /** What a failing child does to this node; default `'fail'`. Ignored on a node without children. */
  readonly onChildFailure?: ChildFailure;
}

/**
 * One message of a flow and the children it waits for. A node with children is stored
 * `waiting_children` and becomes `ready` when its last child ends (see {@link ChildFailure} for
 * a child that fails); a node without children is `ready` at once. Children may be on any
 * queue, and may have children of their own.
 */
export interface FlowNode<T = unknown> {
  readonly queue: string;
  /** Any JSON data, as for `enqueue`. */
  readonly body: T;
  readonly options?: FlowNodeOptions;
  readonly children?: readonly FlowNode[];
}

/** The ids `enqueueFlow` gave a flow, in the shape of the nodes it was given. */
export interface FlowTree {
  readonly id: string;
  readonly queue: string;
  /** In the order of the node's `children` (empty for a node without). */
  readonly children: FlowTree[];
}

/** A child of a flow's parent, as the parent reads it once its children have ended. */
export interface FlowChild<R = unknown> {
  readonly id: string;
  /** Where it is now: its dead-letter queue if it was moved there. */
  readonly queue: string;
  readonly state: MessageState;
  /** What its handler returned, recorded at its ack; `null` when none was recorded. */
  readonly result: R | null;
  readonly lastError: QueueErrorRecord | null;
  /** For a child moved to a dead-letter queue: the queue it failed in. */
  readonly originQueue: string | null;
}
