// Subresource Integrity of the served client (deploy/client-hashes.sh,
// SECURITY.md): every page lotsed serves names each script, module and the
// trust root with an integrity hash that matches the file lotsed serves; every
// module a page can reach is named there (so none loads unchecked); the served
// trust root pins the organisation key this run published.
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { test } from 'node:test';

const URL = process.env.LOTSE_URL;
const PAGES = ['/', '/counsellor/', '/supervisor/'];

async function get(path) {
    const r = await fetch(URL + path);
    assert.equal(r.status, 200, path);
    return new Uint8Array(await r.arrayBuffer());
}

const sri = (bytes) => `sha384-${createHash('sha384').update(bytes).digest('base64')}`;
const text = (bytes) => new TextDecoder().decode(bytes);

/** [{tag, path, integrity}] of every <script> and <link> with src/href in html. */
function references(html) {
    const out = [];
    for (const m of html.matchAll(/<(script|link)\b[^>]*>/g)) {
        const path = (m[0].match(/\b(?:src|href)="([^"]+)"/) || [])[1];
        if (!path) continue;
        const rel = (m[0].match(/\brel="([^"]+)"/) || [])[1] || '';
        const integrity = (m[0].match(/\bintegrity="([^"]*)"/) || [])[1] || null;
        out.push({ tag: m[1], rel, path, integrity });
    }
    return out;
}

for (const page of PAGES) {
    test(`${page}: every script, module and the trust root carry an integrity that matches the served file`, async () => {
        const html = text(await get(page));
        const refs = references(html);
        assert.ok(!/<script\b(?![^>]*\bsrc=)[^>]*>\s*\S/.test(html), 'no inline script');
        const checked = refs.filter((r) => r.tag === 'script' || ['modulepreload', 'preload'].includes(r.rel));
        assert.ok(checked.length >= 3, 'the page loads scripts');
        for (const r of checked) {
            assert.ok(r.integrity, `${r.path} has an integrity attribute`);
            assert.equal(r.integrity, sri(await get(r.path)), `${page}: integrity of ${r.path}`);
        }
        // every module reachable from the page's module script is named with integrity
        const named = new Set(checked.map((r) => r.path));
        const todo = refs.filter((r) => r.tag === 'script' && /\.js$/.test(r.path) && r.path.startsWith('/js/')).map((r) => r.path);
        const seen = new Set();
        while (todo.length) {
            const path = todo.pop();
            if (seen.has(path)) continue;
            seen.add(path);
            assert.ok(named.has(path), `${page}: module ${path} is loaded without an integrity hash`);
            const src = text(await get(path));
            assert.ok(!/\bnew (?:Shared)?Worker\b|\bimportScripts\b/.test(src), `${path} starts no worker`);
            assert.ok(!/\bimport\s*\(/.test(src), `${path} imports nothing dynamically`);
            for (const m of src.matchAll(/\bfrom\s+'(\.\/[^']+)'/g)) todo.push(new globalThis.URL(m[1], `http://x${path}`).pathname);
        }
    });
}

test('the served trust root pins the organisation key this client was published with', async () => {
    const root = JSON.parse(text(await get('/trust-root.json')));
    assert.equal(root.format, 'lotse-trust-root-v1');
    assert.deepEqual(root.roots.map((r) => [r.kind, r.key]), [['org', process.env.LOTSE_ORG_PUB]]);
});
