/**
 * The log's Ed25519 signing key: `<dataDir>/keys/log.key` (PKCS#8 PEM, mode 0600, directory 0700), created on
 * first start and reused afterwards; the public half is also written to `<dataDir>/keys/log.pub.pem` for
 * auditors. Creation is atomic (temporary file hard-linked into place), so two gateways starting at once on
 * one data directory end up with the same key. A key file readable or writable by group/other is refused.
 * Several gateway instances sharing one PostgreSQL log must be given the same key file.
 */
import { createPrivateKey, createPublicKey, generateKeyPairSync, randomBytes, type KeyObject } from 'node:crypto';
import type { webcrypto } from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import { logIdOf } from './signed-tree-head.js';

type JsonWebKey = webcrypto.JsonWebKey;

export const LOG_KEY_DIR = 'keys';
export const LOG_KEY_FILE = 'log.key';
export const LOG_PUBLIC_KEY_FILE = 'log.pub.pem';

/** The public identity of a log, as handed to auditors. */
export interface LogPublicKey {
  logId: string;
  /** SPKI PEM. */
  pem: string;
  /** RFC 8037 OKP JWK (kty OKP, crv Ed25519, x). */
  jwk: JsonWebKey;
}

export interface LogKey extends LogPublicKey {
  privateKey: KeyObject;
  publicKey: KeyObject;
  /** Absolute path of the private key file. */
  keyPath: string;
}

/** Loads `<dataDir>/keys/log.key`, creating it on first start. */
export function openLogKey(dataDir: string): LogKey {
  const dir = path.resolve(dataDir, LOG_KEY_DIR);
  const file = path.join(dir, LOG_KEY_FILE);
  ensurePrivateDir(dir);
  if (!fs.existsSync(file)) createKeyFile(dir, file);
  const privateKey = loadKeyFile(file);
  const publicKey = createPublicKey(privateKey);
  const pem = publicKey.export({ type: 'spki', format: 'pem' }).toString();
  const pubFile = path.join(dir, LOG_PUBLIC_KEY_FILE);
  if (!fs.existsSync(pubFile) || fs.readFileSync(pubFile, 'utf8') !== pem) writeFileAtomic(pubFile, pem, 0o644);
  const { kty, crv, x } = publicKey.export({ format: 'jwk' });
  return { privateKey, publicKey, logId: logIdOf(publicKey), pem, jwk: { kty, crv, x }, keyPath: file };
}

function ensurePrivateDir(dir: string): void {
  fs.mkdirSync(dir, { recursive: true, mode: 0o700 });
  if (process.platform === 'win32') return;
  const st = fs.statSync(dir);
  if (!st.isDirectory()) throw new Error(`${dir} is not a directory`);
  if ((st.mode & 0o777) !== 0o700) fs.chmodSync(dir, 0o700);
}

function createKeyFile(dir: string, file: string): void {
  const { privateKey } = generateKeyPairSync('ed25519');
  const pem = privateKey.export({ type: 'pkcs8', format: 'pem' }).toString();
  const tmp = path.join(dir, `.${LOG_KEY_FILE}.${process.pid}.${randomBytes(6).toString('hex')}.tmp`);
  const fd = fs.openSync(tmp, 'wx', 0o600);
  try {
    fs.fchmodSync(fd, 0o600);
    fs.writeSync(fd, pem);
    fs.fsyncSync(fd);
  } finally {
    fs.closeSync(fd);
  }
  try {
    // link() fails with EEXIST when another process won the race: its key is used.
    fs.linkSync(tmp, file);
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code !== 'EEXIST') {
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

function loadKeyFile(file: string): KeyObject {
  if (process.platform !== 'win32') {
    const st = fs.statSync(file);
    if (!st.isFile()) throw new Error(`log key ${file} is not a regular file`);
    if ((st.mode & 0o077) !== 0) {
      throw new Error(
        `log key ${file} is accessible by other users (mode ${(st.mode & 0o777).toString(8)}); run: chmod 600 '${file}'`,
      );
    }
  }
  let key: KeyObject;
  try {
    key = createPrivateKey(fs.readFileSync(file, 'utf8'));
  } catch {
    throw new Error(`log key ${file} is not a PEM private key`);
  }
  if (key.asymmetricKeyType !== 'ed25519') throw new Error(`log key ${file} is not an Ed25519 key`);
  return key;
}

function writeFileAtomic(file: string, body: string, mode: number): void {
  const tmp = `${file}.${process.pid}.${randomBytes(6).toString('hex')}.tmp`;
  fs.writeFileSync(tmp, body, { mode });
  fs.renameSync(tmp, file);
}

function fsyncDir(dir: string): void {
  if (process.platform === 'win32') return;
  const fd = fs.openSync(dir, 'r');
  try {
    fs.fsyncSync(fd);
  } finally {
    fs.closeSync(fd);
  }
}
