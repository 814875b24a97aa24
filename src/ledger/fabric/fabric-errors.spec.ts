import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { classify, CommitFailure } from './fabric-errors.js';

/** The shape of fabric-gateway's EndorseError / SubmitError (a GatewayError): gRPC code plus per-peer details. */
function gatewayError(name: string, code: number, details: string[] = [], message = 'failed') {
  return Object.assign(new Error(`${code} ${message}`), {
    name,
    code,
    details: details.map((m, i) => ({ address: `127.0.0.1:${7000 + i}`, mspId: 'HousingMSP', message: m })),
  });
}

describe('Fabric error classes', () => {
  it("treats the chaincode's refusals as final, with the chaincode's code", () => {
    for (const code of [
      'TREE_HEAD_ROLLBACK',
      'TREE_HEAD_FORK',
      'TREE_HEAD_SIGNATURE',
      'ALREADY_RECORDED',
      'BAD_INPUT',
    ]) {
      const e = classify(
        gatewayError('EndorseError', 10, [`chaincode response 500, ${code}: the reason`], 'ABORTED: failed to endorse'),
        'anchoring',
      );
      assert.deepEqual([e.kind, e.code], ['rejected', code]);
      assert.match(e.message, new RegExp(`^anchoring: ${code}: the reason`));
    }
  });

  it('retries read conflicts from a fresh read, and never a policy failure', () => {
    assert.deepEqual(
      [classify(new CommitFailure(11, 'tx1'), 'x').kind, classify(new CommitFailure(11, 'tx1'), 'x').code],
      ['conflict', 'MVCC_READ_CONFLICT'],
    );
    assert.equal(classify(new CommitFailure(12, 'tx1'), 'x').kind, 'conflict');
    const policy = classify(new CommitFailure(10, 'tx2'), 'x');
    assert.deepEqual([policy.kind, policy.code], ['rejected', 'ENDORSEMENT_POLICY_FAILURE']);
  });

  it('treats outages, deadlines, missing endorsements and an unknown commit status as retryable', () => {
    const cases = [
      gatewayError('SubmitError', 14, [], 'UNAVAILABLE: connection refused'),
      gatewayError('EndorseError', 4, [], 'DEADLINE_EXCEEDED'),
      gatewayError(
        'EndorseError',
        14,
        [],
        'no combination of peers can be derived which satisfy the endorsement policy',
      ),
      gatewayError('EndorseError', 10, ['failed to connect to 127.0.0.1:7051: connection refused']),
      Object.assign(new Error('commit status'), { name: 'CommitStatusError', code: 4 }),
    ];
    for (const c of cases) assert.equal(classify(c, 'x').kind, 'unavailable', c.message);
  });

  it('does not retry what cannot change by waiting (bad arguments, no permission)', () => {
    assert.deepEqual(
      [classify(gatewayError('EndorseError', 7), 'x').kind, classify(gatewayError('EndorseError', 7), 'x').code],
      ['rejected', 'PERMISSION_DENIED'],
    );
    assert.equal(classify(gatewayError('EndorseError', 3), 'x').kind, 'rejected');
  });
});
