import { execFileSync } from 'node:child_process';

/**
 * Writes a self-signed RSA certificate and its key with the openssl command.
 * @returns false when openssl is missing or fails.
 */
export function writeSelfSignedCertificate(
  certPath: string,
  keyPath: string,
  commonName: string,
  subjectAltName?: string,
): boolean {
  const args = ['req', '-x509', '-newkey', 'rsa:2048', '-nodes', '-days', '2'];
  args.push('-subj', `/CN=${commonName}`, '-keyout', keyPath, '-out', certPath);
  if (subjectAltName !== undefined) args.push('-addext', `subjectAltName=${subjectAltName}`);
  try {
    execFileSync('openssl', args, { stdio: 'ignore' });
    return true;
  } catch {
    return false;
  }
}
