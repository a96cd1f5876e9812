#!/usr/bin/env node
'use strict';
/**
 * What a heap grew by between two V8 heap snapshots, by kind of object: self size and count per
 * (node type, constructor or string name), largest first, and per call when --calls is given.
 *
 *   node bench/heap-summary.js BEFORE.heapsnapshot AFTER.heapsnapshot [--calls N] [--top N]
 *
 * The bench keeps its snapshots with --keep-heap-snapshots DIR: the first of a phase is taken
 * idle, the second with every call up.
 */
const fs = require('fs');

function summarise(file) {
  const snap = JSON.parse(fs.readFileSync(file, 'utf8'));
  const fields = snap.snapshot.meta.node_fields;
  const types = snap.snapshot.meta.node_types[0];
  const width = fields.length;
  const iType = fields.indexOf('type');
  const iName = fields.indexOf('name');
  const iSize = fields.indexOf('self_size');
  const byKind = new Map();
  const nodes = snap.nodes;
  for (let i = 0; i < nodes.length; i += width) {
    const type = types[nodes[i + iType]];
    // Strings and code are grouped by type alone: their names are their contents.
    const name = type === 'object' || type === 'native' || type === 'closure' ? snap.strings[nodes[i + iName]] : '';
    const key = `${type}:${name}`;
    const entry = byKind.get(key) ?? { size: 0, count: 0 };
    entry.size += nodes[i + iSize];
    entry.count++;
    byKind.set(key, entry);
  }
  return byKind;
}

function main(argv) {
  const files = argv.filter((a, i) => !a.startsWith('--') && !argv[i - 1]?.startsWith('--'));
  const flag = (name, dflt) => {
    const i = argv.indexOf(name);
    return i >= 0 ? Number(argv[i + 1]) : dflt;
  };
  if (files.length !== 2) {
    process.stderr.write('usage: node bench/heap-summary.js BEFORE.heapsnapshot AFTER.heapsnapshot [--calls N] [--top N]\n');
    process.exit(2);
  }
  const calls = flag('--calls', 1);
  const top = flag('--top', 30);
  const [before, after] = files.map(summarise);
  const rows = [];
  let total = 0;
  for (const [key, a] of after) {
    const b = before.get(key) ?? { size: 0, count: 0 };
    const size = a.size - b.size;
    total += size;
    rows.push({ key, size, count: a.count - b.count });
  }
  rows.sort((x, y) => y.size - x.size);
  const per = (n) => (n / calls).toFixed(calls > 1 ? 1 : 0);
  process.stdout.write(`heap grew ${(total / 1024).toFixed(0)} KB${calls > 1 ? `, ${(total / 1024 / calls).toFixed(1)} KB per call` : ''}\n`);
  process.stdout.write(`${'bytes/call'.padStart(12)} ${'count/call'.padStart(11)}  kind\n`);
  for (const r of rows.slice(0, top)) process.stdout.write(`${per(r.size).padStart(12)} ${per(r.count).padStart(11)}  ${r.key}\n`);
}

main(process.argv.slice(2));
