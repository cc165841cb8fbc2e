'use strict';
// Plays Zapier's side for tests: reads {"authData": {...}, "steps": [{"method": "creates.rate_session.operation.perform",
// "bundle": {...}}]} as JSON on stdin, runs each step through zapier-platform-core's appTester (the same
// handler, middleware and z.request the platform uses) and prints one JSON result per step.
const path = require('path');
const zapier = require('zapier-platform-core');

const app = require(path.resolve(__dirname, '..', 'index.js'));
const appTester = zapier.createAppTester(app);

const readStdin = () => new Promise((resolve) => {
  let text = '';
  process.stdin.on('data', (chunk) => { text += chunk; });
  process.stdin.on('end', () => resolve(text));
});

(async () => {
  const { authData, steps } = JSON.parse(await readStdin());
  const results = [];
  for (const step of steps) {
    try {
      const target = step.method.split('.').reduce((node, key) => node[key], app);
      const result = await appTester(target, { authData, ...(step.bundle || {}) });
      results.push({ method: step.method, ok: true, result });
    } catch (error) {
      results.push({ method: step.method, ok: false, error: String(error && error.message || error) });
    }
  }
  process.stdout.write(JSON.stringify(results) + '\n');
})();
