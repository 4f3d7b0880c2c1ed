// Subresource Integrity of the served client (deploy/client-hashes.sh,
// SECURITY.md): every page lotsed serves names each script, the stylesheet and
// the trust root with an integrity attribute, and every module in its import
// map's "integrity" section, each matching the file lotsed serves; every module
// a page can reach is named there (so none loads unchecked); the only inline
// script is the import map, whose SHA-256 is in lotsed's Content-Security-Policy;
// the served trust root pins the organisation key this run published.
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { test } from 'node:test';

const URL = process.env.LOTSE_URL;
const PAGES = ['/', '/counsellor/', '/supervisor/'];

const headers = {};

async function get(path) {
    const r = await fetch(URL + path);
    assert.equal(r.status, 200, path);
    headers[path] = r.headers;
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

/** The text between <script type="importmap"> and </script>, or null. */
function importMap(html) {
    const m = html.match(/<script type="importmap">([\s\S]*?)<\/script>/);
    return m ? m[1] : null;
}

for (const page of PAGES) {
    test(`${page}: every script, module and the trust root carry an integrity that matches the served file`, async () => {
        const html = text(await get(page));
        const refs = references(html);
        const inline = [...html.matchAll(/<script\b([^>]*)>([\s\S]*?)<\/script>/g)]
            .filter((m) => !/\bsrc=/.test(m[1]));
        assert.deepEqual(inline.map((m) => m[1].trim()), ['type="importmap"'], 'the only inline script is the import map');
        const map = importMap(html);
        const mapHash = `'sha256-${createHash('sha256').update(map).digest('base64')}'`;
        const csp = headers[page].get('content-security-policy');
        assert.ok(csp.includes(`script-src 'self' 'wasm-unsafe-eval' `) && csp.includes(mapHash),
            `the Content-Security-Policy allows this import map: ${csp}`);
        const checked = refs.filter((r) => r.tag === 'script' || ['stylesheet', 'preload'].includes(r.rel));
        for (const [path, integrity] of Object.entries(JSON.parse(map).integrity)) {
            checked.push({ tag: 'importmap', path, integrity });
        }
        assert.ok(checked.length >= 5, 'the page loads scripts');
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

// The footer's static pages (web/pages/): one script, /js/page-exit.js (quick
// exit and history), no inline script or handler, and the stylesheet and the
// script named with an integrity that matches the served file.
for (const page of ['/pages/impressum.html', '/pages/datenschutz.html', '/pages/wer-wir-sind.html', '/pages/regeln.html']) {
    test(`${page}: only page-exit.js, and the stylesheet and it carry an integrity that matches the served file`, async () => {
        const html = text(await get(page));
        const scripts = references(html).filter((r) => r.tag === 'script');
        assert.deepEqual(scripts.map((r) => r.path), ['/js/page-exit.js'], `${page}: its one script`);
        assert.equal([...html.matchAll(/<script\b/gi)].length, 1, `${page} has no inline script`);
        assert.ok(!/\son[a-z]+\s*=/i.test(html), `${page} has no inline event handler`);
        assert.ok(headers[page].get('content-security-policy').startsWith("default-src 'self'"), 'served under the CSP');
        const css = references(html).filter((r) => r.rel === 'stylesheet');
        assert.equal(css.length, 1);
        for (const r of [...css, ...scripts]) {
            assert.equal(r.integrity, sri(await get(r.path)), `${page}: integrity of ${r.path}`);
        }
    });
}
