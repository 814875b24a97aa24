/**
 * How a worker process is started: the command line, and the layers of OS isolation the host supports.
 *
 * - `unshare --user --net`: a new user namespace (the worker runs as an unmapped "nobody") and an empty network
 *   namespace (no interfaces but a down loopback): no network even if the JavaScript sandbox were escaped.
 * - `prlimit`: RLIMIT_AS (address space: a backstop against memory blowups beyond isolated-vm's soft limit),
 *   RLIMIT_FSIZE=0 (no file grows), RLIMIT_CORE=0 (no core dumps with job data), RLIMIT_NOFILE (few descriptors).
 * - Node's permission model: the worker may read its own code and its two dependencies, nothing else; it may not
 *   write files, start processes or threads, or use the network. `--allow-addons` is needed for isolated-vm.
 * - An empty environment (no secrets of the gateway are inherited), cwd `/`, TZ=UTC, and a lower CPU priority.
 *
 * `auto` uses a layer when a probe shows the host allows it; `require` fails the pool start otherwise.
 */
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import { createRequire } from 'node:module';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

export type LayerMode = 'auto' | 'require' | 'off';

export interface IsolationOptions {
  /** New user + network namespaces (unshare). Default `auto`. */
  network?: LayerMode;
  /** Resource limits through prlimit. Default `auto`. */
  rlimits?: LayerMode;
  /** Node's permission model. Default true. */
  permission?: boolean;
  /** Run V8 without its JIT (smaller attack surface, much slower). Default false. */
  jitless?: boolean;
}

export interface IsolationReport {
  network: boolean;
  rlimits: boolean;
  permission: boolean;
  jitless: boolean;
  addressSpaceMb: number | null;
  heapMb: number;
}

export interface LaunchPlan {
  command: string;
  args: string[];
  env: NodeJS.ProcessEnv;
  cwd: string;
  isolation: IsolationReport;
}

const probes = new Map<string, boolean>();

function works(command: string, args: string[]): boolean {
  const key = [command, ...args].join(' ');
  let ok = probes.get(key);
  if (ok === undefined) {
    const r = spawnSync(command, args, { stdio: 'ignore', timeout: 5_000, env: {} });
    ok = r.status === 0 && r.error === undefined;
    probes.set(key, ok);
  }
  return ok;
}

function findBinary(name: string): string | null {
  for (const dir of ['/usr/bin', '/bin', '/usr/sbin', '/sbin']) {
    const p = path.join(dir, name);
    if (fs.existsSync(p)) return p;
  }
  return null;
}

function layer(mode: LayerMode, name: string, probe: () => boolean): boolean {
  if (mode === 'off') return false;
  const ok = probe();
  if (!ok && mode === 'require') throw new Error(`sandbox isolation layer ${name} is required but not available`);
  return ok;
}

/** Directories and files the worker needs to read: its own code and its dependencies. */
function readablePaths(workerScript: string): string[] {
  const require = createRequire(workerScript);
  const pkgDir = (name: string, from = require) => path.dirname(fs.realpathSync(from.resolve(`${name}/package.json`)));
  const ivmDir = pkgDir('isolated-vm');
  const gypBuildDir = pkgDir('node-gyp-build', createRequire(path.join(ivmDir, 'package.json')));
  const distDir = path.dirname(fs.realpathSync(workerScript));
  const paths = [distDir, ivmDir, gypBuildDir];
  // A node_modules that is a symbolic link (a worktree sharing another checkout's packages): Node's resolver stats
  // the link itself before following it, so the link's path must be readable too. It holds packages' code only.
  for (let dir = path.dirname(workerScript); dir !== path.dirname(dir); dir = path.dirname(dir)) {
    const nm = path.join(dir, 'node_modules');
    if (fs.existsSync(path.join(nm, 'isolated-vm', 'package.json'))) {
      if (fs.lstatSync(nm).isSymbolicLink()) paths.push(nm);
      break;
    }
  }
  // the nearest package.json says the worker is an ES module
  for (let dir = distDir; dir !== path.dirname(dir); dir = path.dirname(dir)) {
    const pkg = path.join(dir, 'package.json');
    if (fs.existsSync(pkg)) {
      paths.push(pkg);
      break;
    }
  }
  try {
    paths.push(pkgDir('typescript'));
  } catch {
    // TypeScript is optional: without it, module syntax and TypeScript jobs fail with a clear message.
  }
  // node-gyp-build asks whether the host is Alpine before loading the addon.
  paths.push('/etc/alpine-release');
  return paths.map((p) => (fs.existsSync(p) && fs.statSync(p).isDirectory() ? `${p}${path.sep}` : p));
}

export function planLaunch(opts: {
  isolation: IsolationOptions;
  heapMb: number;
  addressSpaceMb: number;
  workerScript?: string;
}): LaunchPlan {
  const workerScript = opts.workerScript ?? fileURLToPath(new URL('./worker.js', import.meta.url));
  const unshare = findBinary('unshare');
  const prlimit = findBinary('prlimit');
  const network = layer(
    opts.isolation.network ?? 'auto',
    'network (unshare)',
    () => unshare !== null && works(unshare, ['--user', '--net', '--', process.execPath, '-e', '0']),
  );
  const rlimits = layer(
    opts.isolation.rlimits ?? 'auto',
    'rlimits (prlimit)',
    () => prlimit !== null && works(prlimit, ['--nofile=64', '--', process.execPath, '-e', '0']),
  );
  const permission = opts.isolation.permission ?? true;
  const jitless = opts.isolation.jitless ?? false;

  const nodeArgs = ['--no-node-snapshot', `--max-old-space-size=${opts.heapMb}`];
  if (jitless) nodeArgs.push('--jitless');
  if (permission) {
    nodeArgs.push('--permission', '--allow-addons', '--disable-warning=SecurityWarning');
    for (const p of readablePaths(workerScript)) nodeArgs.push(`--allow-fs-read=${p}`);
  }
  nodeArgs.push(workerScript);

  let argv = [process.execPath, ...nodeArgs];
  if (rlimits && prlimit !== null) {
    const as = opts.addressSpaceMb * 1024 * 1024;
    argv = [prlimit, `--as=${as}`, '--fsize=0', '--core=0', '--nofile=64', '--', ...argv];
  }
  if (network && unshare !== null) argv = [unshare, '--user', '--net', '--', ...argv];
  const [command, ...args] = argv as [string, ...string[]];
  return {
    command,
    args,
    env: { TZ: 'UTC' },
    cwd: path.parse(process.cwd()).root,
    isolation: {
      network,
      rlimits,
      permission,
      jitless,
      addressSpaceMb: rlimits ? opts.addressSpaceMb : null,
      heapMb: opts.heapMb,
    },
  };
}
