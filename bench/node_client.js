// Benchmark client: the official cos-nodejs-sdk-v5 (installed in bench/node/node_modules).
// usage: node bench/node_client.js mode=slice|files port=PORT [file=PATH key=KEY] [dir=DIR n=COUNT]
//                                  [chunk=BYTES par=N fpar=N] [defaults=1]
// Prints one line: "BENCH ok=1 wall=SECONDS cpu=SECONDS bytes=N files=N" or "BENCH ok=0 err=MESSAGE".
// wall and cpu (process.cpuUsage, user+sys) cover only the upload call (not node's start-up nor the
// require of the SDK).
'use strict';
const path = require('path');
const fs = require('fs');

const args = {};
for (const a of process.argv.slice(2)) {
  const i = a.indexOf('=');
  if (i > 0) args[a.slice(0, i)] = a.slice(i + 1);
}
function done(line, code) {
  process.stdout.write('BENCH ' + line + '\n');
  process.exit(code);
}

let COS;
try {
  COS = require(path.join(__dirname, 'node', 'node_modules', 'cos-nodejs-sdk-v5'));
} catch (e) {
  done('ok=0 err=' + JSON.stringify('cannot load cos-nodejs-sdk-v5: ' + e.message), 2);
}

const Bucket = 'examplebucket-1250000000', Region = 'ap-guangzhou';
const defaults = args.defaults === '1';
const opts = {
  SecretId: 'AKIDcosdTESTsecretid0000000000000000',
  SecretKey: 'cosdTESTsecretkey000000000000000',
  Protocol: 'http:',
  Ip: '127.0.0.1:' + args.port,
};
if (!defaults) {
  if (args.chunk) opts.ChunkSize = Number(args.chunk);
  if (args.par) opts.ChunkParallelLimit = Number(args.par);
  if (args.fpar) opts.FileParallelLimit = Number(args.fpar);
}
const cos = new COS(opts);

function errText(err) {
  if (!err) return 'unknown error';
  if (err instanceof Error) return err.message;
  try { return JSON.stringify(err).slice(0, 300); } catch (e) { return String(err); }
}

let t0 = process.hrtime.bigint();
let c0 = process.cpuUsage();
function elapsed() { return Number(process.hrtime.bigint() - t0) / 1e9; }
// CPU seconds (user+sys, all threads) spent since the call started
function cpu() { const c = process.cpuUsage(c0); return ((c.user + c.system) / 1e6).toFixed(6); }

if (args.mode === 'slice') {
  const size = fs.statSync(args.file).size;
  const params = { Bucket, Region, Key: args.key, FilePath: args.file };
  if (!defaults) {
    if (args.chunk) params.ChunkSize = Number(args.chunk);
    if (args.par) params.AsyncLimit = Number(args.par);
  }
  cos.sliceUploadFile(params, (err, data) => {
    const wall = elapsed();
    if (err || !data || data.statusCode !== 200) done('ok=0 err=' + JSON.stringify(errText(err)), 1);
    done(`ok=1 wall=${wall.toFixed(6)} cpu=${cpu()} bytes=${size} files=1 etag=${data.ETag}`, 0);
  });
} else if (args.mode === 'files') {
  const n = Number(args.n);
  const files = [];
  let bytes = 0;
  for (let i = 0; i < n; i++) {
    const name = 'f' + String(i).padStart(5, '0');
    const fp = path.join(args.dir, name);
    bytes += fs.statSync(fp).size;
    files.push({ Bucket, Region, Key: 'small/' + name, FilePath: fp });
  }
  // the stat()s above are outside the timing, as in the Lua client
  t0 = process.hrtime.bigint();
  c0 = process.cpuUsage();
  cos.uploadFiles({ files }, (err, data) => {
    const wall = elapsed();
    if (err) done('ok=0 err=' + JSON.stringify(errText(err)), 1);
    const failed = (data.files || []).filter((f) => f.error);
    if (failed.length || (data.files || []).length !== n) {
      done('ok=0 err=' + JSON.stringify(failed.length + ' of ' + n + ' files failed: ' + errText(failed[0] && failed[0].error)), 1);
    }
    done(`ok=1 wall=${wall.toFixed(6)} cpu=${cpu()} bytes=${bytes} files=${n}`, 0);
  });
} else {
  done('ok=0 err=' + JSON.stringify('unknown mode ' + args.mode), 2);
}
