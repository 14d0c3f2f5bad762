/** Injection token of the validated, frozen {@link QueueConfig}. Internal. */
export const QUEUE_CONFIG = Symbol('QUEUE_CONFIG');
