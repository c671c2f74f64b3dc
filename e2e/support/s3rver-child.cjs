'use strict';
/**
 * Runs s3rver (a fake S3 for tests) in its own process. Started by e2e/support/s3-server.ts with
 * `node --openssl-legacy-provider`: s3rver encrypts ListObjectsV2 continuation tokens with DES, which
 * OpenSSL 3 only offers through the legacy provider.
 *
 *   node --openssl-legacy-provider s3rver-child.cjs '{"dir":"/tmp/x","buckets":["b"],"uploadsPageSize":1000}'
 *
 * Reports `{ port }` over the IPC channel once listening on 127.0.0.1, and exits when the parent goes.
 *
 * s3rver 3.7.1 gaps this harness papers over (test-only; production code never sees them):
 *  - ListObjects walked the store's directories in file-name order, which is not key order once one
 *    key is a prefix of another ("a/x" vs "a.txt"): listings came out unsorted and pagination could skip
 *    keys. listObjects is replaced by a sorted implementation.
 *  - ListMultipartUploads (GET ?uploads) answered NotImplemented and AbortMultipartUpload
 *    (DELETE ?uploadId) MethodNotAllowed: both are implemented here on s3rver's upload directories.
 *  - CompleteMultipartUpload of an upload that was already completed or aborted answered 500 (and
 *    UploadPart recreated it): both answer 404 NoSuchUpload here, as S3 does.
 *  - UploadPartCopy answered NotImplemented: implemented here with the store's getObject/putPart.
 *  - PutObject ignored `If-None-Match: *`: answered here with 412 PreconditionFailed when the key exists
 *    (check-then-write, which is enough for tests).
 *  - CopyObject decoded x-amz-copy-source with decodeURI, so keys with `+ & # , ; = ? @ $ :` were not
 *    found: the header is re-encoded so that decodeURI yields the real key.
 *  - DeleteObjects parsed keys with number conversion and trimming ("00012" became 12) and deleted them
 *    concurrently, racing on the cleanup of empty directories (spurious 500s): replaced.
 *  - GetObject with `Range: bytes=0-0` returned the whole object (end 0 was read as "no end"), and a
 *    range starting at the end of an empty object was not a 416: getObject is replaced.
 *  - deleteObject's empty-directory cleanup threw when a concurrent delete removed the directory first.
 */
const path = require('path');
const { createRequire } = require('module');
// s3rver's own dependencies, resolved as s3rver resolves them (whatever npm hoists to the top level)
const s3rverRequire = createRequire(require.resolve('s3rver'));
const fs = s3rverRequire('fs-extra');
const xmlParser = s3rverRequire('fast-xml-parser');
const S3rver = require('s3rver');
const FilesystemStore = require('s3rver/lib/stores/filesystem');
const S3Object = require('s3rver/lib/models/object');
const S3Error = require('s3rver/lib/models/error');
const AWSAccount = require('s3rver/lib/models/account');
const objectCtrl = require('s3rver/lib/controllers/object');

const opts = JSON.parse(process.argv[2] || '{}');
const dir = opts.dir;
const buckets = opts.buckets || [];
const uploadsPageSize = Math.max(1, Math.min(1000, opts.uploadsPageSize || 1000));

const OBJECT_SUFFIX = '._S3rver_object';
const UPLOADS_DIR = '._S3rver_uploads';

// ---- sorted listObjects ------------------------------------------------------------------------

function* walkKeys(root, rel) {
  let entries;
  try {
    entries = fs.readdirSync(path.join(root, rel), { withFileTypes: true });
  } catch (err) {
    if (err.code === 'ENOENT') return;
    throw err;
  }
  for (const e of entries) {
    if (e.isDirectory()) {
      if (!rel && e.name === UPLOADS_DIR) continue;
      yield* walkKeys(root, rel ? `${rel}/${e.name}` : e.name);
    } else if (e.name.endsWith(OBJECT_SUFFIX)) {
      const name = e.name.slice(0, -OBJECT_SUFFIX.length);
      yield rel ? `${rel}/${name}` : name;
    }
  }
}

const byteOrder = (a, b) => Buffer.compare(Buffer.from(a), Buffer.from(b));

FilesystemStore.prototype.listObjects = async function listObjects(bucket, options) {
  const { delimiter = '', startAfter = '', prefix = '', maxKeys = Infinity } = options;
  const all = [...walkKeys(this.getBucketPath(bucket), '')]
    .filter((k) => k.startsWith(prefix) && (!startAfter || byteOrder(k, startAfter) > 0))
    .sort(byteOrder);
  const keys = [];
  const commonPrefixes = new Set();
  let isTruncated = false;
  for (const key of all) {
    if (delimiter) {
      const idx = key.slice(prefix.length).indexOf(delimiter);
      if (idx !== -1) {
        commonPrefixes.add(key.slice(0, prefix.length + idx + delimiter.length));
        continue;
      }
    }
    if (keys.length >= maxKeys) {
      isTruncated = true;
      break;
    }
    keys.push(key);
  }
  const objects = [];
  for (const key of keys) {
    try {
      objects.push(new S3Object(bucket, key, null, await this.getMetadata(bucket, key)));
    } catch (err) {
      if (err.code !== 'ENOENT') throw err;
    }
  }
  return { objects, commonPrefixes: [...commonPrefixes].sort(byteOrder), isTruncated };
};

// ---- getObject with correct ranges ------------------------------------------------------------------

FilesystemStore.prototype.getObject = async function getObject(bucket, key, options) {
  let metadata;
  try {
    metadata = await this.getMetadata(bucket, key);
  } catch (err) {
    if (err.code === 'ENOENT') return null;
    throw err;
  }
  const size = Number(metadata['content-length']);
  const ranged = !!options && (options.start !== undefined || options.end !== undefined);
  const start = ranged && options.start !== undefined ? options.start : 0;
  const end = Math.min(ranged && options.end !== undefined ? options.end : Infinity, size - 1);
  if (ranged && (start < 0 || start >= size || end < start)) {
    const object = new S3Object(bucket, key, null, metadata);
    object.range = { start, end };
    return object; // no content: the controller answers 416 InvalidRange
  }
  const objectPath = this.getResourcePath(bucket, key, 'object');
  const content = await new Promise((resolve, reject) => {
    const stream = fs
      .createReadStream(objectPath, size > 0 ? { start, end } : {})
      .on('error', reject)
      .on('open', () => resolve(stream));
  });
  const object = new S3Object(bucket, key, content, metadata);
  if (ranged) object.range = { start, end };
  return object;
};

// ---- deleteObject that tolerates concurrent directory cleanup --------------------------------------

FilesystemStore.prototype.deleteObject = async function deleteObject(bucket, key) {
  await Promise.all(
    ['object', 'object.md5', 'metadata.json'].map((r) =>
      fs.unlink(this.getResourcePath(bucket, key, r)).catch((err) => {
        if (err.code !== 'ENOENT') throw err;
      }),
    ),
  );
  const bucketPath = this.getBucketPath(bucket);
  const parts = key.split('/');
  parts.pop();
  while (parts.length) {
    try {
      await fs.rmdir(path.join(bucketPath, ...parts));
    } catch (err) {
      if (['ENOTEMPTY', 'EEXIST', 'ENOENT'].includes(err.code)) {
        if (err.code !== 'ENOENT') break;
      } else throw err;
    }
    parts.pop();
  }
};

// ---- controller fixes (the router looks these up per request, after authentication) ---------------

const origPutObjectCopy = objectCtrl.putObjectCopy;
objectCtrl.putObjectCopy = function putObjectCopy(ctx) {
  const raw = String(ctx.headers['x-amz-copy-source']).split('?')[0];
  ctx.headers['x-amz-copy-source'] = encodeURI(decodeURIComponent(raw));
  return origPutObjectCopy(ctx);
};

objectCtrl.deleteMultipleObjects = async function deleteMultipleObjects(ctx) {
  const body = (await readBody(ctx.req)).toString('utf8');
  const parsed =
    xmlParser.validate(body) === true
      ? xmlParser.parse(body, { parseNodeValue: false, trimValues: false, tagValueProcessor: (a) => decodeXml(a) })
      : undefined;
  if (!parsed || !parsed.Delete || !parsed.Delete.Object) {
    throw new S3Error('MalformedXML', 'The XML you provided was not well-formed or did not validate against our published schema.');
  }
  const keys = [].concat(parsed.Delete.Object).map((o) => String(o.Key));
  for (const key of keys) {
    if (await ctx.store.existsObject(ctx.params.bucket, key)) await ctx.store.deleteObject(ctx.params.bucket, key);
  }
  const quiet = String(parsed.Delete.Quiet) === 'true';
  ctx.type = 'application/xml';
  ctx.body =
    '<?xml version="1.0" encoding="UTF-8"?>\n<DeleteResult xmlns="http://s3.amazonaws.com/doc/2006-03-01/">' +
    (quiet ? '' : keys.map((k) => `<Deleted><Key>${escapeXml(k)}</Key></Deleted>`).join('')) +
    '</DeleteResult>';
};

// ---- endpoints s3rver lacks, answered before its router ------------------------------------------

function readBody(req) {
  return new Promise((resolve, reject) => {
    const chunks = [];
    req.on('data', (c) => chunks.push(c));
    req.on('end', () => resolve(Buffer.concat(chunks)));
    req.on('error', reject);
  });
}

function escapeXml(s) {
  return String(s).replace(/[&<>"']/g, (c) => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&apos;' })[c]);
}

function decodeXml(s) {
  return String(s).replace(/&(amp|lt|gt|quot|apos|#\d+|#x[0-9a-fA-F]+);/g, (m, e) => {
    const named = { amp: '&', lt: '<', gt: '>', quot: '"', apos: "'" }[e];
    if (named) return named;
    return String.fromCodePoint(e[1] === 'x' ? parseInt(e.slice(2), 16) : parseInt(e.slice(1), 10));
  });
}

function sendError(ctx, code, message, detail = {}) {
  const err = new S3Error(code, message, detail);
  ctx.status = err.status;
  ctx.type = 'application/xml';
  ctx.body = err.toXML();
}

/** Path-style only: /bucket/key... (the harness always uses forcePathStyle). */
function splitPath(p) {
  const [, bucket = '', ...rest] = p.split('/');
  return { bucket: decodeURIComponent(bucket), key: rest.length ? rest.map(decodeURIComponent).join('/') : '' };
}

function checkAccessKey(ctx) {
  const m = /Credential=([^/]+)\//.exec(ctx.get('authorization') || '');
  if (m && !AWSAccount.registry.get(m[1])) {
    sendError(ctx, 'InvalidAccessKeyId', 'The AWS Access Key Id you provided does not exist in our records.', {
      AWSAccessKeyId: m[1],
    });
    return false;
  }
  return true;
}

async function listUploads(store, bucket) {
  const root = path.join(store.getBucketPath(bucket), UPLOADS_DIR);
  let ids;
  try {
    ids = await fs.readdir(root);
  } catch (err) {
    if (err.code === 'ENOENT') return [];
    throw err;
  }
  const out = [];
  for (const uploadId of ids) {
    try {
      const key = (await fs.readFile(path.join(root, uploadId, 'key'))).toString();
      const st = await fs.stat(path.join(root, uploadId));
      out.push({ key, uploadId, initiated: st.mtime });
    } catch (err) {
      if (err.code !== 'ENOENT') throw err;
    }
  }
  return out.sort((a, b) => byteOrder(a.key, b.key) || byteOrder(a.uploadId, b.uploadId));
}

async function shim(ctx, next) {
  const q = ctx.query;
  const { bucket, key } = splitPath(ctx.path);
  const store = ctx.app.store;

  // ListMultipartUploads
  if (ctx.method === 'GET' && bucket && !key && 'uploads' in q) {
    if (!checkAccessKey(ctx)) return;
    if (!(await store.getBucket(bucket))) return sendError(ctx, 'NoSuchBucket', 'The specified bucket does not exist', { BucketName: bucket });
    const prefix = q.prefix || '';
    const keyMarker = q['key-marker'] || '';
    const idMarker = q['upload-id-marker'] || '';
    const max = Math.min(uploadsPageSize, q['max-uploads'] ? Number(q['max-uploads']) : 1000);
    const all = (await listUploads(store, bucket)).filter((u) => {
      if (!u.key.startsWith(prefix)) return false;
      if (!keyMarker) return true;
      const c = byteOrder(u.key, keyMarker);
      return c > 0 || (c === 0 && idMarker !== '' && byteOrder(u.uploadId, idMarker) > 0);
    });
    const page = all.slice(0, max);
    const truncated = all.length > page.length;
    const last = page[page.length - 1];
    ctx.type = 'application/xml';
    ctx.body =
      '<?xml version="1.0" encoding="UTF-8"?>\n<ListMultipartUploadsResult xmlns="http://s3.amazonaws.com/doc/2006-03-01/">' +
      `<Bucket>${escapeXml(bucket)}</Bucket><KeyMarker>${escapeXml(keyMarker)}</KeyMarker>` +
      `<UploadIdMarker>${escapeXml(idMarker)}</UploadIdMarker>` +
      (truncated ? `<NextKeyMarker>${escapeXml(last.key)}</NextKeyMarker><NextUploadIdMarker>${last.uploadId}</NextUploadIdMarker>` : '') +
      `<Prefix>${escapeXml(prefix)}</Prefix><MaxUploads>${max}</MaxUploads><IsTruncated>${truncated}</IsTruncated>` +
      page
        .map(
          (u) =>
            `<Upload><Key>${escapeXml(u.key)}</Key><UploadId>${u.uploadId}</UploadId>` +
            `<StorageClass>STANDARD</StorageClass><Initiated>${u.initiated.toISOString()}</Initiated></Upload>`,
        )
        .join('') +
      '</ListMultipartUploadsResult>';
    return;
  }

  // AbortMultipartUpload
  if (ctx.method === 'DELETE' && bucket && key && 'uploadId' in q) {
    if (!checkAccessKey(ctx)) return;
    if (!(await store.getBucket(bucket))) return sendError(ctx, 'NoSuchBucket', 'The specified bucket does not exist', { BucketName: bucket });
    const uploadDir = path.join(store.getBucketPath(bucket), UPLOADS_DIR, path.basename(String(q.uploadId)));
    if (!(await fs.pathExists(uploadDir))) {
      return sendError(ctx, 'NoSuchUpload', 'The specified upload does not exist.', { UploadId: String(q.uploadId) });
    }
    await fs.remove(uploadDir);
    ctx.status = 204;
    return;
  }

  // UploadPart / CompleteMultipartUpload on an upload that is gone (completed or aborted): s3rver would
  // answer 500 (ENOENT) for Complete, and silently recreate the upload directory for UploadPart.
  if (bucket && key && 'uploadId' in q && (ctx.method === 'POST' || (ctx.method === 'PUT' && 'partNumber' in q))) {
    const uploadDir = path.join(store.getBucketPath(bucket), UPLOADS_DIR, path.basename(String(q.uploadId)));
    if (!(await fs.pathExists(path.join(uploadDir, 'key')))) {
      if (!checkAccessKey(ctx)) return;
      await readBody(ctx.req);
      return sendError(ctx, 'NoSuchUpload', 'The specified upload does not exist.', { UploadId: String(q.uploadId) });
    }
  }

  // UploadPartCopy (s3rver answers NotImplemented)
  if (ctx.method === 'PUT' && bucket && key && 'uploadId' in q && 'partNumber' in q && ctx.get('x-amz-copy-source')) {
    if (!checkAccessKey(ctx)) return;
    const uploadDir = path.join(store.getBucketPath(bucket), UPLOADS_DIR, path.basename(String(q.uploadId)));
    if (!(await fs.pathExists(uploadDir))) {
      return sendError(ctx, 'NoSuchUpload', 'The specified upload does not exist.', { UploadId: String(q.uploadId) });
    }
    const src = splitPath('/' + ctx.get('x-amz-copy-source').split('?')[0].replace(/^\//, ''));
    const range = /^bytes=(\d+)-(\d+)$/.exec(ctx.get('x-amz-copy-source-range') || '');
    const object = await store.getObject(src.bucket, src.key, range ? { start: Number(range[1]), end: Number(range[2]) } : undefined);
    if (!object) return sendError(ctx, 'NoSuchKey', 'The specified key does not exist.', { Key: src.key });
    if (!object.content) return sendError(ctx, 'InvalidRange', 'The requested range is not satisfiable');
    const { md5 } = await store.putPart(bucket, String(q.uploadId), Number(q.partNumber), object.content);
    ctx.type = 'application/xml';
    ctx.body =
      '<?xml version="1.0" encoding="UTF-8"?>\n<CopyPartResult>' +
      `<LastModified>${new Date().toISOString()}</LastModified><ETag>"${md5}"</ETag></CopyPartResult>`;
    return;
  }

  // PutObject with If-None-Match: *
  if (
    ctx.method === 'PUT' && bucket && key && Object.keys(q).every((k) => k === 'x-id') &&
    ctx.get('if-none-match') === '*' && !ctx.get('x-amz-copy-source')
  ) {
    if (!checkAccessKey(ctx)) return;
    if ((await store.getBucket(bucket)) && (await store.existsObject(bucket, key))) {
      await readBody(ctx.req);
      return sendError(ctx, 'PreconditionFailed', 'At least one of the pre-conditions you specified did not hold', {
        Condition: 'If-None-Match',
      });
    }
  }

  return next();
}

async function main() {
  await fs.ensureDir(dir);
  const server = new S3rver({
    address: '127.0.0.1',
    port: 0,
    silent: !opts.debug,
    directory: dir,
    vhostBuckets: false,
    configureBuckets: buckets.map((name) => ({ name })),
  });
  server.middleware.unshift(shim);
  const addr = await server.run();
  // the parent is gone (a killed test worker): nobody else will clean up
  process.on('disconnect', () => {
    fs.removeSync(dir);
    process.exit(0);
  });
  process.on('SIGTERM', () => process.exit(0));
  if (process.send) process.send({ port: addr.port });
  else console.log(JSON.stringify({ port: addr.port }));
}

main().catch((err) => {
  console.error(err && err.stack ? err.stack : String(err));
  process.exit(1);
});
