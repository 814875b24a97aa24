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
import { createSecretFileOnce, ensurePrivateDir, readSecretFile } from '../keys/secret-file.js';

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
  if (!fs.existsSync(file)) createKeyFile(file);
  const privateKey = loadKeyFile(file);
  const publicKey = createPublicKey(privateKey);
  const pem = publicKey.export({ type: 'spki', format: 'pem' }).toString();
  const pubFile = path.join(dir, LOG_PUBLIC_KEY_FILE);
  if (!fs.existsSync(pubFile) || fs.readFileSync(pubFile, 'utf8') !== pem) writeFileAtomic(pubFile, pem, 0o644);
  const { kty, crv, x } = publicKey.export({ format: 'jwk' });
  return { privateKey, publicKey, logId: logIdOf(publicKey), pem, jwk: { kty, crv, x }, keyPath: file };
}

function createKeyFile(file: string): void {
  const { privateKey } = generateKeyPairSync('ed25519');
  createSecretFileOnce(file, privateKey.export({ type: 'pkcs8', format: 'pem' }).toString());
}

function loadKeyFile(file: string): KeyObject {
  const text = readSecretFile(file, 'log key');
  let key: KeyObject;
  try {
    key = createPrivateKey(text);
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
