// Loads the vendored web/vendor/libsodium*.js (the exact files the browser
// runs) in Node and sets globalThis.sodium, so web/js/*.js work unchanged.
import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import vm from 'node:vm';

export const WEB = join(dirname(fileURLToPath(import.meta.url)), '..', '..', 'web');

function loadCommonJs(file, requireFn) {
    const module = { exports: {} };
    const wrapped = vm.runInThisContext(
        `(function (exports, require, module, __filename, __dirname) {${readFileSync(file, 'utf8')}\n})`,
        { filename: file });
    wrapped(module.exports, requireFn, module, file, dirname(file));
    return module.exports;
}

export async function loadSodium() {
    const req = createRequire(import.meta.url);
    const libsodium = loadCommonJs(join(WEB, 'vendor', 'libsodium.js'), req);
    const sodium = loadCommonJs(join(WEB, 'vendor', 'libsodium-wrappers.js'),
        (name) => (name === 'libsodium' ? libsodium : req(name)));
    await sodium.ready;
    globalThis.sodium = sodium;
    return sodium;
}
