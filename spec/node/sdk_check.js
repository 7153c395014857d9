// Drives cosd with the official cos-nodejs-sdk-v5 (virtual-hosted Host via the Ip option).
// usage: node sdk_check.js PORT WORKDIR  -- exits non-zero on any failure; prints "OK <step>" lines.
'use strict';
const path = require('path');
const fs = require('fs');
const COS = require(path.join(__dirname, 'node_modules', 'cos-nodejs-sdk-v5'));
const [port, work] = process.argv.slice(2);
const Bucket = 'examplebucket-1250000000', Region = 'ap-guangzhou';
const cos = new COS({ SecretId: 'AKIDcosdTESTsecretid0000000000000000', SecretKey: 'cosdTESTsecretkey000000000000000',
  Protocol: 'http:', Ip: '127.0.0.1:' + port, ChunkParallelLimit: 4 });
const p = (fn, params) => new Promise((res, rej) => cos[fn](Object.assign({ Bucket, Region }, params), (e, d) => e ? rej(Object.assign(new Error(fn + ': ' + JSON.stringify(e)), { e })) : res(d)));
const ok = (m) => console.log('OK ' + m);
function check(c, m) { if (!c) throw new Error('check failed: ' + m); }

// A raw GET of target on cosd with the virtual-hosted Host: resolves to {status, body}.
const http = require('http');
const rawGet = (target) => new Promise((res, rej) => http.get({ host: '127.0.0.1', port, path: target,
  headers: { Host: Bucket + '.cos.' + Region + '.myqcloud.com' } }, (r) => {
  const chunks = [];
  r.on('data', (c) => chunks.push(c));
  r.on('end', () => res({ status: r.statusCode, body: Buffer.concat(chunks).toString() }));
}).on('error', rej));

// What the SDK's own tests expect of COS (issue: cosd fidelity).
async function fidelity() {
  // Content-Type from the key's extension when none is given
  await p('putObject', { Key: 'sdk/2.zip', Body: Buffer.from('zip') });
  check((await p('headObject', { Key: 'sdk/2.zip' })).headers['content-type'] === 'application/zip', 'put 2.zip type');
  const init = await p('multipartInit', { Key: 'sdk/1.txt' });
  const u1 = await p('multipartUpload', { Key: 'sdk/1.txt', UploadId: init.UploadId, PartNumber: 1, Body: 'one' });
  const parts = [{ PartNumber: 1, ETag: u1.ETag }];
  await p('multipartComplete', { Key: 'sdk/1.txt', UploadId: init.UploadId, Parts: parts });
  check((await p('headObject', { Key: 'sdk/1.txt' })).headers['content-type'] === 'text/plain', 'multipart 1.txt type');
  // a second Complete: the UploadId no longer exists
  let again = null;
  try { await p('multipartComplete', { Key: 'sdk/1.txt', UploadId: init.UploadId, Parts: parts }); } catch (e) { again = e.e; }
  check(again && again.statusCode === 404 && again.code === 'NoSuchUpload', 'second complete ' + JSON.stringify(again));
  // the signature as q-* parameters (getObjectUrl) and as one sign= parameter
  const url = await new Promise((res, rej) => cos.getObjectUrl({ Bucket, Region, Key: 'sdk/2.zip', Sign: true },
    (e, d) => e ? rej(e) : res(d.Url)));
  const q = url.slice(url.indexOf('/sdk/2.zip'));
  let r = await rawGet(q);
  check(r.status === 200 && r.body === 'zip', 'q-* url ' + r.status);
  const auth = cos.getAuth({ Method: 'get', Key: 'sdk/2.zip', Bucket, Region });
  r = await rawGet('/sdk/2.zip?sign=' + encodeURIComponent(auth));
  check(r.status === 200 && r.body === 'zip', 'sign= url ' + r.status + ' ' + r.body);
  // the region is part of the address
  let wrong = null;
  try { await p('getObject', { Key: 'sdk/2.zip', Region: 'ap-beijing' }); } catch (e) { wrong = e.e; }
  check(wrong && wrong.statusCode === 404 && wrong.code === 'NoSuchBucket', 'wrong region ' + JSON.stringify(wrong));
  // a key of slashes only, with the SDK's own key check off, reads the bucket (as the SDK's tests expect)
  const raw = new COS({ SecretId: cos.options.SecretId, SecretKey: cos.options.SecretKey, Protocol: 'http:',
    Ip: '127.0.0.1:' + port, ObjectKeySimplifyCheck: false });
  const listing = await new Promise((res, rej) => raw.getObject({ Bucket, Region, Key: '///////' }, (e, d) => e ? rej(e) : res(d)));
  check(listing.Body.toString().includes('ListBucketResult'), 'slashes-only key lists the bucket');
  // x-cos-traffic-limit is applied: 100 KiB at 100 KiB/s cannot take less than about a second
  const t0 = Date.now();
  await p('putObject', { Key: 'sdk/slow.bin', Body: Buffer.alloc(100 * 1024, 7), TrafficLimit: 819200 });
  check(Date.now() - t0 >= 900, 'traffic limit applied: ' + (Date.now() - t0) + ' ms');
}

(async () => {
  const put = await p('putObject', { Key: 'sdk/put.txt', Body: Buffer.from('hello from node'), ContentType: 'text/plain',
    StorageClass: 'STANDARD_IA', Headers: { 'x-cos-meta-author': 'alice' } });
  check(put.statusCode === 200 && put.ETag === '"' + require('crypto').createHash('md5').update('hello from node').digest('hex') + '"', 'put etag');
  ok('putObject');
  const head = await p('headObject', { Key: 'sdk/put.txt' });
  check(head.headers['x-cos-meta-author'] === 'alice' && head.headers['content-type'] === 'text/plain', 'head headers');
  ok('headObject');
  const get = await p('getObject', { Key: 'sdk/put.txt' });
  check(get.Body.toString() === 'hello from node', 'get body');
  ok('getObject');
  const a1 = await p('appendObject', { Key: 'sdk/append.txt', Position: 0, Body: 'abc' });
  check(a1.headers['x-cos-next-append-position'] === '3', 'append 1');
  const a2 = await p('appendObject', { Key: 'sdk/append.txt', Position: 3, Body: 'def' });
  check(a2.headers['x-cos-next-append-position'] === '6', 'append 2');
  let bad = null;
  try { await p('appendObject', { Key: 'sdk/append.txt', Position: 1, Body: 'x' }); } catch (e) { bad = e.e; }
  check(bad && bad.statusCode === 409, 'append position error');
  ok('appendObject');
  // multipart family by hand
  const init = await p('multipartInit', { Key: 'sdk/mp.bin', ContentType: 'application/x-mp' });
  const UploadId = init.UploadId;
  check(/^\d{10}[0-9a-f]{64}$/.test(UploadId), 'upload id');
  const part1 = Buffer.alloc(1024 * 1024, 1), part2 = Buffer.from('tail');
  const u1 = await p('multipartUpload', { Key: 'sdk/mp.bin', UploadId, PartNumber: 1, Body: part1 });
  const u2 = await p('multipartUpload', { Key: 'sdk/mp.bin', UploadId, PartNumber: 2, Body: part2 });
  const lp = await p('multipartListPart', { Key: 'sdk/mp.bin', UploadId });
  check(lp.Part.length === 2 && lp.Part[0].ETag === u1.ETag, 'list parts');
  const ml = await p('multipartList', { Prefix: 'sdk/' });
  check(ml.Upload.some(u => u.UploadId === UploadId), 'multipart list');
  const done = await p('multipartComplete', { Key: 'sdk/mp.bin', UploadId, Parts: [{ PartNumber: 1, ETag: u1.ETag }, { PartNumber: 2, ETag: u2.ETag }] });
  check(/-2"$/.test(done.ETag), 'complete etag ' + done.ETag);
  fs.writeFileSync(path.join(work, 'mp.expected'), Buffer.concat([part1, part2]));
  ok('multipart');
  const init2 = await p('multipartInit', { Key: 'sdk/abort.bin' });
  await p('multipartAbort', { Key: 'sdk/abort.bin', UploadId: init2.UploadId });
  ok('multipartAbort');
  // sliceUploadFile of a 20 MiB file
  const big = path.join(work, 'big.bin');
  const slice = await p('sliceUploadFile', { Key: 'sdk/big.bin', FilePath: big, ChunkSize: 2 * 1024 * 1024 });
  check(slice.statusCode === 200 && /-10"$/.test(slice.ETag), 'slice etag ' + slice.ETag);
  ok('sliceUploadFile');
  const up = await new Promise((res, rej) => cos.uploadFiles({
    files: [
      { Bucket, Region, Key: 'sdk/files/small.txt', FilePath: path.join(work, 'small.txt') },
      { Bucket, Region, Key: 'sdk/files/medium.bin', FilePath: path.join(work, 'medium.bin') },
    ], SliceSize: 1024 * 1024,
  }, (e, d) => e ? rej(e) : res(d)));
  check(up.files.every(f => !f.error), 'uploadFiles ' + JSON.stringify(up.files.map(f => f.error)));
  ok('uploadFiles');
  await p('deleteObject', { Key: 'sdk/put.txt' });
  ok('deleteObject');
  await fidelity();
  ok('fidelity');
})().catch((e) => { console.error('FAIL ' + (e && e.stack || e)); process.exit(1); });
