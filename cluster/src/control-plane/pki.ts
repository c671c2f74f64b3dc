/**
 * The local cluster's certificates, generated at start with @peculiar/x509 on Node's WebCrypto: one
 * CA (ECDSA P-256, valid for a year) that signs every serving and client certificate, and the
 * service-account signing key. Kubernetes reads identities from client certificates: the common name is
 * the user, the organisations are the groups (system:masters for the admin, system:nodes for the kubelet).
 */
// @peculiar/x509 resolves its ASN.1 types through tsyringe, which needs the Reflect metadata polyfill.
import 'reflect-metadata';
import * as x509 from '@peculiar/x509';
import { webcrypto } from 'node:crypto';
import { mkdirSync, writeFileSync } from 'node:fs';
import path from 'node:path';

x509.cryptoProvider.set(webcrypto as unknown as Crypto);

const ALG = { name: 'ECDSA', namedCurve: 'P-256', hash: 'SHA-256' } as const;
const YEAR_MS = 365 * 24 * 3600 * 1000;

export interface KeyPair {
  /** PEM, "CERTIFICATE". */
  cert: string;
  /** PEM, PKCS#8 "PRIVATE KEY". */
  key: string;
}

interface Issuer {
  cert: x509.X509Certificate;
  keys: CryptoKeyPair;
  pem: KeyPair;
}

const serial = (): string => Buffer.from(webcrypto.getRandomValues(new Uint8Array(16))).toString('hex').replace(/^[89a-f]/, '1');

async function keyPem(key: CryptoKey): Promise<string> {
  const der = Buffer.from(await webcrypto.subtle.exportKey('pkcs8', key as unknown as webcrypto.CryptoKey));
  return `-----BEGIN PRIVATE KEY-----\n${der.toString('base64').match(/.{1,64}/g)!.join('\n')}\n-----END PRIVATE KEY-----\n`;
}

async function publicPem(key: CryptoKey): Promise<string> {
  const der = Buffer.from(await webcrypto.subtle.exportKey('spki', key as unknown as webcrypto.CryptoKey));
  return `-----BEGIN PUBLIC KEY-----\n${der.toString('base64').match(/.{1,64}/g)!.join('\n')}\n-----END PUBLIC KEY-----\n`;
}

const newKeys = async (): Promise<CryptoKeyPair> =>
  (await webcrypto.subtle.generateKey(ALG, true, ['sign', 'verify'])) as unknown as CryptoKeyPair;

async function createCa(commonName: string): Promise<Issuer> {
  const keys = await newKeys();
  const now = Date.now();
  const cert = await x509.X509CertificateGenerator.createSelfSigned({
    serialNumber: serial(), name: `CN=${commonName}`, keys, signingAlgorithm: ALG,
    notBefore: new Date(now - 60_000), notAfter: new Date(now + YEAR_MS),
    extensions: [
      new x509.BasicConstraintsExtension(true, undefined, true),
      new x509.KeyUsagesExtension(x509.KeyUsageFlags.keyCertSign | x509.KeyUsageFlags.cRLSign | x509.KeyUsageFlags.digitalSignature, true),
      await x509.SubjectKeyIdentifierExtension.create(keys.publicKey),
    ],
  });
  return { cert, keys, pem: { cert: cert.toString('pem') + '\n', key: await keyPem(keys.privateKey) } };
}

export interface LeafOptions {
  commonName: string;
  /** Groups (the subject's O=). */
  organizations?: string[];
  /** Subject alternative names: DNS names and IP addresses. */
  dns?: string[];
  ips?: string[];
  server?: boolean;
  client?: boolean;
}

const escapeRdn = (v: string): string => v.replace(/([,+"\\<>;=])/g, '\\$1');

async function signLeaf(ca: Issuer, o: LeafOptions): Promise<KeyPair> {
  const keys = await newKeys();
  const now = Date.now();
  const subject = [`CN=${escapeRdn(o.commonName)}`, ...(o.organizations ?? []).map((g) => `O=${escapeRdn(g)}`)].join(', ');
  const usages = [...(o.server ? [x509.ExtendedKeyUsage.serverAuth] : []), ...(o.client ? [x509.ExtendedKeyUsage.clientAuth] : [])];
  const sans: x509.JsonGeneralName[] = [
    ...(o.dns ?? []).map((value) => ({ type: 'dns' as const, value })),
    ...(o.ips ?? []).map((value) => ({ type: 'ip' as const, value })),
  ];
  const cert = await x509.X509CertificateGenerator.create({
    serialNumber: serial(), subject, issuer: ca.cert.subject, publicKey: keys.publicKey, signingKey: ca.keys.privateKey,
    signingAlgorithm: ALG, notBefore: new Date(now - 60_000), notAfter: new Date(now + YEAR_MS),
    extensions: [
      new x509.BasicConstraintsExtension(false, undefined, true),
      new x509.KeyUsagesExtension(x509.KeyUsageFlags.digitalSignature | x509.KeyUsageFlags.keyEncipherment, true),
      new x509.ExtendedKeyUsageExtension(usages, false),
      await x509.AuthorityKeyIdentifierExtension.create(ca.keys.publicKey),
      ...(sans.length > 0 ? [new x509.SubjectAlternativeNameExtension(sans)] : []),
    ],
  });
  return { cert: cert.toString('pem') + '\n', key: await keyPem(keys.privateKey) };
}

/** Every identity of the local cluster. */
export interface ClusterPki {
  ca: KeyPair;
  apiserver: KeyPair;
  /** The API server's client certificate towards the kubelet (`kubectl logs`). */
  apiserverKubeletClient: KeyPair;
  admin: KeyPair;
  controllerManager: KeyPair;
  scheduler: KeyPair;
  /** The process kubelet: its client identity (system:node:NAME) and its HTTPS server. */
  kubeletClient: KeyPair;
  kubeletServing: KeyPair;
  /** Service-account token signing: PKCS#8 private key and its SPKI public key. */
  serviceAccount: { key: string; pub: string };
}

export const ADMIN_USER = 'bij-admin';

export async function createClusterPki(nodeName: string): Promise<ClusterPki> {
  const ca = await createCa('bij-local-cluster-ca');
  const loopback = { dns: ['localhost'], ips: ['127.0.0.1'] };
  const sa = await newKeys();
  return {
    ca: ca.pem,
    apiserver: await signLeaf(ca, {
      commonName: 'kube-apiserver', server: true,
      dns: [...loopback.dns, 'kubernetes', 'kubernetes.default', 'kubernetes.default.svc', 'kubernetes.default.svc.cluster.local'],
      ips: [...loopback.ips, '10.0.0.1'],
    }),
    apiserverKubeletClient: await signLeaf(ca, { commonName: 'kube-apiserver-kubelet-client', organizations: ['kubeadm:cluster-admins'], client: true }),
    admin: await signLeaf(ca, { commonName: ADMIN_USER, organizations: ['system:masters'], client: true }),
    controllerManager: await signLeaf(ca, { commonName: 'system:kube-controller-manager', client: true }),
    scheduler: await signLeaf(ca, { commonName: 'system:kube-scheduler', client: true }),
    kubeletClient: await signLeaf(ca, { commonName: `system:node:${nodeName}`, organizations: ['system:nodes'], client: true }),
    kubeletServing: await signLeaf(ca, { commonName: nodeName, server: true, dns: [...loopback.dns, nodeName], ips: loopback.ips }),
    serviceAccount: { key: await keyPem(sa.privateKey), pub: await publicPem(sa.publicKey) },
  };
}

/** Writes the files the Go binaries read (mode 0600 for keys); returns their paths by name. */
export function writePki(pki: ClusterPki, dir: string): Record<string, string> {
  mkdirSync(dir, { recursive: true, mode: 0o700 });
  const files: Record<string, string> = {};
  const put = (name: string, content: string, mode: number): void => {
    files[name] = path.join(dir, name);
    writeFileSync(files[name], content, { mode });
  };
  put('ca.crt', pki.ca.cert, 0o644);
  put('ca.key', pki.ca.key, 0o600);
  for (const id of ['apiserver', 'apiserverKubeletClient', 'controllerManager', 'scheduler'] as const) {
    put(`${id}.crt`, pki[id].cert, 0o644);
    put(`${id}.key`, pki[id].key, 0o600);
  }
  put('sa.key', pki.serviceAccount.key, 0o600);
  put('sa.pub', pki.serviceAccount.pub, 0o644);
  return files;
}

async function issuerFrom(ca: KeyPair): Promise<Issuer> {
  const cert = new x509.X509Certificate(ca.cert);
  const der = Buffer.from(ca.key.replace(/-----[^-]+-----/g, '').replace(/\s+/g, ''), 'base64');
  const privateKey = await webcrypto.subtle.importKey('pkcs8', der, ALG, true, ['sign']) as unknown as CryptoKey;
  const publicKey = await cert.publicKey.export(ALG, ['verify']);
  return { cert, keys: { privateKey, publicKey }, pem: ca };
}

/** A client certificate signed by the cluster's CA (e.g. for a ServiceAccount's user name, which RBAC
 * matches on name: `system:serviceaccount:NS:NAME` with groups `system:serviceaccounts[:NS]`). */
export async function issueClientCert(ca: KeyPair, commonName: string, organizations: string[] = []): Promise<KeyPair> {
  return signLeaf(await issuerFrom(ca), { commonName, organizations, client: true });
}

/** A server certificate for a loopback server outside the cluster's PKI (e.g. a controller's webhook or
 * metrics server that nothing verifies), signed by a CA of its own made here: `ca` is that CA's. */
export async function createServingCert(commonName: string, dns: string[] = ['localhost'], ips: string[] = ['127.0.0.1']): Promise<KeyPair & { ca: string }> {
  const ca = await createCa(`${commonName}-ca`);
  return { ...(await signLeaf(ca, { commonName, server: true, dns, ips })), ca: ca.pem.cert };
}
