/**
 * Secret key files under the data directory (the local token issuer's key, the log's signing key): a private
 * directory (0700), files created once with mode 0600 and never overwritten — when several processes start at
 * once, the first file written wins and everyone uses it — and refused when others can read them.
 */
import { randomBytes } from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';

export function ensurePrivateDir(dir: string): void {
  fs.mkdirSync(dir, { recursive: true, mode: 0o700 });
  if (process.platform === 'win32') return;
  const st = fs.statSync(dir);
  if (!st.isDirectory()) throw new Error(`${dir} is not a directory`);
  if ((st.mode & 0o777) !== 0o700) fs.chmodSync(dir, 0o700);
}

/** Writes `body` to `file` (mode 0600) unless the file exists; durable (fsync of the file and its directory). */
export function createSecretFileOnce(file: string, body: string): void {
  const dir = path.dirname(file);
  const tmp = path.join(dir, `.${path.basename(file)}.${process.pid}.${randomBytes(6).toString('hex')}.tmp`);
  const fd = fs.openSync(tmp, 'wx', 0o600);
  try {
    fs.fchmodSync(fd, 0o600);
    fs.writeSync(fd, body);
    fs.fsyncSync(fd);
  } finally {
    fs.closeSync(fd);
  }
  try {
    // link() fails with EEXIST when another process won the race: then its file is used.
    fs.linkSync(tmp, file);
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code !== 'EEXIST') {
      // File systems without hard links: an exclusive copy (still never overwrites an existing file).
      try {
        fs.copyFileSync(tmp, file, fs.constants.COPYFILE_EXCL);
        fs.chmodSync(file, 0o600);
      } catch (e2) {
        if ((e2 as NodeJS.ErrnoException).code !== 'EEXIST') throw e2;
      }
    }
  } finally {
    fs.rmSync(tmp, { force: true });
  }
  fsyncDir(dir);
}

/** Reads a secret file, refusing one that is not a regular file or that other users can access (like ssh). */
export function readSecretFile(file: string, what: string): string {
  if (process.platform !== 'win32') {
    const st = fs.statSync(file);
    if (!st.isFile()) throw new Error(`${what} ${file} is not a regular file`);
    if ((st.mode & 0o077) !== 0) {
      throw new Error(
        `${what} ${file} is accessible by other users (mode ${(st.mode & 0o777).toString(8)}); run: chmod 600 '${file}'`,
      );
    }
  }
  return fs.readFileSync(file, 'utf8');
}

export function fsyncDir(dir: string): void {
  if (process.platform === 'win32') return;
  const fd = fs.openSync(dir, 'r');
  try {
    fs.fsyncSync(fd);
  } finally {
    fs.closeSync(fd);
  }
}
