import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { describe, it } from 'node:test';
import { fileURLToPath } from 'node:url';
import { planLaunch } from './launcher.js';

type Report = Record<string, string | number>;

async function escaped(
  network: 'auto' | 'off',
  rlimits: 'auto' | 'off',
  permission = true,
): Promise<{ report: Report; plan: ReturnType<typeof planLaunch> }> {
  const plan = planLaunch({
    isolation: { network, rlimits, permission },
    heapMb: 128,
    addressSpaceMb: 8192,
    workerScript: fileURLToPath(new URL('./testing/escaped-worker.js', import.meta.url)),
  });
  const child = spawn(plan.command, plan.args, {
    stdio: ['ignore', 'ignore', 'ignore', 'ipc'],
    serialization: 'advanced',
    env: plan.env,
    cwd: plan.cwd,
  });
  const report = await new Promise<Report>((resolve, reject) => {
    child.once('message', (m) => resolve(m as Report));
    child.once('exit', (code) => reject(new Error(`the probe ended with ${code}`)));
  });
  child.kill('SIGKILL');
  return { report, plan };
}

describe('worker process isolation (code that escaped the isolate into the worker realm)', () => {
  it('cannot read files beyond its own code, write files, start processes or threads', async () => {
    const { report, plan } = await escaped('auto', 'auto');
    assert.match(String(report.readPasswd), /^denied: ERR_ACCESS_DENIED/);
    assert.match(String(report.readGateway), /^denied: ERR_ACCESS_DENIED/);
    assert.match(String(report.listRoot), /^denied: ERR_ACCESS_DENIED/);
    assert.match(String(report.write), /^denied: ERR_ACCESS_DENIED/);
    assert.match(String(report.spawn), /^denied: ERR_ACCESS_DENIED/);
    assert.match(String(report.thread), /^denied: ERR_ACCESS_DENIED/);
    assert.equal(report.env, 'TZ', 'no environment of the gateway is inherited');
    assert.ok(plan.args.includes('--permission'));
  });

  it('has no network: denied by the permission model and, where available, an empty network namespace', async () => {
    const { report, plan } = await escaped('auto', 'auto');
    assert.match(String(report.connect), /^denied/);
    if (plan.isolation.network) {
      assert.equal(report.interfaces, '', 'only a loopback that is down, so no configured interface');
      assert.equal(report.uid, 65534, 'an unmapped uid in its own user namespace');
    }
  });

  it('the network namespace alone (permission model off) leaves no route out', async (t) => {
    const { report, plan } = await escaped('auto', 'off', false);
    if (!plan.isolation.network) return t.skip('unshare --user --net is not available on this host');
    assert.match(String(report.connect), /^denied: (ENETUNREACH|EHOSTUNREACH|EACCES|EPERM)/);
    assert.equal(report.interfaces, '');
  });

  it('applies prlimit when the host has it', async () => {
    const { plan } = await escaped('off', 'auto');
    if (plan.isolation.rlimits) {
      assert.ok(plan.args.includes('--fsize=0') && plan.args.includes('--core=0'));
      assert.ok(plan.args.some((a) => a.startsWith('--as=')));
    }
    assert.equal(plan.isolation.network, false);
  });
});
