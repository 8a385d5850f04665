// SPDX-License-Identifier: MIT
// speedscope-import: runs speedscope's own importer (from its published
// browser bundle in node_modules/speedscope) under node and prints what it
// loaded: {"profiles":[[name, totalWeight]...], "total": N}.
//
// The bundle is browser-only: it renders its UI into `document` when it
// loads. We evaluate it in a vm context whose window/document are inert
// stand-ins, after exposing the bundle's lazily-initialised importer module
// (the promise it awaits before importProfileGroupFromText) through a global.
// Nothing of speedscope's parsing is replaced: the file goes through the same
// importProfileGroupFromText the app calls for a dropped file.
import fs from 'node:fs';
import path from 'node:path';
import vm from 'node:vm';

const [bundleDir, file] = process.argv.slice(2);
const bundleName = fs.readdirSync(bundleDir).find(f => /^speedscope-.*\.js$/.test(f));
if (!bundleName) throw new Error(`no speedscope-*.js bundle in ${bundleDir}`);
const src = fs.readFileSync(path.join(bundleDir, bundleName), 'utf8');
const m = src.match(/\(await (\w+)\)\.importProfileGroupFromText\(/);
const start = '"use strict";(()=>{';
if (!m || !src.startsWith(start)) throw new Error('unexpected speedscope bundle layout');
const patched = start + `globalThis.__btsImporter=()=>${m[1]};` + src.slice(start.length);

const inert = new Proxy(function () {}, {
  get: (t, k) => (k === Symbol.toPrimitive ? () => 0 : k === 'then' ? undefined : inert),
  apply: () => inert,
  construct: () => inert,
});
const quiet = { log() {}, warn() {}, error() {}, info() {}, time() {}, timeEnd() {}, assert() {} };
const ctx = {
  console: quiet, setTimeout, clearTimeout, Promise, TextDecoder, TextEncoder, Uint8Array,
  ArrayBuffer, DataView, atob, btoa, URL, URLSearchParams, Map, Set, WeakMap, Math, JSON, Date,
  Error,
};
ctx.window = new Proxy(ctx, { get: (t, k) => (k in t ? t[k] : inert) });
ctx.self = ctx.window;
ctx.document = inert;
ctx.navigator = { userAgent: 'node', platform: 'node' };
ctx.location = { href: 'file:///', hash: '', search: '', protocol: 'file:' };
ctx.localStorage = { getItem: () => null, setItem() {} };
ctx.globalThis = ctx;
vm.createContext(ctx);
try {
  vm.runInContext(patched, ctx);
} catch (e) {
  // The UI cannot mount without a DOM; the importer is already defined.
}
if (typeof ctx.__btsImporter !== 'function') throw new Error('importer hook not installed');
const importer = await ctx.__btsImporter();
let group;
try {
  group = await importer.importProfileGroupFromText(path.basename(file),
                                                    fs.readFileSync(file, 'utf8'));
} catch (e) {
  // The bundle is one long line: print the message, not the source excerpt.
  console.error(`speedscope rejected the file: ${e && e.message ? e.message : e}`);
  process.exit(1);
}
if (!group) {
  console.error('speedscope did not recognise the file');
  process.exit(1);
}
const profiles = group.profiles.map(p => [p.getName(), p.getTotalWeight()]);
console.log(JSON.stringify({ name: group.name, profiles,
                             total: profiles.reduce((a, p) => a + p[1], 0) }));
