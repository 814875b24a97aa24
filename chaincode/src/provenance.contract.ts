/**
 * The `provenance` chaincode's transactions: thin wrappers that hand the context's world state to
 * ProvenanceLedger and return sorted JSON (reads of something absent return an empty string only where the
 * absence is a normal answer: LogKey and LatestTreeHead).
 */
import { Context, Contract, Info, Returns, Transaction } from 'fabric-contract-api';
import { FabricWorldState } from './fabric-state.adapter';
import { stableJson } from './json';
import { ProvenanceLedger } from './provenance-ledger';

/** The city data authority's MSP id: it owns the log key and runs the gateway. */
export const AUTHORITY_MSP = 'AuthorityMSP';

@Info({ title: 'CityGate provenance', description: 'Witnessed tree-head anchors, grant steps and releases' })
export class ProvenanceContract extends Contract {
  constructor() {
    super('provenance');
  }

  private ledger(ctx: Context): ProvenanceLedger {
    return new ProvenanceLedger(new FabricWorldState(ctx), AUTHORITY_MSP);
  }

  @Transaction()
  @Returns('string')
  async RegisterLogKey(ctx: Context, publicKeyPem: string): Promise<string> {
    return stableJson(await this.ledger(ctx).registerLogKey(publicKeyPem));
  }

  @Transaction(false)
  @Returns('string')
  async LogKey(ctx: Context): Promise<string> {
    const key = await this.ledger(ctx).logKey();
    return key ? stableJson(key) : '';
  }

  @Transaction()
  @Returns('string')
  async AnchorTreeHead(ctx: Context, treeHead: string, consistencyProof: string): Promise<string> {
    return stableJson(await this.ledger(ctx).anchorTreeHead(treeHead, consistencyProof));
  }

  @Transaction(false)
  @Returns('string')
  async LatestTreeHead(ctx: Context): Promise<string> {
    const head = await this.ledger(ctx).latestTreeHead();
    return head ? stableJson(head) : '';
  }

  @Transaction(false)
  @Returns('string')
  async TreeHead(ctx: Context, treeSize: string): Promise<string> {
    return stableJson(await this.ledger(ctx).treeHead(treeSize));
  }

  @Transaction(false)
  @Returns('string')
  async TreeHeads(ctx: Context, fromSize: string, toSize: string): Promise<string> {
    return stableJson(await this.ledger(ctx).treeHeads(fromSize, toSize));
  }

  @Transaction()
  @Returns('string')
  async RecordGrantStep(ctx: Context, step: string): Promise<string> {
    return stableJson(await this.ledger(ctx).recordGrantStep(step));
  }

  @Transaction(false)
  @Returns('string')
  async Grant(ctx: Context, grantId: string): Promise<string> {
    return stableJson(await this.ledger(ctx).grant(grantId));
  }

  @Transaction(false)
  @Returns('string')
  async GrantHistory(ctx: Context, grantId: string): Promise<string> {
    return stableJson(await this.ledger(ctx).grantHistory(grantId));
  }

  @Transaction(false)
  @Returns('string')
  async Grants(ctx: Context, startId: string, endId: string): Promise<string> {
    return stableJson(await this.ledger(ctx).grants(startId, endId));
  }

  @Transaction()
  @Returns('string')
  async RecordRelease(ctx: Context, release: string): Promise<string> {
    return stableJson(await this.ledger(ctx).recordRelease(release));
  }

  @Transaction(false)
  @Returns('string')
  async Release(ctx: Context, hash: string): Promise<string> {
    return stableJson(await this.ledger(ctx).release(hash));
  }

  @Transaction(false)
  @Returns('string')
  async Releases(ctx: Context, startHash: string, endHash: string): Promise<string> {
    return stableJson(await this.ledger(ctx).releases(startHash, endHash));
  }
}
