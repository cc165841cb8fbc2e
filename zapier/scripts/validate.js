'use strict';
// Offline validation of the app definition, as `zapier validate` does locally: compile the app with
// zapier-platform-core, replace functions by their markers, validate with zapier-platform-schema.
// Prints {"errors": [...], ...} as JSON and exits 1 when there is any error.
const path = require('path');
const zapierSchema = require('zapier-platform-schema');
const schemaTools = require('zapier-platform-core/src/tools/schema');
const cleaner = require('zapier-platform-core/src/tools/cleaner');

// An optional argument names another module to validate (the tests use it to prove errors are caught).
const app = require(path.resolve(process.argv[2] || path.join(__dirname, '..', 'index.js')));
const compiled = schemaTools.compileApp(app);
const cleaned = JSON.parse(JSON.stringify(cleaner.recurseCleanFuncs(compiled)));
const results = zapierSchema.validateAppDefinition(cleaned);
const errors = (results.errors || []).map((e) => `${e.property}: ${e.message}`);
process.stdout.write(JSON.stringify({
  errors,
  triggers: Object.keys(app.triggers),
  creates: Object.keys(app.creates),
  searches: Object.keys(app.searches),
  labels: Object.fromEntries(['triggers', 'creates', 'searches'].flatMap((kind) =>
    Object.values(app[kind]).map((item) => [`${kind}.${item.key}`, item.display.label]))),
}) + '\n');
process.exit(errors.length ? 1 : 0);
