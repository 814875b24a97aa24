/** Messages between the SEAL worker pool (seal-worker-pool.ts) and its threads (seal-worker.ts). */
import type { AggregateRequest, AggregateResult } from './aggregator.js';
import type { ColumnLayout } from './column-codec.js';
import type { HeErrorCode } from './encrypted.errors.js';
import type { HeContext, HeScheme } from './he-params.js';
import type { PublicKeyBundle } from './keys.js';

/** What the gateway needs of a parameter set without holding SEAL on its own thread. */
export type HeContextInfo = Pick<HeContext, 'spec' | 'paramsId' | 'slotCount' | 'maxAbsResult'>;

export type SealTask =
  | { type: 'info'; scheme: HeScheme }
  | { type: 'checkBundle'; bundle: PublicKeyBundle }
  | {
      type: 'aggregate';
      bundle: PublicKeyBundle;
      layout: ColumnLayout;
      ciphertexts: Uint8Array[];
      request: AggregateRequest;
    };

export type SealTaskResult =
  { type: 'info'; info: HeContextInfo } | { type: 'checkBundle' } | { type: 'aggregate'; result: AggregateResult };

export type WorkerReply =
  | { id: number; ok: true; result: SealTaskResult }
  | { id: number; ok: false; he: { code: HeErrorCode; detail: string } }
  | { id: number; ok: false; message: string };
