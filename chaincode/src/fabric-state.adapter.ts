/** The WorldState port over fabric-contract-api's transaction context. */
import { X509Certificate } from 'node:crypto';
import type { Context } from 'fabric-contract-api';
import type { Caller, HistoryEntry, StateEntry, WorldState } from './world-state.port';

const text = (bytes: Uint8Array): string => Buffer.from(bytes).toString('utf8');

/** The caller's MSP id and whether its certificate carries the `admin` node OU. */
export function callerOf(ctx: Context): Caller {
  const mspId = ctx.clientIdentity.getMSPID();
  const cert = new X509Certificate(Buffer.from(ctx.clientIdentity.getIDBytes()));
  const parts = cert.subject.split('\n');
  return { mspId, isAdmin: parts.includes('OU=admin'), subject: parts.join(',') };
}

export class FabricWorldState implements WorldState {
  readonly txId: string;
  readonly txTime: string;
  readonly caller: Caller;

  constructor(private readonly ctx: Context) {
    this.txId = ctx.stub.getTxID();
    this.txTime = ctx.stub.getDateTimestamp().toISOString();
    this.caller = callerOf(ctx);
  }

  async get(key: string): Promise<string | null> {
    const bytes = await this.ctx.stub.getState(key);
    return bytes.length > 0 ? text(bytes) : null;
  }

  async put(key: string, value: string): Promise<void> {
    await this.ctx.stub.putState(key, Buffer.from(value, 'utf8'));
  }

  async range(start: string, end: string, limit: number): Promise<StateEntry[]> {
    const out: StateEntry[] = [];
    const it = await this.ctx.stub.getStateByRange(start, end);
    try {
      for (let r = await it.next(); !r.done && out.length < limit; r = await it.next()) {
        out.push({ key: r.value.key, value: text(r.value.value) });
      }
    } finally {
      await it.close();
    }
    return out;
  }

  async history(key: string): Promise<HistoryEntry[]> {
    const out: HistoryEntry[] = [];
    const it = await this.ctx.stub.getHistoryForKey(key);
    try {
      for (let r = await it.next(); !r.done; r = await it.next()) {
        const m = r.value;
        const seconds = Number(m.timestamp.seconds);
        out.push({
          txId: m.txId,
          at: new Date(seconds * 1000 + Math.floor(m.timestamp.nanos / 1e6)).toISOString(),
          value: m.isDelete ? null : text(m.value),
        });
      }
    } finally {
      await it.close();
    }
    // Fabric returns the newest version first.
    return out.reverse();
  }

  emit(name: string, payload: string): void {
    this.ctx.stub.setEvent(name, Buffer.from(payload, 'utf8'));
  }
}
