import { execFile } from 'node:child_process';
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { promisify } from 'node:util';

const execFileP = promisify(execFile);

/** Paths of the PEM files makeTestCertificates wrote. */
export interface TestCertificates {
  /** The throwaway CA clients are told to trust (--cafile, --cacert). */
  caCert: string;
  /** Server certificate signed by the CA: CN localhost, SAN DNS:localhost and IP:127.0.0.1. */
  serverCert: string;
  serverKey: string;
  /** A second server certificate from the same CA, with its own key (a renewal). */
  renewedCert: string;
  renewedKey: string;
  /** A key that is not the server certificate's (mismatch cases). */
  otherKey: string;
  /** The server key, passphrase-protected ("secret"). */
  encryptedKey: string;
  /** A self-signed certificate for localhost, from no CA the clients trust. */
  selfSignedCert: string;
  selfSignedKey: string;
  /** A client certificate the CA signed (CN device-1, clientAuth) and its key. */
  clientCert: string;
  clientKey: string;
}

async function openssl(dir: string, args: string[]): Promise<void> {
  await execFileP('openssl', args, { cwd: dir, timeout: 20_000 });
}

const EC = ['-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:P-256', '-nodes'];

/**
 * A throwaway CA and a server certificate it signed, made with the openssl CLI into `dir`, as an
 * operator would make them; valid for two days.
 */
export async function makeTestCertificates(dir: string): Promise<TestCertificates> {
  const p = (name: string) => join(dir, name);
  await openssl(dir, ['req', '-x509', ...EC, '-keyout', 'ca.key', '-out', 'ca.pem', '-days', '2', '-subj', '/CN=Rivulet Test CA',
    '-addext', 'basicConstraints=critical,CA:TRUE', '-addext', 'keyUsage=critical,keyCertSign,cRLSign']);
  await openssl(dir, ['req', ...EC, '-keyout', 'server.key', '-out', 'server.csr', '-subj', '/CN=localhost']);
  await writeFile(p('server.ext'), 'subjectAltName=DNS:localhost,IP:127.0.0.1\nextendedKeyUsage=serverAuth\nbasicConstraints=CA:FALSE\n');
  await openssl(dir, ['x509', '-req', '-in', 'server.csr', '-CA', 'ca.pem', '-CAkey', 'ca.key', '-CAcreateserial', '-out', 'server.pem', '-days', '2', '-extfile', 'server.ext']);
  await openssl(dir, ['req', ...EC, '-keyout', 'renewed.key', '-out', 'renewed.csr', '-subj', '/CN=localhost']);
  await openssl(dir, ['x509', '-req', '-in', 'renewed.csr', '-CA', 'ca.pem', '-CAkey', 'ca.key', '-CAcreateserial', '-out', 'renewed.pem', '-days', '2', '-extfile', 'server.ext']);
  await openssl(dir, ['genpkey', '-algorithm', 'EC', '-pkeyopt', 'ec_paramgen_curve:P-256', '-out', 'other.key']);
  await openssl(dir, ['pkey', '-in', 'server.key', '-aes256', '-passout', 'pass:secret', '-out', 'encrypted.key']);
  await openssl(dir, ['req', '-x509', ...EC, '-keyout', 'self.key', '-out', 'self.pem', '-days', '2', '-subj', '/CN=localhost',
    '-addext', 'subjectAltName=DNS:localhost,IP:127.0.0.1']);
  await openssl(dir, ['req', ...EC, '-keyout', 'client.key', '-out', 'client.csr', '-subj', '/CN=device-1']);
  await writeFile(p('client.ext'), 'extendedKeyUsage=clientAuth\nbasicConstraints=CA:FALSE\n');
  await openssl(dir, ['x509', '-req', '-in', 'client.csr', '-CA', 'ca.pem', '-CAkey', 'ca.key', '-CAcreateserial', '-out', 'client.pem', '-days', '2', '-extfile', 'client.ext']);
  return {
    renewedCert: p('renewed.pem'),
    renewedKey: p('renewed.key'),
    clientCert: p('client.pem'),
    clientKey: p('client.key'),
    caCert: p('ca.pem'),
    serverCert: p('server.pem'),
    serverKey: p('server.key'),
    otherKey: p('other.key'),
    encryptedKey: p('encrypted.key'),
    selfSignedCert: p('self.pem'),
    selfSignedKey: p('self.key'),
  };
}
