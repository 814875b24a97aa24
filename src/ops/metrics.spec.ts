import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { GatewayMetrics } from './metrics.js';

describe('GatewayMetrics', () => {
  it('reads the sandbox queue depth and the log size from their sources at scrape time', async () => {
    let depth = 7;
    const m = new GatewayMetrics({
      logSize: async () => 42,
      anchorLag: async () => null,
      sandboxQueueDepth: async () => depth,
    });
    assert.match(await m.text(), /^citygate_sandbox_queue_depth 7$/m);
    depth = 2;
    const text = await m.text();
    assert.match(text, /^citygate_sandbox_queue_depth 2$/m);
    assert.match(text, /^citygate_log_size 42$/m);
  });
});
