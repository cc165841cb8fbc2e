// Cross-face driver: the same rows through the Google Sheets functions (sheets/src/Code.gs via S1's
// harness) and the Excel custom functions (excel_addin/src/functions.js via its harness), both against
// the API on 127.0.0.1. argv[2]: JSON {apiUrl, apiKey, zone, tariffId, rows}. stdout: JSON per face
// {cost: [...], tax: [...], requests: n}; numbers are what the cells show (JSON numbers).
'use strict';

const fs = require('node:fs');
const path = require('node:path');

const ROOT = path.resolve(__dirname, '..', '..');
const {loadCode} = require(path.join(ROOT, 'sheets', 'test', 'harness.js'));
const {loadFunctions} = require(path.join(ROOT, 'excel_addin', 'test', 'harness.js'));

const input = JSON.parse(fs.readFileSync(process.argv[2], 'utf8'));
const column = (i) => input.rows.map((r) => [r[i] === undefined || r[i] === null ? '' : r[i]]);
const args = [0, 1, 2, 3, 4].map(column);
const flat = (matrix) => matrix.map((row) => row[0]);

async function main() {
  const sheets = loadCode({apiUrl: input.apiUrl, apiKey: input.apiKey, spreadsheetTimeZone: input.zone});
  const sheetsCost = flat(sheets.call('EVCHARGE_COST', ...args));
  const sheetsTax = flat(sheets.call('EVCHARGE_TAX', ...args));
  const excel = loadFunctions({storage: {EVBILL_API_URL: input.apiUrl, EVBILL_API_KEY: input.apiKey,
    EVBILL_TIME_ZONE: input.zone}});
  const [excelCost, excelTax] = await Promise.all([excel.call('COST', ...args), excel.call('TAX', ...args)]);
  process.stdout.write(JSON.stringify({
    sheets: {cost: sheetsCost, tax: sheetsTax, requests: sheets.requests.length},
    excel: {cost: flat(excelCost), tax: flat(excelTax), requests: excel.requests.length},
  }));
}

main().catch((error) => { process.stderr.write(String(error && error.stack ? error.stack : error)); process.exit(1); });
