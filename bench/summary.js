#!/usr/bin/env node
'use strict';
/**
 * The table across traffic profiles, from reports saved with --json: one table per file.
 *
 *   node bench/summary.js FILE.json[=LABEL] ...
 */
const fs = require('fs');
const { markdownAcross, markdownSweep } = require('./lib/report');

const args = process.argv.slice(2);
if (args.length === 0) {
  process.stderr.write('usage: node bench/summary.js FILE.json[=LABEL] ...\n');
  process.exit(2);
}
for (const arg of args) {
  const [file, label = ''] = arg.split('=');
  const summary = JSON.parse(fs.readFileSync(file, 'utf8'));
  if (summary.runs.length > 0) process.stdout.write(`${markdownAcross(summary.runs, label)}\n\n`);
  for (const s of summary.sweeps) process.stdout.write(`${markdownSweep(s)}\n\n`);
}
