// Child process for the UrlFetchApp stand-in: Apps Script's fetch is synchronous, Node's is not, so the
// harness runs this script with execFileSync. stdin: JSON array of {url, method, headers, payload};
// stdout: JSON array of {code, body, headers}. Requests run concurrently (like UrlFetchApp.fetchAll).
// node:http rather than fetch(): it loads in a fraction of the time, and this runs once per request.
'use strict';

const http = require('node:http');

function one(req) {
  return new Promise((resolve, reject) => {
    const body = req.payload === undefined || req.payload === null ? null : Buffer.from(String(req.payload), 'utf8');
    const headers = Object.assign({}, req.headers || {}, body ? {'Content-Length': body.length} : {});
    const request = http.request(req.url, {method: (req.method || 'get').toUpperCase(), headers, timeout: 60000}, (res) => {
      const chunks = [];
      res.on('data', (c) => chunks.push(c));
      res.on('end', () => resolve({code: res.statusCode, body: Buffer.concat(chunks).toString('utf8'), headers: res.headers}));
    });
    request.on('timeout', () => request.destroy(new Error('timed out after 60 s')));
    request.on('error', reject);
    if (body) request.write(body);
    request.end();
  });
}

let input = '';
process.stdin.setEncoding('utf8');
process.stdin.on('data', (chunk) => { input += chunk; });
process.stdin.on('end', () => {
  Promise.all(JSON.parse(input).map(one))
    .then((results) => process.stdout.write(JSON.stringify(results)))
    .catch((error) => process.stdout.write(JSON.stringify({error: String(error && error.message ? error.message : error)})));
});
