/** Options of `enqueue` and `enqueueMany`. */
export interface EnqueueOptions {
  /** Seconds before the message becomes due; a whole number, default 0 (due at once). */
  readonly delaySeconds?: number;
}

/** Options of `leaseNext` and `leaseMany`. */
export interface LeaseOptions {
  /** How long the lease lasts before the reaper may hand the message to someone else; default 60. */
  readonly leaseSeconds?: number;
}

/** Options of `nack`. */
export interface NackOptions {
  /** Seconds before the message is due again; default 0. */
  readonly requeueDelaySeconds?: number;
}

/** Options of `reapExpiredLeases`. */
export interface ReapOptions {
  /** Most leases returned to `ready` by this call; default 10,000. */
  readonly limit?: number;
}
