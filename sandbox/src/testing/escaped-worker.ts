/**
 * Test-only fixture: stands in for code that has escaped the isolate into the worker process's own JavaScript realm,
 * started exactly as a worker is (see launcher.spec.ts). It reports what the process-level layers still deny it.
 */
import cp from 'node:child_process';
import fs from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import { Worker } from 'node:worker_threads';

function attempt(f: () => unknown): string {
  try {
    return `allowed: ${String(f()).slice(0, 40)}`;
  } catch (e) {
    return `denied: ${(e as { code?: string }).code ?? (e as Error).name}`;
  }
}

function connect(): Promise<string> {
  return new Promise((resolve) => {
    try {
      const socket = net.connect({ host: '1.1.1.1', port: 53 });
      const timer = setTimeout(() => {
        socket.destroy();
        resolve('denied: no route (timeout)');
      }, 1500);
      socket.on('connect', () => {
        clearTimeout(timer);
        socket.destroy();
        resolve('allowed: connected');
      });
      socket.on('error', (e: NodeJS.ErrnoException) => {
        clearTimeout(timer);
        resolve(`denied: ${e.code ?? e.name}`);
      });
    } catch (e) {
      resolve(`denied: ${(e as { code?: string }).code ?? (e as Error).name}`);
    }
  });
}

const gatewayPackage = new URL('../../../package.json', import.meta.url);
const report = {
  readPasswd: attempt(() => fs.readFileSync('/etc/passwd', 'utf8').length),
  readGateway: attempt(() => fs.readFileSync(gatewayPackage, 'utf8').length),
  listRoot: attempt(() => fs.readdirSync('/').length),
  write: attempt(() => fs.writeFileSync(`${os.tmpdir()}/citygate-escape-probe`, 'x')),
  spawn: attempt(() => cp.execFileSync('/bin/true')),
  thread: attempt(() => new Worker('0', { eval: true }).threadId),
  connect: await connect(),
  env: Object.keys(process.env).sort().join(','),
  uid: process.getuid?.() ?? -1,
  interfaces: Object.keys(os.networkInterfaces()).sort().join(','),
};
process.send?.(report, () => process.exit(0));
