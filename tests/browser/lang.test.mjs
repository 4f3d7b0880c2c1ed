// The young person's page in seven languages (issue 15): one file per language
// under web/js/lang/. Fails when a key of any language file is missing in
// another, when a text is empty, when the {placeholders} of a key differ
// between languages, when the page's static HTML (web/index.html's data-i18n,
// -label, -placeholder, -title) or a young person's module names a key that is
// not there, or when a helpline number of the German text is not in the
// translation as the same digits. Needs no browser (also CTest web.lang).
import assert from 'node:assert/strict';
import { readFileSync, readdirSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { test } from 'node:test';

const WEB = join(dirname(fileURLToPath(import.meta.url)), '..', '..', 'web');
const LANGS = ['de', 'en', 'ls', 'tr', 'ar', 'ru', 'uk'];
const texts = {};
for (const l of LANGS) texts[l] = (await import(join(WEB, 'js', 'lang', `${l}.js`))).default;

const placeholders = (s) => [...s.matchAll(/\{(\w+)\}/g)].map((m) => m[1]).sort().join(',');

test('there is one file per language, and only those', () => {
    const files = readdirSync(join(WEB, 'js', 'lang')).filter((f) => f.endsWith('.js')).sort();
    assert.deepEqual(files, LANGS.map((l) => `${l}.js`).sort());
});

test('every key of every language file is in every other, with the same placeholders', () => {
    const problems = [];
    for (const a of LANGS) {
        for (const [key, text] of Object.entries(texts[a])) {
            if (typeof text !== 'string' || !text.trim()) problems.push(`${a}: ${key} is empty`);
            for (const b of LANGS) {
                if (a === b) continue;
                if (!(key in texts[b])) problems.push(`${b}: ${key} is missing (it is in ${a})`);
                else if (placeholders(text) !== placeholders(texts[b][key])) {
                    problems.push(`${b}: ${key} has {${placeholders(texts[b][key])}}, ${a} has {${placeholders(text)}}`);
                }
            }
        }
    }
    assert.deepEqual([...new Set(problems)], []);
});

test('every key the page\'s static HTML names is in the language files', () => {
    const html = readFileSync(join(WEB, 'index.html'), 'utf8');
    const keys = [...html.matchAll(/data-i18n(?:-label|-placeholder|-title)?="([^"]+)"/g)].map((m) => m[1]);
    assert.ok(keys.length > 100, `only ${keys.length} keys in index.html`);
    const missing = [...new Set(keys)].filter((k) => !(k in texts.de));
    assert.deepEqual(missing, []);
});

test('every literal key the young person\'s modules show is in the language files', () => {
    const modules = ['young.js', 'young-mail.js', 'young-ending.js', 'young-route.js', 'chat.js', 'hours.js'];
    const missing = [];
    for (const m of modules) {
        const src = readFileSync(join(WEB, 'js', m), 'utf8');
        // setText(el, 'key' …), t('key' …), banner(id, 'key'), chatNotice('key'), systemLine('key' …), note(id, 'key')
        const re = /\b(?:setText\([^,]+,|t\(|banner\([^,]+,|chatNotice\(|systemLine\(|note\([^,]+,|finish\(|endKept\()\s*'([a-z][\w.-]*)'/g;
        for (const [, key] of src.matchAll(re)) {
            if (!(key in texts.de)) missing.push(`${m}: ${key}`);
        }
    }
    assert.deepEqual(missing, []);
});

test('helpline numbers stay numbers: 116 111 and 112 wherever the German text has them', () => {
    const problems = [];
    const digits = (s) => s.replace(/[\u2066-\u2069]/g, '').replace(/\u00a0/g, ' ');
    for (const [key, de] of Object.entries(texts.de)) {
        for (const number of ['116 111', '112']) {
            if (!de.includes(number)) continue;
            for (const l of LANGS) {
                if (!digits(texts[l][key] || '').includes(number)) problems.push(`${l}: ${key} lacks ${number}`);
            }
        }
    }
    assert.deepEqual(problems, []);
});

test('Arabic isolates phone numbers and times left to right', () => {
    for (const [key, text] of Object.entries(texts.ar)) {
        if (/116\s111/.test(text)) assert.ok(text.includes('\u2066116\u00a0111\u2069'), `ar: ${key}`);
    }
    assert.ok(texts.ar['hours.span'].startsWith('\u2066') && texts.ar['hours.span'].endsWith('\u2069'));
});
