'use strict';
// Offline validation of the app definition, as `zapier validate` does locally: compile the app with
// zapier-platform-core, replace functions by their markers, validate with zapier-platform-schema; then a few
// checks of what a reviewer looks at (samples, labels, sentences, dropdowns that exist).
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
// What the schema does not say but a reviewer would: a sample and labelled output fields on every visible
// trigger, action and search, a REST hook that can also list samples, descriptions written as sentences.
for (const kind of ['triggers', 'creates', 'searches']) {
  for (const item of Object.values(app[kind] || {})) {
    const where = `${kind}.${item.key}`;
    const op = item.operation || {};
    if (!op.sample || !Object.keys(op.sample).length) errors.push(`${where}: no sample`);
    if (item.display && item.display.hidden) continue;
    if (!/^[A-Z].*\.$/.test(item.display.description || '')) errors.push(`${where}: description is not a sentence`);
    if (!(op.outputFields || []).length || op.outputFields.some((f) => !f.label)) {
      errors.push(`${where}: output fields without labels`);
    }
    if (op.type === 'hook' && typeof op.performList !== 'function') errors.push(`${where}: REST hook without performList`);
    for (const field of op.inputFields || []) {
      if (!field.label) errors.push(`${where}: input ${field.key} has no label`);
      if (field.dynamic && !app.triggers[field.dynamic.split('.')[0]]) {
        errors.push(`${where}: input ${field.key} names a missing dropdown ${field.dynamic}`);
      }
    }
  }
}
process.stdout.write(JSON.stringify({
  errors,
  triggers: Object.keys(app.triggers),
  creates: Object.keys(app.creates),
  searches: Object.keys(app.searches),
  labels: Object.fromEntries(['triggers', 'creates', 'searches'].flatMap((kind) =>
    Object.values(app[kind]).map((item) => [`${kind}.${item.key}`, item.display.label]))),
}) + '\n');
process.exit(errors.length ? 1 : 0);
